import dataclasses
import types

import jax
import numpy as np
import pytest

from vanishing import methods
from vanishing.experiments import compare
from vanishing.experiments import flags as experiment_flags
from vanishing.experiments.compare import report as compare_report
from vanishing.experiments.flags import FlagError

COLUMNS = {"problem", "method", "T", "trials", "final_error", "test_error",
           "evaluations", "presentations", "solved", "stuck", "diverged"}


def settings_from_flags(fv):
  """Validated compare settings from flag values, as the command line builds them."""
  return experiment_flags.build(compare.EXPERIMENT, fv)


def flags(**kw):
  fv = dict(paper=False, problems=None, methods=None, T_values=None,
            trials=None, budget=None, patience=None, target_cost=None,
            hparams=None, noise_kind=None, noise_scale=None, n_per_class=None,
            test_per_class=None, seed=0, chunk=None, preset=None)
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
  for p in st.problem_names():
    assert sorted(set(table["T"][table["problem"] == p])) == list(st.spans(p))
  assert np.all(table["trials"] == st.trials.count)
  assert len(runs["trial"]) == len(table["T"]) * st.trials.count
  # Presentations are evaluations times the training-set size.
  np.testing.assert_array_equal(runs["presentations"],
                                runs["evaluations"] * 2 * st.trials.n_per_class)
  assert np.all(runs["evaluations"] <= st.trials.budget)


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
  assert st.problem_names() == compare.DEFAULT.problem_names() == (
      "latch", "two_sequence", "parity")
  assert st.methods == methods.PAPER_NAMES  # the new methods by --methods
  assert settings_from_flags(flags(paper=True)).trials == compare.PAPER.trials
  st = settings_from_flags(flags(hparams="bptt.lr=0.1,bptt.optimizer=sgd",
                                         T_values="8,16"))
  assert st.hp("bptt") == {"lr": 0.1, "optimizer": "sgd"} and st.T == (8, 16)
  typed = settings_from_flags(flags(hparams="discrete.residual=true,multigrid.k=4"))
  assert typed.hp("discrete") == {"residual": True}
  assert typed.hp("multigrid") == {"k": 4} and type(typed.hp("multigrid")["k"]) is int
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
    (dict(hparams="bptt.lr=fast"), "--hparams: bptt.lr must be a number > 0"),
    (dict(hparams="bptt.lr=-1"), "--hparams: bptt.lr must be a number > 0, got '-1'"),
    (dict(hparams="bptt.momentum=1"), "--hparams: bptt.momentum must be a number >= 0 and < 1"),
    (dict(hparams="multigrid.k=0.5"), "--hparams: multigrid.k must be an integer >= 1"),
    (dict(hparams="discrete.hold=often"), "--hparams: discrete.hold must be one of auto, "),
    (dict(hparams="bptt.optimizer=nope"), "--hparams: bptt.optimizer must be one of "),
    (dict(hparams="lr=1"), "--hparams: expected method.name=value"),
])
def test_bad_flags_name_the_flag(kw, message):
  with pytest.raises(FlagError) as e:
    settings_from_flags(flags(**kw))
  assert str(e.value).startswith(message), str(e.value)


def test_tasks_times_cells_name_the_registered_pairs():
  st = settings_from_flags(flags(tasks="latch,parity", cells="paper,local,a1"))
  assert st.problem_names() == ("latch", "latch_local", "parity",
                                "parity_local", "parity_a1")
  st = settings_from_flags(flags(tasks="adding", cells="lstm,gru",
                                 methods="bptt"))
  assert st.problem_names() == ("adding_lstm", "adding_gru")
  # --problems still names them one by one (the old names).
  st = settings_from_flags(flags(problems="latch2_elman,parity",
                                 methods="bptt"))
  assert st.problem_names() == ("latch2_elman", "parity")


@pytest.mark.parametrize("kw,message", [
    (dict(tasks="adding"), "--tasks: adding is registered with elman, lstm"),
    (dict(tasks="latch", cells="paper,gru"), "--cells: gru is registered "
     "with latch2, two_sequence, parity, adding, copying, two_sequence_1997, "
     "adding_1997 only"),
    (dict(tasks="latch", problems="latch"), "--problems: not with --tasks"),
    (dict(cells="nope"), "--cells: unknown 'nope'; choose from paper, a1"),
])
def test_unregistered_pairs_are_refused(kw, message):
  with pytest.raises(FlagError) as e:
    settings_from_flags(flags(**kw))
  assert str(e.value).startswith(message), str(e.value)


def test_keys_come_from_the_task_not_the_registry_order(monkeypatch):
  """Every cell on a task sees the same trials, and a problem registered
  before the others moves none of their keys."""
  from vanishing import problems
  st = compare.DEFAULT
  keys = {p: jax.random.key_data(compare.root_key(st, p))
          for p in ("latch", "latch_local", "parity", "parity_sign")}
  np.testing.assert_array_equal(keys["latch"], keys["latch_local"])
  np.testing.assert_array_equal(keys["parity"], keys["parity_sign"])
  assert not np.array_equal(keys["latch"], keys["parity"])
  first = problems.Spec(problems.REGISTRY["latch"].task, problems.cells.latch_net,
                        "a problem registered first", ("zzz", "paper"))
  monkeypatch.setattr(problems, "REGISTRY", {"zzz": first, **problems.REGISTRY})
  for p, k in keys.items():
    np.testing.assert_array_equal(jax.random.key_data(compare.root_key(st, p)), k)


