import json
import subprocess
import sys
import types

import numpy as np
import pytest

from vanishing.cli import main as cli
from vanishing.engine import results
from vanishing.experiments import compare
from vanishing.experiments.latch import density, gradients, length


def flag_values(**kw):
  """Flag values as the command line gives them, defaults unless overridden."""
  fv = dict(out_dir="results", seed=0, trials=None, w0=None, s=None, lr=None,
            T=None, L=None, epochs=None, optimizer=None, momentum=None,
            n_per_class=None, test_per_class=None, noise=None, h_init=None,
            tol=None, heldout_acc=None, chunk=None, records=True,
            overwrite=False, paper=False, w=None, steps=None,
            eval_per_class=None)
  fv.update(kw)
  return types.SimpleNamespace(**fv)


def test_defaults_are_the_experiment_defaults():
  assert cli.build_settings("density", flag_values()) == density.DEFAULT
  assert cli.build_settings("length", flag_values()) == length.DEFAULT
  assert cli.build_settings("density", flag_values(paper=True)) == density.PAPER
  assert cli.build_settings("gradients", flag_values()) == gradients.DEFAULT
  assert cli.build_settings("gradients", flag_values(paper=True)) == gradients.PAPER


def test_flags_override_and_paper_preset_stays_underneath():
  st = cli.build_settings("density", flag_values(
      paper=True, trials=7, w0="1:2:3", s="0.1,0.2", lr="0.01,0.1", epochs=9,
      optimizer="adam", noise="fresh", T="30", L=4))
  assert st.trials == 7 and st.w0 == (1.0, 1.5, 2.0) and st.s == (0.1, 0.2)
  assert st.lr == (0.01, 0.1) and st.T == (30,)
  assert st.config.T == 30 and st.config.L == 4 and st.config.epochs == 9
  assert st.config.optimizer == "adam" and st.config.noise == "fresh"
  assert st.config.n_per_class == density.PAPER.config.n_per_class


@pytest.mark.parametrize("text,want", [
    ("1.5", (1.5,)), ("1,2,3", (1.0, 2.0, 3.0)), ("0:1:5", (0, 0.25, 0.5, 0.75, 1.0)),
    (" 2:2:1 ", (2.0,)), ("-1,1", (-1.0, 1.0)),
])
def test_parse_grid(text, want):
  np.testing.assert_allclose(cli.parse_grid(text, "x"), want)


def test_parse_integer_grid():
  assert cli.parse_grid("5:100:20", "T", integer=True) == tuple(range(5, 101, 5))
  with pytest.raises(cli.FlagError, match="--T: values must be integers"):
    cli.parse_grid("5:10:4", "T", integer=True)


@pytest.mark.parametrize("text", ["", "a", "1,,2", "1:2", "1:2:0", "1:2:x",
                                  "nan", "1,inf", "1,1"])
def test_malformed_grids(text):
  with pytest.raises(cli.FlagError, match="^--w0: "):
    cli.parse_grid(text, "w0")


BAD = [
    ("density", dict(L=0), "--L: must be >= 1"),
    ("density", dict(L=20), "--T: every T must exceed L"),
    ("length", dict(T="10,20", L=10), "--T: every T must exceed L"),
    ("density", dict(s="-0.1"), "--s: noise variances must be >= 0"),
    ("density", dict(trials=0), "--trials: must be >= 1"),
    ("density", dict(trials=-3), "--trials: must be >= 1"),
    ("density", dict(epochs=0), "--epochs: must be >= 1"),
    ("density", dict(n_per_class=0), "--n_per_class: must be >= 1"),
    ("density", dict(test_per_class=0), "--test_per_class: must be >= 1"),
    ("density", dict(w0=""), "--w0: empty"),
    ("density", dict(w0="1:3"), "--w0: cannot parse"),
    ("density", dict(lr="0"), "--lr: learning rates must be > 0"),
    ("density", dict(optimizer="adamx"), "--optimizer: unknown 'adamx'"),
    ("density", dict(momentum=1.0), "--momentum: must be in"),
    ("density", dict(noise="sometimes"), "--noise: must be one of fixed, fresh"),
    ("density", dict(h_init=-1.0), "--h_init: must be finite"),
    ("density", dict(tol=0.0), "--tol: must be in"),
    ("density", dict(heldout_acc=1.5), "--heldout_acc: must be in"),
    ("density", dict(chunk=0), "--chunk: must be >= 1"),
    ("density", dict(T="20,30"), "--T: density takes one sequence length"),
    ("length", dict(T="10.5"), "--T: values must be integers"),
    ("gradients", dict(T="-5"), "--T: every T must exceed L"),
    ("gradients", dict(T="2,10"), "--T: every T must exceed L"),
    ("gradients", dict(w="1,nan"), "--w: values must be finite"),
    ("gradients", dict(w="1,inf"), "--w: values must be finite"),
    ("gradients", dict(steps=1), "--steps: must be >= 2"),
    ("gradients", dict(eval_per_class=0), "--eval_per_class: must be >= 1"),
    ("gradients", dict(L=25), "--T: every T must exceed L"),
    ("gradients", dict(T="40", L=25), "--L: must be below the training length"),
]


