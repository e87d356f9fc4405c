"""One GPU check: the GPU issue's targets, measured, in one table.

    python benchmarks/gpu_check.py [--json FILE] [--dry-run] [--out_dir DIR]
        [--budget 360] [--widths 8,32] [--remedies_slice ARGS]
        [--compare_slice ARGS]

Runs each piece below as a subprocess of this interpreter on the repository
this script lives in (PYTHONPATH; the package need not be installed), one
after the other, and prints one table of (what, figure, target, verdict).
Each piece has its own time limit (``CAPS``, scaled by ``--budget`` / 360,
never more than what is left of the budget, default 6 minutes); a piece
that times out (its process group is killed), fails or is not run is a row
that says so, never a crash. This process itself stays off the accelerator.

1. ``density --paper`` (546,000 runs): wall time of the process. <= 15 s.
2. ``benchmarks/throughput.py``: the engine's forward neuron-steps/s with
   the device's layout (>= 1e11), and engine / reference, the plain-JAX
   density loop at its best form and run count (reported).
3. ``benchmarks/peers.py``: engine / batched PyTorch on the same device
   (cuda where torch sees one; 393,216 runs there). >= 3x. "torch not
   installed" where torch does not import.
4. ``remedies`` and ``compare`` at their defaults: wall time. <= 30 s and
   <= 60 s.
5. A slice of ``remedies --paper`` (default: 2-sequence at the LSTM paper's
   minimal lags 100 and 1,000, T = 200 and 2,000, LSTM, every remedy, 8
   trials) and of ``compare --paper`` (the latch, every method and span, 4
   trials), the full run's time estimated linearly in trials x
   configurations (a (task, cell, remedy, T) or a (problem, method, T)):

       full run ~ slice wall x (trials x configurations of --paper)
                              / (trials x configurations of the slice)

   from the slice's sidecar and ``PAPER`` (from its chunk stores for a
   slice that timed out: a lower bound). It scales start-up and compile
   too, so it may overstate the full run. <= 1 hour each.
6. ``compare`` defaults with ``--block`` at each of ``--widths`` (8, the
   CPU's width, and 32), if the time left allows (not under ``--dry-run``).

``--dry-run`` runs every piece at tiny sizes on any device (a CPU here: CI
runs it in about a minute); its verdicts say only whether a piece ran.
Outputs and logs go under ``--out_dir`` (default: a new temporary
directory, kept). ``--json`` writes ``{"dry_run", "platform", "budget_s",
"elapsed_s", "out_dir", "rule", "rows"}`` atomically; a row has ``key``,
``what``, ``figure`` (a number, or null with ``error`` saying why),
``text``, ``target``, ``verdict``, ``seconds`` and ``command``. The
targets are the issue's (issue 26, item 5, on one H200); the figures come
only from running this script.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ)  # the children's: taken before vanishing is imported
BUDGET = 360.0
# Each piece's limit in seconds at the default budget, in the order they run.
CAPS = {"density": 40, "throughput": 120, "peers": 60, "remedies": 50,
        "compare": 80, "remedies_paper": 60, "compare_paper": 60}
RULE = ("full ~ slice wall x (trials x configurations of --paper) / (trials "
        "x configurations of the slice)")

REMEDIES_SLICE = ("--tasks two_sequence --cells lstm --T_values 200,2000 "
                  "--trials 8")
COMPARE_SLICE = "--problems latch --trials 4"
FULL = {"density": ["--paper"], "peers": ["--repeats", "2"],
        "throughput": ["--repeats", "1", "--loop_runs", "16"],
        "remedies": [], "compare": []}
TINY_EXP = ["--trials", "2", "--budget", "10", "--patience", "10"]
DRY = {
    "density": ["--w0", "1", "--s", "0", "--trials", "8", "--epochs", "20"],
    "throughput": ["--runs", "64", "--epochs", "10", "--repeats", "1",
                   "--block", "64", "--loop_runs", "2", "--ref_runs", "64",
                   "--sizes", "4096", "--ceiling_work", "1e6"],
    "peers": ["--runs", "16", "--epochs", "10", "--repeats", "1"],
    "remedies": ["--tasks", "latch2", "--cells", "elman", "--remedies", "none",
                 *TINY_EXP],
    "compare": ["--problems", "latch", "--methods", "bptt", "--T_values", "4",
                *TINY_EXP],
    "remedies_paper": ["--paper", "--tasks", "latch2", "--cells", "elman",
                       "--remedies", "none", "--T_values", "10", *TINY_EXP],
    "compare_paper": ["--paper", "--problems", "latch", "--methods", "bptt",
                      "--T_values", "10", *TINY_EXP],
}


class Runner:
  """Runs pieces as subprocesses inside one budget; keeps the rows."""

  def __init__(self, args):
    self.args, self.out = args, Path(args.out_dir)
    self.t0 = time.perf_counter()
    self.deadline = self.t0 + args.budget
    self.scale = args.budget / BUDGET
    self.rows, self.platform = [], None
    self.env = dict(ENV, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + ([ENV["PYTHONPATH"]] if ENV.get("PYTHONPATH") else [])))

  def left(self) -> float:
    return self.deadline - time.perf_counter()

  def launch(self, key: str, cmd: list[str], cap: float):
    """``(status, seconds, log tail)``; status None when it exited 0, else
    what happened."""
    limit = min(cap * self.scale, self.left())
    if limit < 3:
      return f"not run: {self.args.budget:g}-s budget spent", 0.0, ""
    log = self.out / f"{key}.log"
    t0 = time.perf_counter()
    with open(log, "w") as f:
      f.write("$ " + shlex.join(cmd) + "\n")
      f.flush()
      p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                           env=self.env, cwd=self.out, start_new_session=True)
      try:
        rc = p.wait(timeout=limit)
      except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        rc = None
    seconds = time.perf_counter() - t0
    lines = [x for x in log.read_text(errors="replace").splitlines()
             if x.strip()]
    tail = lines[-1].strip()[:200] if len(lines) > 1 else ""
    if rc is None:
      return f"timed out after {limit:.0f} s", seconds, tail
    return (None if rc == 0 else f"exit {rc}"), seconds, tail

  def experiment(self, key: str, name: str, flags: list[str], cap=None):
    """``python -m vanishing NAME FLAGS`` in out_dir/KEY: ``(sidecar or
    None, wall seconds, error or None, command)``."""
    out = self.out / key
    cmd = [sys.executable, "-m", "vanishing", name, *flags,
           f"--out_dir={out}", "--overwrite"]
    status, seconds, tail = self.launch(key, cmd, cap or CAPS[key])
    meta = None
    if status is None:
      try:
        meta = json.loads((out / f"{name}.json").read_text())
        self.platform = self.platform or meta.get("platform")
      except (OSError, ValueError) as e:
        status = f"no readable {name}.json ({e})"
    return meta, seconds, _explain(status, tail), cmd

  def script(self, key: str, name: str, flags: list[str]):
    """``benchmarks/NAME FLAGS --json out_dir/KEY.json``: like experiment;
    an exit 1 after the JSON was written (peers.py: a density check
    failed) keeps the figures, with ``warning`` in them."""
    path = self.out / f"{key}.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / name), *flags,
           "--json", str(path)]
    status, seconds, tail = self.launch(key, cmd, CAPS[key])
    data = None
    if status is None or (status == "exit 1" and path.exists()):
      try:
        data = json.loads(path.read_text())
        self.platform = self.platform or data.get("platform")
        if status is not None:
          data["warning"], status = f"{status}: {tail}", None
      except (OSError, ValueError) as e:
        status = f"no readable {path.name} ({e})"
    return data, seconds, _explain(status, tail), cmd

  def row(self, key, what, figure, text, target, ok, error, seconds, cmd,
          note=None):
    """One table row; ``ok(figure)`` decides PASS/FAIL (None: no target);
    ``note`` is printed under the table."""
    if error is not None:
      verdict = ("SKIPPED" if error.startswith(("skipped", "torch not"))
                 else "NOT RUN" if error.startswith("not run")
                 else "TIMED OUT" if error.startswith("timed out")
                 else "FAILED")
      figure, text = None, error
    elif self.args.dry_run:
      verdict = "ran (dry run)"
    elif ok is None:
      verdict = "info"
    else:
      verdict = "PASS" if ok(figure) else "FAIL"
    self.rows.append({"key": key, "what": what, "figure": figure, "text": text,
                      "target": target, "verdict": verdict, "error": error,
                      "seconds": round(seconds, 2), "note": note,
                      "command": [str(c) for c in cmd]})


def _explain(status, tail):
  if status is None:
    return None
  return f"{status}: {tail}" if tail and status.startswith("exit") else status


def _wall(meta, seconds) -> str:
  if meta is None:
    return ""
  return (f"{seconds:.1f} s (compile {meta.get('compile_s', 0):.1f}, run "
          f"{meta.get('run_s', 0):.1f}; {meta.get('runs', '?')} runs, block "
          f"{meta.get('block')})")


def configurations(name: str, st) -> int:
  """Configurations of a remedies or compare setting (module docstring)."""
  from vanishing.experiments import compare, remedies
  if name == "remedies":
    return sum(len(st.cells) * len(st.remedies)
               * len(remedies.Settings.spans(st, t)) for t in st.tasks)
  return sum(len(st.methods) * len(compare.Settings.spans(st, p))
             for p in compare.Settings.problem_names(st))


def extrapolate(name: str, meta, seconds) -> tuple[float, str]:
  """The full ``--paper`` run's seconds by ``RULE``, and how."""
  from vanishing import methods
  from vanishing.experiments import compare, remedies
  paper = {"remedies": remedies.PAPER, "compare": compare.PAPER}[name]
  if name == "compare":
    paper = SimpleNamespace(**{**vars(paper), "methods": tuple(
        m for m in paper.methods if m in methods.available())})
  st = SimpleNamespace(**meta["settings"])  # as in the sidecar: trials a dict
  n_slice = st.trials["count"] * configurations(name, st)
  n_full = paper.trials.count * configurations(name, paper)
  est = seconds * n_full / n_slice
  return est, (f"{est / 3600:.2f} h = {seconds:.1f} s x {n_full:,} / "
               f"{n_slice:,} (trials x configurations)")


