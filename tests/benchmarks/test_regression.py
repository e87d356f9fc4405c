"""The reproduction regression (benchmarks/regression.py) as part of CI."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "regression.py"
spec = importlib.util.spec_from_file_location("regression", PATH)
regression = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regression)

REFERENCE = json.loads(regression.REFERENCE.read_text())


def test_a_moved_number_is_named_with_both_values_and_its_band():
  ref = {"numbers": {
      "length[T=5].frequency": {"value": 1.0, "band": 0.05, "why": "w"},
      "theory[w=2].attractor": {"value": 1.915, "band": 1e-6, "why": "w"},
      "gone[x]": {"value": 1.0, "band": 1.0, "why": "w"}}}
  measured = {"length[T=5].frequency": 58 / 64, "theory[w=2].attractor": 1.915,
              "new[y]": 1.0}
  problems = regression.compare_to(ref, measured)
  assert len(problems) == 3
  assert problems[0].startswith("length[T=5].frequency: moved from 1 to 0.90625")
  assert "band +-0.05" in problems[0]
  assert "gone[x]: in the reference but no longer measured" in problems
  assert "new[y]: new, not in the reference (run with --update)" in problems


def _group(bits, values=None, R=10.0):
  return regression.Group("g[x=1]", "rate", np.asarray(bits, bool),
                          {"v": (np.asarray(values if values is not None
                                            else np.zeros(len(bits))), R)})


def test_bands_follow_the_measured_perturbation():
  n = 100
  bits = np.arange(n) < 40
  # Nothing moved at the other block width: two runs across their range.
  q = {x.name: x for x in regression.calibrated(_group(bits), _group(bits))}
  assert q["g[x=1].rate"].value == pytest.approx(0.4)
  assert q["g[x=1].rate"].band == pytest.approx(2 / n)
  assert q["g[x=1].v"].band == pytest.approx(2 * 10.0 / n)
  assert q["g[x=1].changed_runs"].band == 2
  # Nine outcomes flipped and one value moved by 30: 4 sqrt(sum d^2) / n.
  other = bits.copy()
  other[:9] = ~other[:9]
  v = np.zeros(n)
  v[0] = 30.0
  q = {x.name: x for x in regression.calibrated(_group(bits), _group(other, v))}
  assert q["g[x=1].rate"].band == pytest.approx(4 * 3 / n)
  assert q["g[x=1].v"].band == pytest.approx(4 * 30 / n)
  assert q["g[x=1].changed_runs"].band == 2 * 9 + 4 * 3 + 2
  assert "9 of 100 outcomes flipped" in q["g[x=1].changed_runs"].why


def test_changed_runs_counts_runs_that_differ_from_the_reference():
  g = _group([1, 1, 0, 0])
  runs = regression.runs_json(g)
  assert runs["outcome"] == "1100"
  same = regression.measured_numbers(g, runs)
  assert same["g[x=1].changed_runs"] == 0 and same["g[x=1].rate"] == 0.5
  # Same rate, two runs swapped: the rate holds, changed_runs sees it.
  moved = regression.measured_numbers(_group([0, 1, 1, 0]), runs)
  assert moved["g[x=1].rate"] == 0.5 and moved["g[x=1].changed_runs"] == 2
  assert regression.measured_numbers(_group([1, 0, 0]), runs)[
      "g[x=1].changed_runs"] == math.inf


def _stored(prefix):
  return {name: runs for name, runs in REFERENCE["runs"].items()
          if name.startswith(prefix)}




def _shift_fails(name, number, group):
  """compare_to on the reference with one group replaced by ``group``."""
  measured = {k: v["value"] for k, v in REFERENCE["numbers"].items()}
  measured.update(regression.measured_numbers(group, REFERENCE["runs"][name]))
  problems = regression.compare_to(REFERENCE, measured)
  ref = REFERENCE["numbers"][number]
  hits = [p for p in problems if p.startswith(
      f"{number}: moved from {ref['value']:.6g} to ")]
  assert hits, f"{number}: the shift passed ({problems})"
  assert f"band +-{ref['band']:.3g}" in hits[0]


@pytest.mark.parametrize("prefix,rate", [("density[", "density"),
                                         ("length[", "frequency")])
def test_a_five_point_shift_of_any_cell_fails(prefix, rate):
  groups = _stored(prefix)
  assert len(groups) >= 3
  for name, runs in groups.items():
    g = regression.group_from_json(name, runs)
    assert g.rate == rate
    n = len(g.outcome)
    k = math.ceil(0.05 * n)
    # Move k runs towards the middle: 5 points up below 50%, down above.
    up = g.outcome.mean() < 0.5
    idx = np.flatnonzero(g.outcome != up)[:k]
    assert len(idx) == k
    bits = g.outcome.copy()
    bits[idx] = up
    _shift_fails(name, f"{name}.{rate}", g._replace(outcome=bits))


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_a_twofold_change_of_a_guessing_mean_fails(factor):
  groups = _stored("guessing[")
  assert {n.split(",")[0] for n in groups} >= {"guessing[latch1",
                                               "guessing[parity_a1"}
  for name, runs in groups.items():
    g = regression.group_from_json(name, runs)
    x, R = g.values["log10_trials"]
    assert np.all(x[g.outcome] < R), "a solved run is not censored"
    shifted = np.maximum(x + math.log10(factor), 0.0)
    _shift_fails(name, f"{name}.log10_trials",
                 g._replace(values={"log10_trials": (shifted, R)}))


def test_reconciled_guessing_means_are_pinned_by_their_sampling_error():
  rg = regression._sibling("regression_guessing")
  pins = {k: v for k, v in REFERENCE["numbers"].items()
          if k.startswith("guessing[paper,")}
  assert set(pins) == {f"guessing[paper,{v},{n}].trials_mean"
                       for v, n in rg.RECONCILED_CONFIGS}
  for name, ref in pins.items():
    assert ref["why"].startswith(f"sampling: {rg.SE_BANDS:g} SE of 40 runs")
    # The band is 4 SE of 40 geometric-like counts: well under the mean.
    assert 0 < ref["band"] < ref["value"]
    measured = {k: v["value"] for k, v in REFERENCE["numbers"].items()}
    measured[name] = 2 * ref["value"]
    assert any(p.startswith(f"{name}: moved from")
               for p in regression.compare_to(REFERENCE, measured))


def test_every_method_is_pinned_on_every_problem():
  from vanishing import methods
  trials = regression._sibling("regression_trials")
  for problem, spans in trials.COMPARE_SPANS.items():
    for m in trials.COMPARE_METHODS.get(problem, methods.NAMES):
      for T in spans:
        name = f"compare[{problem},{m},T={T}]"
        for q in ("solved", "final_error", "evaluations", "changed_runs"):
          assert f"{name}.{q}" in REFERENCE["numbers"]
  parity = [v for k, v in REFERENCE["numbers"].items()
            if k.startswith("guessing[parity") and k.endswith(".solved")]
  assert parity and all(p["value"] >= 0.5 for p in parity)


def test_every_pinned_number_belongs_to_a_check():
  assert {regression.check_of(k) for k in REFERENCE["numbers"]} == set(
      regression.CHECKS)


@pytest.fixture(scope="module")
def measured(background_regression):
  """The regression's numbers, from the process ``conftest.py`` started in
  the background (measured here if there is none)."""
  if background_regression is None:
    return regression.measure(REFERENCE, log=lambda *_: None)
  proc, path = background_regression
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(path.read_text())


@pytest.mark.parametrize("check", list(regression.CHECKS))
def test_reproduced_numbers_stay_within_their_bands(check, measured):
  mine = {k: v for k, v in measured.items() if regression.check_of(k) == check}
  assert mine
  problems = regression.compare_to(REFERENCE, mine, only=[check])
  assert not problems, "\n".join(problems)