def test_parity_at_T_4_is_allowed_without_two_sequence():
  st = settings_from_flags(flags(T_values="4", problems="parity"))
  assert st.T == (4,)


def test_refilled_lanes_give_each_trial_what_vmap_gives():
  """compare's trials on refilled lanes (Trial.steps(), runs.refill) against
  the engine vmapping the one-trial function: the same training, bit for
  bit; the test-set cost, computed once at the end in another program, to
  float32 rounding."""
  from vanishing.engine import sweep
  st = dataclasses.replace(compare.TESTING, trials=dataclasses.replace(
      compare.TESTING.trials, budget=80, patience=30))
  # annealing: K proposals per step and a key per evaluation.
  trial = compare.Trial(st.problem("parity"), "annealing",
                        st.trials.stopping())
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
                           trials=compare.Trials(5, budget=40, patience=40))
  _, whole, _ = compare.run(st)
  _, chunked, _ = compare.run(dataclasses.replace(st, chunk=3))
  for k in ("cost", "final_error", "evaluations", "solved"):
    np.testing.assert_array_equal(whole[k], chunked[k], err_msg=k)


# ---------------------------------------------------------------------------
# Named presets (--preset) and the latch count at the paper's setting.

def test_a_preset_is_the_base_and_other_flags_override_it():
  st = settings_from_flags(flags(preset="latch_1994"))
  assert st == dataclasses.replace(compare.PRESETS["latch_1994"],
                                   preset="latch_1994")
  assert st.problem_names() == ("latch",) and st.methods == methods.PAPER_NAMES
  assert st.noise_kind == "gaussian" and st.noise_scale == 0.2
  assert set(st.T) <= set(compare.PAPER.T)  # a subset of the paper's grid
  assert st.quotes == (("latch", None),)
  st = settings_from_flags(flags(preset="latch_1994", trials="5",
                                 noise_kind="uniform", seed=3))
  assert (st.trials.count, st.noise_kind, st.seed) == (5, "uniform", 3)
  assert st.trials.budget == compare.PRESETS["latch_1994"].trials.budget
  # Spans given explicitly still replace the preset's.
  assert settings_from_flags(flags(preset="latch_1994", T_values="10")).T == (10,)
  # Without --preset nothing changes (the default's numbers are regression
  # checked).
  assert settings_from_flags(flags()) == compare.DEFAULT
  assert compare.DEFAULT.preset == "" and compare.DEFAULT.quotes == ()


@pytest.mark.parametrize("kw,message", [
    (dict(preset="latch_1994", paper=True),
     "--preset: not with --paper (the same as --preset=paper)"),
    (dict(preset="latch"), "--preset: must be one of default, paper, "
     "testing, latch_1994, parity_1994 for compare, got 'latch'"),
])
def test_bad_presets_name_the_flag(kw, message):
  with pytest.raises(FlagError) as e:
    settings_from_flags(flags(**kw))
  assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("args,message", [
    (["--preset=latch_1994", "--paper"], "error: --preset: not with --paper"),
    (["--preset=nope"], "error: --preset: must be one of " +
     ", ".join(compare.EXPERIMENT.presets) + " for compare, got 'nope'"),
])
def test_preset_errors_exit_2_with_one_line(helped, tmp_path, args, message):
  code, out, err = helped("compare", *args, f"--out_dir={tmp_path / 'o'}")
  assert code == 2 and not out
  assert len(err.strip().splitlines()) == 1 and err.startswith(message), err
  assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def latch_run():
  st = dataclasses.replace(compare.PRESETS["latch_1994"], preset="latch_1994",
                           methods=("bptt", "guessing"), T=(4, 8),
                           trials=dataclasses.replace(
                               compare.PRESETS["latch_1994"].trials, count=4,
                               budget=60, patience=30))
  table, records, _ = compare.run(st)
  return st, table, records