def slice_estimate(out: Path, name: str, meta, seconds, err):
  """``(estimate, text, error)`` of a ``--paper`` slice by ``RULE``; for a
  slice that timed out, a lower bound (a figure where it exceeds 1 h)."""
  if err is not None and err.startswith("timed out"):
    found = sorted(out.glob(f".{name}_chunks/*/manifest.json"))
    if not found:  # it timed out before its first sweep began
      return None, "", err
    est, text = extrapolate(name, json.loads(found[0].read_text()), seconds)
    if est <= 3600:
      return None, "", f"{err}; full > {est / 3600:.2f} h"
    return est, f"> {text} ({err}: a lower bound)", None
  if err is not None:
    return None, "", err
  try:
    return (*extrapolate(name, meta, seconds), None)
  except Exception as e:  # a sidecar this script cannot read: say so
    return None, "", f"extrapolation failed: {type(e).__name__}: {e}"


def run(args) -> int:
  # This process only reads settings: it must not take the GPU the pieces
  # run on (the children's environment was copied before this).
  os.environ["JAX_PLATFORMS"] = "cpu"
  r = Runner(args)
  dry = args.dry_run
  flags = lambda key: DRY[key] if dry else FULL[key]

  meta, s, err, cmd = r.experiment("density", "density", flags("density"))
  r.row("density_paper_wall_s", "density --paper" + (" (dry: tiny)" if dry
        else ""), s, _wall(meta, s), "<= 15 s", lambda x: x <= 15, err, s, cmd)

  data, s, err, cmd = r.script("throughput", "throughput.py",
                               flags("throughput"))
  d = data or {}
  r.row("engine_rate", "throughput.py engine", d.get("engine"),
        f"{d.get('engine', 0):.3g} neuron-steps/s, block {d.get('block')}",
        ">= 1e11 /s", lambda x: x >= 1e11, err, s, cmd)
  r.row("engine_over_reference", "engine / plain-JAX reference",
        d.get("engine_over_reference"),
        f"{d.get('engine_over_reference', 0):.1%} (reference "
        f"{d.get('reference', 0):.3g}, {d.get('reference_form')}, at "
        f"{d.get('reference_runs')} runs)",
        "reported", None, err, s, cmd)

  if importlib.util.find_spec("torch") is None:
    data, s, err, cmd = None, 0.0, "torch not installed", []
  else:
    data, s, err, cmd = r.script("peers", "peers.py", flags("peers"))
    if err and err.startswith("exit 2") and "needs PyTorch" in err:
      err = "torch not installed (for the subprocess)"
  d = data or {}
  r.row("engine_over_torch", "peers.py engine / torch", d.get(
      "engine_over_torch"), f"{d.get('engine_over_torch', 0):.2f}x (engine "
        f"{d.get('engine', 0):.3g}, torch {d.get('torch', 0):.3g} on "
        f"{d.get('torch_device')})" + (f"; {d['warning']}" if "warning" in d
                                       else ""),
        ">= 3x", lambda x: x >= 3, err, s, cmd)

  walls = {}
  for name, target in (("remedies", 30), ("compare", 60)):
    meta, s, err, cmd = r.experiment(name, name, flags(name))
    walls[name] = None if err else s
    r.row(f"{name}_wall_s", f"{name} defaults" + (" (dry: tiny)" if dry
          else ""), s, _wall(meta, s), f"<= {target} s",
          lambda x, t=target: x <= t, err, s, cmd)

  for name, given in (("remedies", args.remedies_slice),
                      ("compare", args.compare_slice)):
    key = f"{name}_paper"
    slice_flags = DRY[key] if dry else ["--paper", *shlex.split(given)]
    meta, s, err, cmd = r.experiment(key, name, slice_flags)
    est, text, err = slice_estimate(r.out / key, name, meta, s, err)
    r.row(f"{key}_est_s", f"{name} --paper, estimated from a slice", est,
          text, "<= 1 h", lambda x: x <= 3600, err, s, cmd,
          note=f"slice: {name} {shlex.join(slice_flags)}; {RULE}")

  for w in args.widths:
    key, s, cmd, meta = f"compare_block_{w}", 0.0, [], None
    if dry:
      err = "skipped under --dry-run"
    elif walls["compare"] is None:
      err = "skipped: the default compare run did not finish"
    elif r.left() < 1.25 * walls["compare"]:
      err = (f"not run: {max(r.left(), 0):.0f} s left, compare defaults took "
             f"{walls['compare']:.0f} s")
    else:
      meta, s, err, cmd = r.experiment(key, "compare", [f"--block={w}"],
                                       cap=CAPS["compare"])
    r.row(f"{key}_wall_s", f"compare defaults, --block={w}", s,
          _wall(meta, s), "reported", None, err, s, cmd)

  elapsed = time.perf_counter() - r.t0
  print(table(r.rows, r.platform, elapsed, args))
  if args.json:
    from vanishing.engine import results
    results.write_json(Path(args.json), {
        "dry_run": dry, "platform": r.platform, "budget_s": args.budget,
        "elapsed_s": elapsed, "out_dir": str(r.out), "rule": RULE,
        "rows": r.rows})
  return 0