@pytest.mark.parametrize("name,kw,message", BAD)
def test_bad_flag_values_name_the_flag(name, kw, message):
  with pytest.raises(cli.FlagError) as e:
    cli.build_settings(name, flag_values(**kw))
  assert str(e.value).startswith(message)


def vanishing(*args, cwd=None):
  return subprocess.run([sys.executable, "-m", "vanishing", *args],
                        capture_output=True, text=True, cwd=cwd, timeout=300)


def rejected(invoke, tmp_path, *args):
  """The one line a rejected command line prints; asserts it ends the program
  with status 2, that the line is the only output on stderr and starts with
  ``error: ``, and that not even ``--out_dir`` was created."""
  out = tmp_path / "out"
  code, err = invoke(*args, f"--out_dir={out}")
  assert code == 2, err
  lines = err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), err
  assert not out.exists()
  return lines[0]


@pytest.mark.parametrize("args", [
    ["density", "--trials=0"], ["density", "--trials=abc"],
    ["density", "--no_such_flag=1"], ["density", "--s=-1"],
    ["length", "--T=2", "--L=3"], ["density", "--optimizer=nope"],
    ["gradients", "--T=-5"], ["gradients", "--w=1,nan"],
    ["experiment_x"], [], ["density", "--trials"], ["density", "--norecords=1"],
    ["density", "--records=maybe"], ["density", "compare"],
])
def test_command_line_rejects_bad_input_with_status_2(tmp_path, invoke, args):
  rejected(invoke, tmp_path, *args)


# The same through the real entry point, in a fresh interpreter: a value
# main() refuses and a flag absl's parser refuses leave app.run with status 2
# and one line, no traceback.
@pytest.mark.parametrize("args", [["density", "--trials=0"],
                                  ["density", "--no_such_flag=1"]])
def test_the_entry_point_rejects_with_status_2_and_no_traceback(tmp_path, args):
  out = tmp_path / "out"
  p = vanishing(*args, f"--out_dir={out}")
  assert p.returncode == 2, p.stderr
  lines = p.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
  assert "Traceback" not in p.stderr
  assert not out.exists()  # nothing written, not even the directory


TINY = ["--w0=1,2", "--s=0,0.3", "--trials=4", "--epochs=20"]
# The end-to-end runs use each experiment's testing preset: the programs the
# experiments' own tests and the report page's (``testing_outcome``) compile,
# so a run loads them from the suite's compilation cache.
TESTING = "--preset=testing"


