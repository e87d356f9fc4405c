"""The reproduction regression (benchmarks/regression.py) as part of CI."""

import importlib.util
import json
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "regression.py"
spec = importlib.util.spec_from_file_location("regression", PATH)
regression = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regression)


def test_a_moved_number_is_named_with_both_values_and_its_band():
  ref = {"length[T=5].frequency": {"value": 1.0, "band": 0.05, "why": "w"},
         "theory[w=2].attractor": {"value": 1.915, "band": 1e-6, "why": "w"},
         "gone[x]": {"value": 1.0, "band": 1.0, "why": "w"}}
  measured = {
      "length[T=5].frequency": regression.rate("length[T=5].frequency", 58, 64),
      "theory[w=2].attractor": regression.exact("theory[w=2].attractor", 1.915),
      "new[y]": regression.exact("new[y]", 1.0)}
  problems = regression.compare_to(ref, measured)
  assert len(problems) == 3
  assert problems[0].startswith("length[T=5].frequency: moved from 1 to 0.90625")
  assert "band +-0.05" in problems[0]
  assert "gone[x]: in the reference but no longer measured" in problems
  assert "new[y]: new, not in the reference (run with --update)" in problems


def test_bands_follow_sampling_error():
  q = regression.rate("r", 32, 64)
  assert q.band == pytest.approx(4 * 0.5 / 8)
  assert regression.rate("r", 0, 64).band == pytest.approx(2 / 64)
  m = regression.mean("m", [1.0, 3.0] * 8)
  assert m.value == 2.0 and m.band == pytest.approx(4 * (16 / 15) ** 0.5 / 4)


def test_reproduced_numbers_stay_within_their_bands():
  reference = json.loads(regression.REFERENCE.read_text())
  measured = regression.measure(log=lambda *_: None)
  problems = regression.compare_to(reference, measured)
  assert not problems, "\n".join(problems)
