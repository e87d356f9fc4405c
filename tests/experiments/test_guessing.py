import dataclasses
import json
import types

import numpy as np
import pytest

from vanishing import cells
from vanishing.cli import outputs
from vanishing.experiments import flags
from vanishing.experiments import guessing
from vanishing.experiments.flags import FlagError
from vanishing.experiments.guessing import (report as guessing_report,
                                            variants as guessing_variants)

FLAGS = ("variants", "runs", "max_trials", "weight_range", "input_noise",
         "length_range", "n_per_class", "test_per_class", "latch_noise",
         "subset", "chunk")


def settings_from_flags(fv):
  """Validated guessing settings from flag values, as the command line builds them."""
  return flags.build(guessing.EXPERIMENT, fv)


def flag_values(**given):
  fv = types.SimpleNamespace(**{f: None for f in FLAGS}, seed=0, paper=False)
  for k, v in given.items():
    setattr(fv, k, v)
  return fv


def test_defaults_and_paper_preset_from_flags():
  assert settings_from_flags(flag_values()) == guessing.DEFAULT
  st = settings_from_flags(flag_values(paper=True, seed=4, runs=3))
  assert st == dataclasses.replace(guessing.PAPER, seed=4, runs=3)
  st = settings_from_flags(flag_values(
      variants="parity_a2,latch1", weight_range="-5,5", length_range="50,60",
      input_noise="none", max_trials=7))
  assert st.variants == ("parity_a2", "latch1")
  assert st.weight_range == (-5.0, 5.0) and st.length_range == (50, 60)
  assert st.input_noise == "none" and st.max_trials == 7
  assert json.loads(json.dumps(dataclasses.asdict(st)))["weight_range"] == [
      -5.0, 5.0]


@pytest.mark.parametrize("flag,value", [
    ("weight_range", "5,1"), ("weight_range", "1,1"), ("weight_range", "a,b"),
    ("weight_range", "1"), ("weight_range", "-inf,1"),
    ("runs", 0), ("max_trials", 0), ("n_per_class", 0), ("test_per_class", -1),
    ("variants", "parity_a3"), ("variants", ""), ("variants", "latch1,latch1"),
    ("input_noise", "gaussian"),
    ("length_range", "600,500"), ("length_range", "0,5"), ("length_range", "5"),
    ("length_range", "5.5,6"), ("chunk", 0)])
def test_bad_flag_values_name_their_flag(flag, value):
  with pytest.raises(FlagError, match=f"^--{flag}: "):
    settings_from_flags(flag_values(**{flag: value}))


def test_unknown_variant_message_lists_the_valid_ones():
  with pytest.raises(FlagError) as e:
    settings_from_flags(flag_values(variants="latch1,parity"))
  assert all(v in str(e.value) for v in guessing.VARIANTS)


def test_parameter_counts_of_the_networks():
  counts = {v: guessing_variants.net(v).size for v in guessing.VARIANTS}
  assert counts == {"latch1": 3, "latch2": 3, "parity_a1": 7, "parity_a2": 53,
                    "parity_a2_noself": 43}
  a2 = np.asarray(cells.parity_a2().W_free)
  assert a2[:10].sum(axis=1).tolist() == [2] * 10  # itself and the output
  assert a2[10].all()  # the output sees every unit
  noself = np.asarray(cells.parity_a2(self_loops=False).W_free)
  assert not np.diag(noself)[:10].any()
  assert cells.parity_a1(2).size == 9 + 3 + 2


@pytest.fixture(scope="module")
def guessing_outcome(testing_outcome):
  """``guessing.execute(guessing.TESTING)`` (run once per session)."""
  return testing_outcome("guessing")


def test_testing_run_gives_the_documented_tables(guessing_outcome, tmp_path):
  out, st = guessing_outcome, guessing.TESTING
  table = out.tables[""]
  assert tuple(table) == guessing.SUMMARY_COLUMNS
  assert table["variant"].tolist() == ["latch1", "parity_a1"]
  assert table["input_noise"].tolist() == ["gaussian", "uniform"]
  np.testing.assert_array_equal(table["solved"] + table["censored"], st.runs)
  runs = list(out.tables["runs"])
  rows = {c: np.concatenate([p[c] for p in runs]) for c in guessing.RUN_COLUMNS}
  assert len(rows["run"]) == 2 * st.runs
  for i, v in enumerate(table["variant"]):
    sel = rows["variant"] == v
    solved = rows["solved"][sel].astype(bool)
    assert table["censored"][i] == (~solved).sum()
    # Censored runs made every allowed draw and have no test error.
    assert np.all(rows["trials"][sel][~solved] == st.max_trials)
    assert np.all(np.isnan(rows["test_error_tol"][sel][~solved]))
    if solved.any():
      assert table["trials_median"][i] == np.median(rows["trials"][sel][solved])
      assert table["trials_max"][i] == rows["trials"][sel][solved].max()
  assert out.figure.axes[0].get_xscale() == "log"
  header = next(l for l in out.markdown.splitlines() if l.startswith("| variant"))
  assert "| published | verdict |" in header and "| latch1 |" in out.markdown
  # latch1 has a published mean (6), so its row shows it.
  row = next(l for l in out.markdown.splitlines() if l.startswith("| latch1 |"))
  assert "| 6 |" in row and "guessing2001/node3.html" in out.markdown
  out.tables["runs"] = iter(runs)
  written = outputs.write_outputs(tmp_path, guessing.NAME, guessing.TABLES, out, {})
  assert {p.name for p in written} >= {"guessing.csv", "guessing_runs.csv",
                                       "guessing.md", "guessing.png"}