def test_the_latch_section_reports_evaluations_to_solution(latch_run):
  st, table, records = latch_run
  md = compare_report.markdown(table, st, records)
  section = md.split("## The latch count at the paper's setting "
                     "(preset latch_1994)", 1)[1]
  assert "about 1,600" in section and "node3.html" in section
  assert "one = the cost over the 50 training sequences" in section
  assert "presentations = evaluations x 50" in section
  assert "within a factor 3" in section
  head = [l for l in section.splitlines() if l.startswith("| method")][0]
  assert "T = 4 | T = 8 | pooled over T" in head
  rows = {l.split(" | ")[0][2:]: l for l in section.splitlines()
          if l.startswith("| ") and not l.startswith("| method")}
  assert set(rows) == {"bptt", "guessing"}  # one method besides guessing
  assert not any("pooled methods" in l for l in section.splitlines())
  # Each cell: mean evaluations of the solved trials +- SE (solved/trials).
  for m in ("bptt", "guessing"):
    sel = records["method"] == m
    ok = records["solved"][sel].astype(bool)
    ev = records["evaluations"][sel][ok].astype(float)
    mean, se = compare_report._solved_mean(ev)
    pooled = rows[m].split(" | ")[3]
    assert pooled.startswith(compare_report._num(mean)), rows[m]
    assert f"({ok.sum()}/{len(ok)} = {ok.mean():.2f})" in pooled
    if len(ev) > 1:
      assert f"+- {compare_report._num(se)}" in pooled
    assert f"{mean * 50:,.0f}" == rows[m].split(" | ")[4]
    assert rows[m].split(" | ")[5] == "1,600"
    assert compare_report.agrees(mean, 1600.0).split()[0] in rows[m]
  assert "nan" not in section
  # The printed lines carry the pooled counts.
  printed = "\n".join(compare_report.quote_lines(records, st))
  assert "paper: about 1,600" in printed and "bptt" in printed
  # Without quotes (the default's), no section.
  assert "at the paper's setting" not in compare_report.markdown(
      table, dataclasses.replace(st, quotes=()), records)


def test_the_pooled_row_leaves_out_guessing():
  rec = {k: np.asarray(v) for k, v in dict(
      problem=["latch"] * 6, method=["bptt", "bptt", "annealing", "annealing",
                                     "guessing", "guessing"],
      T=[4, 8, 4, 8, 4, 8], evaluations=[10, 30, 100, 200, 1, 1],
      solved=[True, True, True, False, True, True]).items()}
  rows = compare_report.quote_counts(rec, ("latch", None))
  name, T, ev, ok = rows[-1]
  assert name == "pooled methods (no guessing)" and T == "pooled"
  assert ev[ok].tolist() == [10, 30, 100]
  assert [(r[0], r[1]) for r in rows[:3]] == [("bptt", 4), ("bptt", 8),
                                             ("bptt", "pooled")]


def test_agreement_rule():
  assert compare_report.agrees(1600.0, 1600.0) == "yes (x1)"
  assert compare_report.agrees(4000.0, 1600.0).startswith("yes")
  assert compare_report.agrees(100.0, 1600.0).startswith("no")
  assert compare_report.agrees(float("nan"), 1600.0) == "no (none solved)"
  assert compare_report.quote_counts(
      {k: np.asarray(v) for k, v in dict(problem=["parity"], method=["bptt"],
       T=[4], evaluations=[3], solved=[True]).items()}, ("latch", None)) == []


def test_the_parity_preset_is_the_papers_discrete_setting():
  st = settings_from_flags(flags(preset="parity_1994"))
  assert st.problem_names() == ("parity_sign", "parity")
  assert st.methods == ("discrete", "guessing")
  assert st.spans("parity_sign") == st.spans("parity") == (50,)  # 25..50
  assert (st.noise_kind, st.noise_scale) == ("uniform", 0.2)
  assert st.trials.budget == 54000 and st.quotes == (("parity", "discrete"),)
  assert st.problem("parity_sign").net.size == st.problem("parity").net.size == 7


def test_the_parity_section_pairs_final_error_and_evaluations():
  rec = {k: np.asarray(v) for k, v in dict(
      problem=["parity_sign"] * 4 + ["parity"] * 2 + ["latch"],
      method=["discrete"] * 4 + ["discrete", "discrete", "discrete"],
      T=[50] * 7, final_error=[0.0, 0.0, 0.1, 0.02, 0.4, 0.38, 0.0],
      test_error=[0.0, 0.01, 0.2, 0.03, 0.5, 0.5, 0.0],
      evaluations=[1000, 3000, 5000, 3000, 7000, 9000, 10],
      solved=[True, True, False, False, False, False, True]).items()}
  st = dataclasses.replace(compare.PRESETS["parity_1994"], preset="parity_1994")
  rows = compare_report.error_rows(rec, ("parity", "discrete"))
  assert [(r["problem"], r["method"]) for r in rows] == [
      ("parity_sign", "discrete"), ("parity", "discrete")]  # not the latch
  r = rows[0]
  err = np.asarray([0.0, 0.0, 0.1, 0.02])
  assert r["error"] == pytest.approx(0.03)
  assert r["error_se"] == pytest.approx(err.std(ddof=1) / 2)
  assert r["evaluations"] == 3000 and r["solved"] == 0.5
  md = "\n".join(compare_report.quote_sections(rec, st))
  assert "error of 0.05 in about 54,000 trials" in md and "node4.html" in md
  line = [l for l in md.splitlines() if l.startswith("| parity_sign")][0]
  # 0.05 lies within 0.03 +- 3 SE; 3,000 evaluations are x0.056 of 54,000,
  # 150,000 presentations x2.8 (within the factor 3).
  assert "| yes (0.030 +- " in line and "| no (x0.056) | yes (x2.8) |" in line
  line = [l for l in md.splitlines() if l.startswith("| parity |")][0]
  assert "| no (0.390 +- 0.030) |" in line
  printed = "\n".join(compare_report.quote_lines(rec, st))
  assert "parity_sign  discrete   T = 50: error 0.030" in printed
