"""A trial (draw, train, test) with hyper-parameters from the sweep and a
curriculum of growing spans."""

import dataclasses

import jax
import numpy as np
import pytest

from vanishing.engine import sweep
from vanishing.experiments import compare
from vanishing.experiments.trial import Trial, stage_span

ST = dataclasses.replace(compare.TESTING, trials=dataclasses.replace(
    compare.TESTING.trials, budget=150, patience=60))


@pytest.mark.parametrize("T,K,shortest,want", [
    (16, 4, 1, [4, 8, 12, 16]),
    (16, 4, 3, [6, 8, 12, 16]),   # 2-sequence: stages no shorter than 2N
    (9, 2, 1, [5, 9]),
    (6, 1, 1, [6]),
    (5, 3, 3, [5, 5, 5]),          # never past T
])
def test_stage_spans_grow_to_T(T, K, shortest, want):
  got = [int(stage_span(T, k, K, shortest)) for k in range(K)]
  assert got == want


def _records(trial, axes, trials=8, key=0):
  return sweep.run(trial.steps(), axes, trials, jax.random.key(key),
                   block=4).records


def test_one_stage_is_training_without_curriculum_bit_for_bit():
  problem = ST.problem("latch")
  plain = _records(Trial(problem, "bptt", ST.trials.stopping()),
                   {"T": np.asarray([8.0])})
  one = _records(Trial(problem, "bptt", ST.trials.stopping(), curriculum=True),
                 {"T": np.asarray([8.0]), "stages": np.asarray([1.0])})
  for k in plain:
    np.testing.assert_array_equal(plain[k], one[k], err_msg=k)
  assert np.all(one["stage"] == 0)


def test_every_trial_reaches_the_last_stage_and_only_it_counts():
  problem = dataclasses.replace(ST.problem("latch"), T=16)
  K = 3
  rec = _records(Trial(problem, "bptt", ST.trials.stopping(), curriculum=True),
                 {"T": np.asarray([16.0]), "stages": np.asarray([float(K)])},
                 trials=12)
  stage, solved = rec["stage"], rec["solved"].astype(bool)
  # A stage ends solved, stuck or at its share of the budget (150 // 3), so
  # every trial that did not diverge trains on the full span at the end.
  ok = ~rec["diverged"].astype(bool)
  assert ok.sum() >= 10
  assert np.all(stage[ok] == K - 1)
  assert np.all(rec["evaluations"] <= ST.trials.budget)
  assert solved.any() and not solved.all()


def test_hyper_parameters_read_from_the_sweep():
  problem = ST.problem("latch")
  trial = Trial(problem, "bptt", ST.trials.stopping(), swept_hp=("lr",))
  rec = _records(trial, {"T": np.asarray([8.0]),
                         "lr": np.asarray([0.05, 2.0])}, trials=4)
  slow, fast = rec["cost"][:4], rec["cost"][4:]
  assert not np.array_equal(slow, fast)
  # The swept value reaches the method: the same lr given as a constant
  # gives the same outcomes.
  const = _records(Trial(problem, "bptt", ST.trials.stopping(), hp=(("lr", 2.0),)),
                   {"T": np.asarray([8.0])}, trials=4)
  rec2 = _records(trial, {"T": np.asarray([8.0]), "lr": np.asarray([2.0])},
                  trials=4)
  np.testing.assert_array_equal(const["evaluations"], rec2["evaluations"])
  np.testing.assert_allclose(const["cost"], rec2["cost"], rtol=1e-4)


def _inputs(batch):
  return np.asarray(batch.inputs)


def test_fresh_sets_are_redrawn_before_every_evaluation_from_the_seed():
  problem = ST.problem("latch")
  trial = Trial(problem, "bptt", ST.trials.stopping(), fresh=True)
  key = jax.random.key(3)
  c0 = trial.begin(key, {"T": 8.0})
  c1 = trial.step(c0)
  c2 = trial.step(c1)
  assert int(c2["loop"][1].evaluations) == 2
  want = [problem.data(jax.random.fold_in(jax.random.fold_in(key, 3), e),
                       problem.n_per_class, 8) for e in (0, 1)]
  np.testing.assert_array_equal(_inputs(c0["train"]), _inputs(want[0]))
  np.testing.assert_array_equal(_inputs(c1["train"]), _inputs(want[0]))
  np.testing.assert_array_equal(_inputs(c2["train"]), _inputs(want[1]))
  assert not np.array_equal(_inputs(want[0]), _inputs(want[1]))
  # The test set is the trial's own, as without fresh sets.
  fixed = Trial(problem, "bptt", ST.trials.stopping()).begin(key, {"T": 8.0})
  np.testing.assert_array_equal(_inputs(c0["test"]), _inputs(fixed["test"]))
  # Reproducible from the seed, and not the fixed runs.
  axes = {"T": np.asarray([8.0])}
  a, b = _records(trial, axes, key=1), _records(trial, axes, key=1)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  plain = _records(Trial(problem, "bptt", ST.trials.stopping()), axes, key=1)
  assert not np.array_equal(a["cost"], plain["cost"])


def test_fresh_sets_follow_the_curriculums_span():
  problem = dataclasses.replace(ST.problem("latch"), T=16)
  trial = Trial(problem, "bptt", ST.trials.stopping(), curriculum=True,
                fresh=True)
  c = trial.begin(jax.random.key(0), {"T": 16.0, "stages": 2.0})
  assert int(np.max(c["train"].lengths)) <= 8  # stage 0: T_0 = 8
  c = trial.step(trial._next_stage(c))
  assert int(np.max(c["train"].lengths)) > 8


def test_fresh_sets_are_refused_where_a_method_keeps_costs(invoke, tmp_path):
  with pytest.raises(ValueError, match="annealing cannot train on fresh"):
    Trial(ST.problem("latch"), "annealing", ST.trials.stopping(), fresh=True)
  code, err = invoke("compare", "--methods=bptt,multigrid",
                     "--training_sets=fresh", f"--out_dir={tmp_path}")
  assert code == 2 and len(err.strip().splitlines()) == 1
  assert "--training_sets: fresh needs" in err and "not multigrid" in err
  assert not any(tmp_path.iterdir())