def table(rows, platform, elapsed, args) -> str:
  head = ("what", "figure", "target", "verdict")
  notes = [r["note"] for r in rows if r["note"]]
  mark = lambda r: f" [{notes.index(r['note']) + 1}]" if r["note"] else ""
  cells = [head] + [(r["what"] + mark(r), r["text"], r["target"], r["verdict"])
                    for r in rows]
  widths = [max(len(c[i]) for c in cells) for i in range(4)]
  line = lambda c: " | ".join(x.ljust(w) for x, w in zip(c, widths)).rstrip()
  mode = (" --dry-run (tiny sizes; verdicts say only that a piece ran)"
          if args.dry_run else "")
  out = [f"gpu_check{mode} on {platform or 'unknown platform'}: "
         f"{elapsed:.0f} s of a {args.budget:g}-s budget; outputs and logs in "
         f"{args.out_dir}", line(head), "-+-".join("-" * w for w in widths)]
  return "\n".join(out + [line(c) for c in cells[1:]]
                   + [f"[{i}] {n}" for i, n in enumerate(notes, 1)])


def parse_args(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--json", metavar="FILE", help="also write the rows here")
  ap.add_argument("--dry-run", action="store_true",
                  help="every piece at tiny sizes on any device (CI)")
  ap.add_argument("--out_dir", help="where every piece writes (default: a new "
                  "temporary directory, kept)")
  ap.add_argument("--budget", type=float, default=BUDGET,
                  help="seconds for every piece together; each piece's limit "
                       "scales with it")
  ap.add_argument("--widths", default="8,32",
                  help="--block widths compare defaults is timed at, commas")
  ap.add_argument("--remedies_slice", default=REMEDIES_SLICE,
                  help="flags after 'remedies --paper' for its slice")
  ap.add_argument("--compare_slice", default=COMPARE_SLICE,
                  help="flags after 'compare --paper' for its slice")
  args = ap.parse_args(argv)
  if not (args.budget > 0 and args.budget < float("inf")):
    ap.error(f"--budget must be a finite number > 0, got {args.budget}")
  widths = [w.strip() for w in args.widths.split(",") if w.strip()]
  if not all(w.isdigit() and int(w) >= 1 for w in widths):
    ap.error(f"--widths must be integers >= 1 separated by commas, got "
             f"{args.widths!r}")
  args.widths = [int(w) for w in widths]
  for name in ("remedies_slice", "compare_slice"):
    try:
      shlex.split(getattr(args, name))
    except ValueError as e:
      ap.error(f"--{name}: {e}")
  if args.json and not Path(args.json).resolve().parent.is_dir():
    ap.error(f"--json: no directory {Path(args.json).resolve().parent}")
  if args.out_dir is None:
    args.out_dir = tempfile.mkdtemp(prefix="gpu_check-")
  try:
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
  except OSError as e:
    ap.error(f"--out_dir: cannot create {args.out_dir}: {e.strerror or e}")
  args.out_dir = str(Path(args.out_dir).resolve())
  return args


if __name__ == "__main__":
  sys.path.insert(0, str(REPO))  # the repository's package, installed or not
  sys.exit(run(parse_args()))