def test_censored_runs_are_counted_not_dropped(guessing_outcome):
  # TESTING's parity A1 (200 draws; A1 needs about 800 at lengths 500..600
  # without noise) leaves runs unsolved: they count as censored, their
  # draws enter trials_per_solution, and they stay out of the trial
  # statistics.
  table = guessing_outcome.tables[""]
  i = table["variant"].tolist().index("parity_a1")
  assert table["runs"][i] == guessing.TESTING.runs
  assert table["censored"][i] >= 1
  assert table["censored"][i] + table["solved"][i] == table["runs"][i]
  if table["solved"][i] == 0:
    assert np.isnan(table["trials_mean"][i])
    assert np.isnan(table["trials_per_solution"][i])


def test_same_seed_same_numbers(guessing_outcome):
  st = dataclasses.replace(guessing.TESTING, variants=("latch1",))
  a, records, _ = guessing.run(st)
  first = guessing_outcome.tables[""]
  # Same seed, same numbers; latch1's sweep does not depend on which other
  # variants run with it.
  for c in ("solved", "trials_mean", "trials_median", "trials_max",
            "test_error_mid"):
    np.testing.assert_array_equal(a[c], first[c][:1])
  trials = np.concatenate([r["trials"] for r in records])
  assert len(set(trials.tolist())) > 1  # each run has its own draws


@pytest.mark.parametrize("mean,se,censored,published,word", [
    (100.0, 10.0, 0, 125.0, "agrees"),        # 2.5 SE away
    (100.0, 10.0, 0, 131.0, "differs"),       # 3.1 SE away
    (100.0, 10.0, 0, 70.0, "agrees"),         # exactly 3 SE: inside
    (100.0, 10.0, 0, None, "no published number"),
    (100.0, 10.0, 2, 500.0, "undetermined"),  # a floor below the published
    (500.0, 10.0, 2, 100.0, "differs"),       # a floor already above it
    (100.0, float("nan"), 0, 100.0, "undetermined"),  # one solved run
    (float("nan"), float("nan"), 4, 100.0, "undetermined"),  # none solved
])
def test_agree_differ_rule(mean, se, censored, published, word):
  assert guessing_report.verdict(mean, se, censored, published) == word


def test_differing_rows_say_why():
  table = {"variant": np.asarray(["latch2", "latch1", "parity_a2"]),
           "input_noise": np.asarray(["gaussian", "gaussian", "uniform"]),
           "trials_mean": np.asarray([150.0, 6.0, 900.0]),
           "trials_se": np.asarray([20.0, 1.0, 100.0]),
           "censored": np.asarray([0, 0, 0])}
  rows = guessing_report.published_rows(table)
  assert [r["verdict"] for r in rows] == ["differs", "agrees",
                                          "no published number"]
  assert rows[0]["why"] and not rows[1]["why"] and not rows[2]["why"]
  assert all(r["source"].startswith("people.idsia.ch") for r in rows[:2])


def test_paper_preset_censors_well_above_every_published_mean():
  st = guessing.PAPER
  assert st.runs == 40  # HS2001's "mean of 40 simulations"
  assert st.max_trials >= 4 * max(m for m, _ in
                                  guessing_variants.PUBLISHED.values())
  sub = dataclasses.replace(st, subset="published")
  assert set(sub.configurations()) == set(guessing_variants.PUBLISHED)
  assert set(guessing_variants.PUBLISHED) <= set(st.configurations())


@pytest.mark.parametrize("args,flag", [
    (("--latch_noise=-0.1",), "latch_noise"), (("--subset=some",), "subset"),
    (("--latch_noise=nan",), "latch_noise"), (("--hidden_fn=relu",), "hidden_fn"),
    (("--hidden_fn", "sign"), "hidden_fn"),
    (("--a2_output_self=maybe",), "a2_output_self"),
    (("--parity_noise=-1",), "parity_noise")])
def test_new_flags_exit_2_with_one_line(invoke, tmp_path, args, flag):
  code, err = invoke("guessing", *args, f"--out_dir={tmp_path}")
  assert code == 2
  lines = [l for l in err.strip().splitlines() if l.strip()]
  assert len(lines) == 1 and f"--{flag}" in lines[0]


def test_latch_noise_flag_sets_the_variance():
  st = settings_from_flags(flag_values(latch_noise="0.01", subset="published"))
  assert st.latch_noise == 0.01 and st.subset == "published"
