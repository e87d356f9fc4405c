"""The GPU check script (benchmarks/gpu_check.py) as CI runs it: --dry-run.

The dry run starts every piece (density, throughput.py, peers.py when torch
is importable, remedies, compare and their --paper slices) at tiny sizes on
the CPU, about a minute on 2 cores; one run serves every test here.
"""

import dataclasses
import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
spec = importlib.util.spec_from_file_location("gpu_check", PATH)
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)

ROWS = ("density_paper_wall_s", "engine_rate", "engine_over_reference",
        "engine_over_torch", "remedies_wall_s", "compare_wall_s",
        "remedies_paper_est_s", "compare_paper_est_s",
        "compare_block_8_wall_s", "compare_block_32_wall_s")
FAILED = ("FAILED", "TIMED OUT", "NOT RUN", "SKIPPED")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory, background_gpu_check):
  """``(completed process, the JSON it wrote)`` of one --dry-run: the one
  ``conftest.py`` started in the background, else one run here."""
  if background_gpu_check is not None:
    proc, out = background_gpu_check
  else:
    tmp = tmp_path_factory.mktemp("gpu_check")
    out = tmp / "check.json"
    proc = subprocess.run([sys.executable, str(PATH), "--dry-run", "--json",
                           str(out), "--out_dir", str(tmp / "out")],
                          capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc, json.loads(out.read_text())


def test_every_row_is_present_with_a_number_or_an_explained_failure(dry_run):
  proc, report = dry_run
  assert report["dry_run"] is True
  assert report["platform"] == "cpu"
  rows = {r["key"]: r for r in report["rows"]}
  assert [r["key"] for r in report["rows"]] == list(ROWS)
  for key, r in rows.items():
    if r["verdict"] in FAILED:
      assert r["figure"] is None, key
      assert isinstance(r["error"], str) and r["error"], key
    else:
      assert isinstance(r["figure"], (int, float)), key
      assert math.isfinite(r["figure"]) and r["figure"] > 0, key
      assert r["error"] is None, key
    assert r["what"] in proc.stdout, key
  # Every piece but the optional ones ran: a renamed flag or a broken
  # command would show here.
  optional = {"engine_over_torch", "compare_block_8_wall_s",
              "compare_block_32_wall_s"}
  for key in set(ROWS) - optional:
    assert rows[key]["verdict"] == "ran (dry run)", (key, rows[key]["error"])
  assert rows["compare_block_8_wall_s"]["error"] == "skipped under --dry-run"
  torch = importlib.util.find_spec("torch") is not None
  assert (rows["engine_over_torch"]["verdict"] == "ran (dry run)") == torch, (
      rows["engine_over_torch"]["error"])
  if not torch:
    assert rows["engine_over_torch"]["error"] == "torch not installed"


def test_the_table_and_the_rule_are_printed(dry_run):
  proc, report = dry_run
  lines = proc.stdout.splitlines()
  header = next(i for i, l in enumerate(lines) if l.startswith("what "))
  assert [c.strip() for c in lines[header].split("|")] == [
      "what", "figure", "target", "verdict"]
  assert proc.stdout.count(gpu_check.RULE) == 2  # one note per slice
  assert report["rule"] == gpu_check.RULE
  # Each piece's outputs are under --out_dir: a sidecar per experiment.
  out = Path(report["out_dir"])
  assert (out / "density" / "density.json").exists()
  assert (out / "throughput.json").exists()
  assert (out / "remedies_paper" / "remedies.json").exists()


def test_the_extrapolation_is_linear_in_trials_times_configurations():
  from vanishing.experiments import compare, remedies
  paper = dataclasses.asdict(remedies.PAPER)
  est, text = gpu_check.extrapolate("remedies", {"settings": paper}, 10.0)
  assert est == pytest.approx(10.0)  # the full run is its own slice
  lstm = dict(paper, tasks=["two_sequence"], cells=["lstm"], T=[200, 2000],
              trials=dict(paper["trials"], count=8))
  est, text = gpu_check.extrapolate("remedies", {"settings": lstm}, 10.0)
  # --paper: 4 tasks x 5 cells x 4 remedies x 3 spans x 64 trials = 15,360;
  # the slice: 4 remedies x 2 spans x 8 trials = 64.
  assert est == pytest.approx(10.0 * 15360 / 64)
  assert "15,360 / 64" in text
  full = dataclasses.asdict(compare.PAPER)
  latch = dict(full, problems=["latch"], trials=dict(full["trials"], count=4))
  est, _ = gpu_check.extrapolate("compare", {"settings": latch}, 1.0)
  n = len(compare.PAPER.methods) * len(compare.PAPER.T)
  assert est == pytest.approx(3 * n * 100 / (n * 4))


def test_a_piece_past_its_time_is_killed_and_reported(tmp_path):
  args = gpu_check.parse_args(["--out_dir", str(tmp_path), "--budget", "4"])
  runner = gpu_check.Runner(args)
  t0 = time.perf_counter()
  status, seconds, _ = runner.launch(
      "sleep", [sys.executable, "-c", "import time; time.sleep(60)"], cap=360)
  assert status.startswith("timed out after")
  assert time.perf_counter() - t0 < 30
  # Nothing left of the budget: the next piece is a row, not a run.
  status, seconds, _ = runner.launch("next", [sys.executable, "-c", ""], 360)
  assert status.startswith("not run") and seconds == 0.0


@pytest.mark.parametrize("argv", [["--budget", "0"], ["--budget", "nan"],
                                  ["--widths", "8,x"], ["--widths", "0"],
                                  ["--json", "/nonexistent-dir/x.json"],
                                  ["--remedies_slice", "'unclosed"]])
def test_bad_arguments_are_refused(argv, tmp_path, capsys):
  with pytest.raises(SystemExit) as e:
    gpu_check.parse_args(argv + ["--out_dir", str(tmp_path)])
  assert e.value.code == 2
  assert "error" in capsys.readouterr().err


def test_a_slice_that_timed_out_gives_a_lower_bound(tmp_path):
  """Its chunk stores hold its settings: the full run takes at least the
  slice's time scaled by RULE, a failing figure where that exceeds 1 h."""
  from vanishing.engine import results
  from vanishing.experiments import remedies
  st = dataclasses.replace(remedies.PAPER, tasks=("two_sequence",),
                           cells=("lstm",), T=(200, 2000),
                           trials=dataclasses.replace(remedies.PAPER.trials,
                                                      count=8))
  store = tmp_path / ".remedies_chunks" / "two_sequence-lstm"
  store.mkdir(parents=True)
  results.write_json(store / "manifest.json", {"settings": dataclasses.asdict(st)})
  est, text, err = gpu_check.slice_estimate(
      tmp_path, "remedies", None, 60.0, "timed out after 60 s")
  assert err is None and est == 60.0 * 15360 / 64 and "a lower bound" in text
  est, text, err = gpu_check.slice_estimate(
      tmp_path, "remedies", None, 1.0, "timed out after 1 s")
  assert est is None and err.startswith("timed out after 1 s; full > 0.07 h")
  assert gpu_check.slice_estimate(tmp_path / "none", "remedies", None, 5.0,
                                  "timed out after 5 s")[2] == "timed out after 5 s"
