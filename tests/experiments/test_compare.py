import dataclasses
import types

import numpy as np
import pytest

from vanishing import methods
from vanishing.experiments import compare, compare_report
from vanishing.experiments import protocol
from vanishing.validation import FlagError

COLUMNS = {"problem", "method", "T", "trials", "final_error", "test_error",
           "evaluations", "presentations", "solved", "stuck", "diverged"}


def settings_from_flags(fv):
  """Validated compare settings from flag values, as the command line builds them."""
  return protocol.build(compare, fv)


def flags(**kw):
  fv = dict(paper=False, problems=None, methods=None, T_values=None,
            trials=None, budget=None, patience=None, target_cost=None,
            hparams=None, noise_kind=None, noise_scale=None, n_per_class=None,
            test_per_class=None, seed=0, chunk=None)
  fv.update(kw)
  return types.SimpleNamespace(**fv)


@pytest.fixture(scope="module")
def testing_run():
  return compare.run(compare.TESTING)


def test_table_has_a_row_per_problem_method_and_span(testing_run):
  table, runs, _ = testing_run
  st = compare.TESTING
  assert COLUMNS <= set(table)
  # Each problem runs its own spans (TESTING: parity at T = 8 only).
  assert len(table["T"]) == len(st.methods) * 3
  for p in st.problems:
    assert sorted(set(table["T"][table["problem"] == p])) == list(st.spans(p))
  assert np.all(table["trials"] == st.trials)
  assert len(runs["trial"]) == len(table["T"]) * st.trials
  # Presentations are evaluations times the training-set size.
  np.testing.assert_array_equal(runs["presentations"],
                                runs["evaluations"] * 2 * st.n_per_class)
  assert np.all(runs["evaluations"] <= st.budget)


def test_markdown_lays_out_table_one_with_the_papers_numbers(testing_run):
  table, _, _ = testing_run
  md = compare_report.markdown(table, compare.TESTING)
  assert "## latch" in md and "## parity" in md
  assert "| bptt |" in md and "T = 8" in md
  assert "810,000" in md and "54,000" in md and "1,600" in md
  assert "nan" not in md
  fig = compare_report.figure(table)
  assert fig.axes[0].get_xscale() == "log"


def test_a_problems_trials_do_not_depend_on_the_others(testing_run):
  table, _, _ = testing_run
  alone, _, _ = compare.run(dataclasses.replace(compare.TESTING,
                                                problems=("parity",)))
  sel = table["problem"] == "parity"
  for k in ("final_error", "evaluations", "test_error"):
    np.testing.assert_array_equal(table[k][sel], alone[k])


def test_same_seed_same_numbers(testing_run):
  again, _, _ = compare.run(compare.TESTING)
  for k in ("final_error", "evaluations", "cost"):
    np.testing.assert_array_equal(testing_run[0][k], again[k])


def test_flag_defaults():
  st = settings_from_flags(flags())
  assert st.problems == compare.DEFAULT.problems
  assert st.methods == methods.PAPER_NAMES  # the new methods by --methods
  assert settings_from_flags(flags(paper=True)).trials == compare.PAPER.trials
  st = settings_from_flags(flags(hparams="bptt.lr=0.1,bptt.optimizer=sgd",
                                         T_values="8,16"))
  assert st.hp("bptt") == {"lr": 0.1, "optimizer": "sgd"} and st.T == (8, 16)
  # Explicit spans apply to every problem; the default grid is per problem
  # (2-sequence starts where its sequences outlast the prefix).
  assert st.spans("two_sequence") == st.spans("parity") == (8, 16)
  st = settings_from_flags(flags())
  assert st.spans("parity") == (4, 8, 16, 32)
  assert st.spans("two_sequence") == (8, 16, 32)


@pytest.mark.parametrize("kw,message", [
    (dict(problems="latch,xor"), "--problems: unknown 'xor'; choose from latch"),
    (dict(methods="bptt,newton"), "--methods: unknown 'newton'; choose from bptt"),
    (dict(T_values="1,10"), "--T_values: every T must be >= 2"),
    (dict(T_values="4,10"), "--T_values: two_sequence needs T/2 >= N"),
    (dict(T_values="10.5"), "--T_values: values must be integers"),
    (dict(trials=0), "--trials: must be >= 1"),
    (dict(budget=0), "--budget: must be >= 1"),
    (dict(budget=-5), "--budget: must be >= 1"),
    (dict(patience=0), "--patience: must be >= 1"),
    (dict(noise_scale=1.5), "--noise_scale: must be in [0, 1]"),
    (dict(noise_scale=-0.1), "--noise_scale: must be in [0, 1]"),
    (dict(noise_kind="laplace"), "--noise_kind: must be one of"),
    (dict(target_cost=0.0), "--target_cost: must be finite and > 0"),
    (dict(hparams="bptt.eta=1"), "--hparams: bptt has no 'eta'"),
    (dict(hparams="sgd.lr=1"), "--hparams: unknown method 'sgd'"),
    (dict(hparams="bptt.lr=fast"), "--hparams: bptt.lr needs a float"),
    (dict(hparams="lr=1"), "--hparams: expected method.name=value"),
])
def test_bad_flags_name_the_flag(kw, message):
  with pytest.raises(FlagError) as e:
    settings_from_flags(flags(**kw))
  assert str(e.value).startswith(message), str(e.value)


def test_parity_at_T_4_is_allowed_without_two_sequence():
  st = settings_from_flags(flags(T_values="4", problems="parity"))
  assert st.T == (4,)


def test_refilled_lanes_give_each_trial_what_vmap_gives():
  """compare's trials on refilled lanes (Trial.steps(), runs.refill) against
  the engine vmapping the one-trial function: the same training, bit for
  bit; the test-set cost, computed once at the end in another program, to
  float32 rounding."""
  from vanishing import sweep
  st = dataclasses.replace(compare.TESTING, budget=80, patience=30)
  # annealing: K proposals per step and a key per evaluation.
  trial = compare.Trial(st.problem("parity"), "annealing", st.budget_())
  steps = trial.steps()
  axes = {"T": np.asarray([4.0, 8.0])}
  key = compare.root_key(st, "parity")
  new = sweep.run(steps, axes, 10, key, block=4).records
  old = sweep.run(lambda k, s: steps(k, s), axes, 10, key, block=4).records
  assert len(set(new["evaluations"])) > 2  # trials stop at different points
  for k in new:
    if k == "test_cost":
      np.testing.assert_allclose(new[k], old[k], rtol=1e-6)
    else:
      np.testing.assert_array_equal(new[k], old[k], err_msg=k)


def test_a_one_lane_method_gives_the_same_numbers_at_any_chunk_size():
  # rtrl_online's vmapped lanes differ in the last bit with a trial's lane
  # (tests/methods/test_conformance.py), so the engine runs its trials one
  # per lane: then neither the chunk size nor the lane a refill gives a
  # trial can move its numbers.
  assert methods.lanes("rtrl_online", compare.BLOCK) == 1
  assert methods.lanes("bptt", compare.BLOCK) == compare.BLOCK
  st = dataclasses.replace(compare.TESTING, problems=("two_sequence",),
                           methods=("rtrl_online",), T=(4, 6), T_by_problem=(),
                           trials=5, budget=40, patience=40)
  _, whole, _ = compare.run(st)
  _, chunked, _ = compare.run(dataclasses.replace(st, chunk=3))
  for k in ("cost", "final_error", "evaluations", "solved"):
    np.testing.assert_array_equal(whole[k], chunked[k], err_msg=k)