def test_density_end_to_end_and_refusal_to_overwrite(tmp_path, invoke):
  out = tmp_path / "r"
  p = vanishing("density", TESTING, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  assert "density: 6 cells x 8 trials = 48 runs" in p.stdout
  table = results.read_csv(out / "density.csv")
  assert {"w0", "s", "trials", "converged", "density"} <= set(table)
  assert len(table["w0"]) == 6 and np.all(table["trials"] == 8)
  np.testing.assert_allclose(table["density"], table["converged"] / 8)
  runs = results.read_csv(out / "density_runs.csv")
  assert len(runs["run"]) == 48
  assert {"converged", "epoch", "loss", "w", "test_acc"} <= set(runs)
  meta = json.loads((out / "density.json").read_text())
  assert meta["settings"]["seed"] == 0 and meta["flags"]["preset"] == "testing"
  assert {"jax", "jaxlib"} <= set(meta["versions"]) and meta["device"]["platform"] == "cpu"
  assert meta["compile_s"] > 0 and meta["run_s"] > 0
  assert (out / "density.png").read_bytes()[:4] == b"\x89PNG"

  # Other settings: another learning rate, a swept value, so the rerun finds
  # the compiled sweep in the compilation cache.
  before = (out / "density.csv").read_bytes()
  code, err = invoke("density", TESTING, "--lr=0.05", f"--out_dir={out}")
  assert code == 2 and "--out_dir" in err and "--overwrite" in err
  assert (out / "density.csv").read_bytes() == before

  p = vanishing("density", TESTING, "--lr=0.05", "--overwrite", "--norecords",
                f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  assert not (out / "density_runs.csv").exists()  # stale records removed
  assert json.loads((out / "density.json").read_text())["settings"]["lr"] == [0.05]
  np.testing.assert_array_equal(results.read_csv(out / "density.csv")["lr"], 0.05)


def test_unwritable_out_dir_is_a_clear_error(tmp_path, invoke):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  code, err = invoke("density", *TINY, f"--out_dir={blocker / 'sub'}")
  assert code == 2
  assert err.startswith("error: --out_dir: cannot write to")


def test_length_end_to_end(tmp_path):
  p = vanishing("length", TESTING, f"--out_dir={tmp_path}")
  assert p.returncode == 0, p.stderr
  table = results.read_csv(tmp_path / "length.csv")
  assert {"T", "trials", "converged", "frequency", "lo", "hi"} <= set(table)
  np.testing.assert_array_equal(table["T"], [5, 30])
  assert len(results.read_csv(tmp_path / "length_runs.csv")["run"]) == 16


def test_gradients_end_to_end(tmp_path):
  p = vanishing("gradients", TESTING, f"--out_dir={tmp_path}")
  assert p.returncode == 0, p.stderr
  assert "measured rate" in p.stdout
  for f in ("gradients_theory.csv", "gradients_decay.csv",
            "gradients_contributions.csv", "gradients_training.csv",
            "gradients_runs.csv", "gradients.png", "gradients.json"):
    assert (tmp_path / f).exists(), f
  decay = results.read_csv(tmp_path / "gradients_decay.csv")
  assert {"w", "measured_rate", "predicted_rate", "rel_error"} <= set(decay)


@pytest.mark.parametrize("args", [
    ["compare", "--problems=xor"], ["compare", "--methods=newton"],
    ["compare", "--T_values=4"], ["compare", "--budget=0"],
    ["compare", "--noise_scale=2"], ["guessing", "--runs=0"],
    ["guessing", "--weight_range=5,1"], ["guessing", "--variants=latch9"],
])
def test_compare_and_guessing_reject_bad_input_with_status_2(tmp_path, invoke,
                                                           args):
  line = rejected(invoke, tmp_path, *args)
  assert line.startswith(f"error: --{args[1][2:].split('=')[0]}"), line


@pytest.mark.parametrize("args", [
    ["compare", "--w0=1"], ["density", "--budget=5"], ["gradients", "--chunk=4"],
    ["guessing", "--T_values=5"], ["length", "--variants=latch1"],
])
def test_a_flag_the_experiment_does_not_read_is_refused(tmp_path, invoke, args):
  flag = args[1][2:].split("=")[0]
  assert rejected(invoke, tmp_path, *args) == (
      f"error: --{flag}: does not apply to {args[0]} "
      f"(python -m vanishing {args[0]} --help lists its flags)")


def test_compare_end_to_end(tmp_path):
  p = vanishing("compare", TESTING, "--keep_chunks", f"--out_dir={tmp_path}")
  assert p.returncode == 0, p.stderr
  # The chunk stores record the block width the sweep really used.
  manifest = json.loads((tmp_path / ".compare_chunks" / "latch-bptt"
                         / "manifest.json").read_text())
  assert manifest["block"] == compare.BLOCK == 8
  for f in ("compare.csv", "compare_runs.csv", "compare.md", "compare.png",
            "compare.json"):
    assert (tmp_path / f).exists(), f
  table = results.read_csv(tmp_path / "compare.csv")
  assert {"problem", "method", "T", "trials", "final_error", "evaluations",
          "presentations"} <= set(table)
  assert len(table["T"]) == 3  # latch at T = 4 and 8, parity at 8
  assert "| bptt |" in (tmp_path / "compare.md").read_text()


def test_a_run_replays_from_its_flags_file(tmp_path, helped):
  """``<name>.flags`` holds the flags given (and the seed), not where the run
  went; ``--flagfile`` reads them where it stands, later flags override."""
  first, again = tmp_path / "a", tmp_path / "b"
  code, _, err = helped("density", *TINY, "--seed=5", "--noise=fresh",
                        f"--out_dir={first}")
  assert code == 0, err
  words = (first / "density.flags").read_text().splitlines()
  assert words[0].startswith("#") and words[1:] == [
      "--seed=5", *TINY, "--noise=fresh"]
  assert "density.flags" in json.loads((first / "density.json").read_text())["files"]
  code, _, err = helped("density", f"--flagfile={first / 'density.flags'}",
                        f"--out_dir={again}")
  assert code == 0, err
  for name in ("density.csv", "density_runs.csv"):
    assert (again / name).read_bytes() == (first / name).read_bytes()
  code, _, err = helped("density", f"--flagfile={first / 'density.flags'}",
                        "--trials=2", "--overwrite", f"--out_dir={again}")
  assert code == 0, err
  meta = json.loads((again / "density.json").read_text())
  assert meta["settings"]["trials"] == 2 and meta["settings"]["seed"] == 5


def test_a_bad_flags_file_is_one_line_and_status_2(tmp_path, invoke):
  loop, prose = tmp_path / "loop.flags", tmp_path / "prose.flags"
  loop.write_text(f"--trials=2\n--flagfile={loop}\n")
  prose.write_text("# fine\n--trials=2\ntrials 3\n")
  for args, message in [
      ([f"--flagfile={tmp_path / 'none.flags'}"], "--flagfile: cannot read"),
      ([f"--flagfile={loop}"], "is read twice"),
      ([f"--flagfile={prose}"], "every line must be a flag"),
      (["--flagfile"], "--flagfile: needs a file name")]:
    code, err = invoke("density", *args, f"--out_dir={tmp_path / 'r'}")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
  assert not (tmp_path / "r").exists()
