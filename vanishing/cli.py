"""Command line: ``python -m vanishing <experiment> [--flags]``.

Flags and their validation only; the work is in :mod:`vanishing.experiments`.
A bad flag value ends the program with exit status 2 and one line naming the
flag and what is allowed, before any computation or any file is written.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import sys
import time
from pathlib import Path

from absl import app, flags, logging

EXPERIMENTS = ("density", "length", "gradients", "compare", "guessing")

FLAGS = flags.FLAGS
_UNSET = "experiment default"

flags.DEFINE_string("out_dir", "results", "Directory for result files.")
flags.DEFINE_integer("seed", 0, "Root seed; run i uses fold_in(key(seed), i).")
flags.DEFINE_integer("trials", None, f"Runs per grid cell ({_UNSET}).")
flags.DEFINE_string("w0", None, "Initial self-weights: a value, a list 'a,b,c' "
                    f"or a range 'start:stop:num' (inclusive) ({_UNSET}).")
flags.DEFINE_string("s", None, f"Noise variances, grid syntax as --w0 ({_UNSET}).")
flags.DEFINE_string("lr", None, "Learning rates, grid syntax as --w0; swept "
                    f"without recompiling ({_UNSET}).")
flags.DEFINE_string("T", None, "Sequence length: one value for density, a grid "
                    "of integers for length, evaluation lengths for gradients "
                    f"({_UNSET}).")
flags.DEFINE_string("w", None, "gradients: self-weights whose state Jacobian "
                    "decay is measured, grid syntax as --w0 (default "
                    "0.5,0.9,1.25,1.5,2,3).")
flags.DEFINE_integer("steps", None, "gradients: horizon of the decay "
                     "measurement (default 40).")
flags.DEFINE_integer("eval_per_class", None, "gradients: held-out sequences per "
                     "class and trained network (default 25).")
flags.DEFINE_integer("L", None, "Class-carrying steps, 1 <= L < T (default 3).")
flags.DEFINE_integer("epochs", None, "Full-batch update budget (default 1000).")
flags.DEFINE_string("optimizer", None, "sgd (plain gradient descent, default), "
                    "momentum, nesterov, or any optax optimizer name (adam, ...).")
flags.DEFINE_float("momentum", None, "Momentum for momentum/nesterov (default 0.9).")
flags.DEFINE_integer("n_per_class", None, "Training sequences per class (default 10).")
flags.DEFINE_integer("test_per_class", None,
                     "Held-out sequences per class (default 100).")
flags.DEFINE_string("noise", None, "fixed: one training set per run (default); "
                    "fresh: new noise every epoch.")
flags.DEFINE_float("h_init", None, "Initial h ~ U[-h_init, h_init] (default 0.1).")
flags.DEFINE_float("tol", None, "Converged when every training sequence has "
                   "|x_T - d| < tol (default 0.4).")
flags.DEFINE_float("heldout_acc", None, "Held-out accuracy a converged run needs "
                   "to count as heldout_ok (default 0.9).")
flags.DEFINE_integer("chunk", None, "Runs per compiled call; bounds memory, "
                     "never changes results (default 4096).")
flags.DEFINE_boolean("records", True, "Also write one row per run (<name>_runs.csv).")
flags.DEFINE_boolean("overwrite", False, "Replace results already in --out_dir.")
flags.DEFINE_integer("devices", 0, "Local devices to shard each sweep over "
                     "(0: all); results do not depend on it.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0, for a "
                    "sweep run by several processes (jax.distributed).")
flags.DEFINE_integer("num_processes", 1, "Processes cooperating on the sweep.")
flags.DEFINE_integer("process_id", 0, "This process's index, 0 .. num_processes-1.")
flags.DEFINE_boolean("keep_chunks", False, "Keep the finished chunk files "
                     "(<out_dir>/.<name>_chunks) after the results are written.")
# compare (Section VI, Table I)
flags.DEFINE_string("problems", None, "compare: problems, a list of latch, "
                    "two_sequence, parity (default all).")
flags.DEFINE_string("methods", None, "compare: training methods, a list "
                    "(default all; see README).")
flags.DEFINE_string("T_values", None, "compare: spans T, grid syntax as --w0, "
                    "integers >= 2 (default 10,20,50).")
flags.DEFINE_integer("budget", None, "compare: function evaluations per trial "
                     "(default 5000).")
flags.DEFINE_integer("patience", None, "compare: stop as stuck after this many "
                     "evaluations without improvement (default 1000).")
flags.DEFINE_float("target_cost", None, "compare: solved when the training set "
                   "is classified without error and the cost is below this "
                   "(default 0.01).")
flags.DEFINE_string("hparams", None, "compare: method hyper-parameters, "
                    "'method.name=value,...' (defaults in README).")
flags.DEFINE_string("noise_kind", None, "compare: input noise law: uniform "
                    "(default), gaussian or none.")
flags.DEFINE_float("noise_scale", None, "compare: uniform noise half-width or "
                   "gaussian variance, in [0, 1] (default 0.2).")
# guessing (Hochreiter, Schmidhuber & Bengio 2001)
flags.DEFINE_string("variants", None, "guessing: a list of latch1, latch2, "
                    "parity_a1, parity_a2, parity_a2_noself (default all).")
flags.DEFINE_integer("runs", None, "guessing: independent runs per variant.")
flags.DEFINE_integer("max_trials", None, "guessing: weight draws per run before "
                     "the run is reported as censored.")
flags.DEFINE_string("weight_range", None, "guessing: 'low,high' of the uniform "
                    "weight draws (default -100,100).")
flags.DEFINE_string("input_noise", None, "guessing: none, uniform or both "
                    "(default both).")
flags.DEFINE_string("length_range", None, "guessing: 'min,max' parity sequence "
                    "lengths (default 500,600).")
flags.DEFINE_boolean("paper", False, "Full-size preset (see README); other "
                     "flags still override it.")


from vanishing.validation import FlagError, parse_grid  # noqa: F401,E402


def _experiment(name: str):
  import importlib
  return importlib.import_module(f"vanishing.experiments.{name}")


def build_settings(name: str, fv=None):
  """Settings of experiment ``name`` from flag values, validated.

  Args:
    name: an entry of ``EXPERIMENTS``.
    fv: object with the flag attributes (``FLAGS`` by default).

  Raises:
    FlagError: the first flag whose value is not allowed.
  """
  fv = fv or FLAGS
  exp = _experiment(name)
  if hasattr(exp, "settings_from_flags"):
    return exp.settings_from_flags(fv)
  base = exp.PAPER if fv.paper else exp.DEFAULT
  cfg = base.config
  get = lambda flag, default: default if getattr(fv, flag) is None else getattr(fv, flag)

  w0 = parse_grid(fv.w0, "w0") if fv.w0 is not None else base.w0
  s = parse_grid(fv.s, "s") if fv.s is not None else base.s
  if any(v < 0 for v in s):
    raise FlagError("s", f"noise variances must be >= 0, got {fv.s!r}")
  lr = parse_grid(fv.lr, "lr") if fv.lr is not None else base.lr
  if any(v <= 0 for v in lr):
    raise FlagError("lr", f"learning rates must be > 0, got {fv.lr!r}")
  T = parse_grid(fv.T, "T", integer=True) if fv.T is not None else base.T
  if name == "density" and len(T) != 1:
    raise FlagError("T", f"density takes one sequence length, got {fv.T!r}")
  config = _config(fv, cfg, T, train_T=T[0] if name != "gradients" else cfg.T)
  trials = get("trials", base.trials)
  if trials < 1:
    raise FlagError("trials", f"must be >= 1, got {trials}")
  if name == "gradients":
    w = parse_grid(fv.w, "w") if fv.w is not None else base.w
    steps = get("steps", base.steps)
    if steps < 2:
      raise FlagError("steps", f"must be >= 2, got {steps}")
    n_eval = get("eval_per_class", base.eval_per_class)
    if n_eval < 1:
      raise FlagError("eval_per_class", f"must be >= 1, got {n_eval}")
    return dataclasses.replace(base, w=w, steps=steps, w0=w0, s=s, lr=lr, T=T,
                               trials=trials, eval_per_class=n_eval,
                               seed=fv.seed, config=config)
  heldout_acc = get("heldout_acc", base.heldout_acc)
  if not 0 <= heldout_acc <= 1:
    raise FlagError("heldout_acc", f"must be in [0, 1], got {heldout_acc}")
  chunk = fv.chunk
  if chunk is not None and chunk < 1:
    raise FlagError("chunk", f"must be >= 1, got {chunk}")
  return dataclasses.replace(base, w0=w0, s=s, lr=lr, T=T, trials=trials,
                             seed=fv.seed, config=config, chunk=chunk,
                             heldout_acc=heldout_acc)


def _config(fv, cfg, T: tuple[int, ...], train_T: int):
  """The static training settings from the flags, validated."""
  from vanishing import optimizers
  from vanishing.experiments.convergence import NOISE_MODES
  get = lambda flag, default: default if getattr(fv, flag) is None else getattr(fv, flag)
  L = get("L", cfg.L)
  if L < 1:
    raise FlagError("L", f"must be >= 1, got {L}")
  if min(T) <= L:
    raise FlagError("T", f"every T must exceed L = {L}, got {min(T)}")
  if train_T <= L:
    raise FlagError("L", f"must be below the training length T = {train_T}")
  for flag in ("epochs", "n_per_class", "test_per_class"):
    v = get(flag, getattr(cfg, flag))
    if v < 1:
      raise FlagError(flag, f"must be >= 1, got {v}")
  optimizer = get("optimizer", cfg.optimizer)
  if optimizer not in optimizers.available():
    raise FlagError("optimizer", f"unknown {optimizer!r}; choose sgd, momentum, "
                    "nesterov, or an optax optimizer such as adam, rmsprop")
  momentum = get("momentum", cfg.momentum)
  if not 0 <= momentum < 1:
    raise FlagError("momentum", f"must be in [0, 1), got {momentum}")
  noise = get("noise", cfg.noise)
  if noise not in NOISE_MODES:
    raise FlagError("noise", f"must be one of {', '.join(NOISE_MODES)}, got {noise!r}")
  h_init = get("h_init", cfg.h_init)
  if not (math.isfinite(h_init) and h_init >= 0):
    raise FlagError("h_init", f"must be finite and >= 0, got {h_init}")
  tol = get("tol", cfg.tol)
  if not 0 < tol <= 1.6:
    raise FlagError("tol", f"must be in (0, 1.6], got {tol}")
  return dataclasses.replace(
      cfg, T=train_T, L=L, epochs=get("epochs", cfg.epochs),
      n_per_class=get("n_per_class", cfg.n_per_class),
      test_per_class=get("test_per_class", cfg.test_per_class),
      h_init=h_init, tol=tol, noise=noise, optimizer=optimizer,
      momentum=momentum)


# Flags every experiment takes (where and how results are written and run).
_RUN_FLAGS = frozenset({"out_dir", "seed", "records", "overwrite", "devices",
                        "coordinator_address", "num_processes", "process_id",
                        "keep_chunks", "paper"})


class _Reads:
  """The flag values, recording which flags an experiment's settings read."""

  def __init__(self, fv):
    self._fv = fv
    self.names: set[str] = set()

  def __getattr__(self, name):
    self.names.add(name)
    return getattr(self._fv, name)


def _check_applies(name: str, read: set[str]) -> None:
  """A flag given on the command line that ``name`` never reads is an error,
  not silently ignored (``--w0`` to ``compare``, ``--budget`` to
  ``density``)."""
  mine = [f.name for f in FLAGS.get_key_flags_for_module(sys.modules[__name__])]
  for flag in mine:
    if FLAGS[flag].present and flag not in read and flag not in _RUN_FLAGS:
      raise FlagError(flag, f"does not apply to {name} (see python -m "
                      f"vanishing {name} --helpfull)")


def _fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def _parse_flags(argv):
  try:
    return FLAGS(argv)
  except flags.Error as e:
    _fail(str(e).splitlines()[0])


def _flag_values() -> dict:
  names = [f.name for f in FLAGS.get_key_flags_for_module(sys.modules[__name__])]
  return {n: FLAGS[n].value for n in names}


def _scale_out():
  """Validated ``(devices, process_id, num_processes)`` from the flags."""
  if FLAGS.devices < 0:
    raise FlagError("devices", f"must be >= 0 (0: all local devices), got {FLAGS.devices}")
  if FLAGS.num_processes < 1:
    raise FlagError("num_processes", f"must be >= 1, got {FLAGS.num_processes}")
  if not 0 <= FLAGS.process_id < FLAGS.num_processes:
    raise FlagError("process_id", f"must be in [0, {FLAGS.num_processes}), "
                    f"got {FLAGS.process_id}")
  if FLAGS.num_processes > 1:
    addr = FLAGS.coordinator_address or ""
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
      raise FlagError("coordinator_address", "a multi-process sweep needs "
                      f"host:port of process 0, got {addr!r}")
    if FLAGS.overwrite:
      raise FlagError("overwrite", "not with --num_processes > 1 (processes "
                      "would clear each other's chunks); empty --out_dir first")
  return FLAGS.devices, FLAGS.process_id, FLAGS.num_processes


def main(argv) -> None:
  logging.set_verbosity(logging.WARNING)  # keep JAX's backend probing quiet
  if len(argv) != 2 or argv[1] not in EXPERIMENTS:
    got = " ".join(argv[1:]) or "nothing"
    _fail(f"experiment: give exactly one of {', '.join(EXPERIMENTS)} "
          f"(got {got})")
  name = argv[1]
  try:
    read = _Reads(FLAGS)
    settings = build_settings(name, read)
    _check_applies(name, read.names)
    n_devices, proc_id, n_proc = _scale_out()
  except FlagError as e:
    _fail(str(e))

  from vanishing.experiments import common
  exp = _experiment(name)
  out_dir = Path(FLAGS.out_dir)
  existing = common.existing_outputs(out_dir, name, exp.TABLES)
  complete = common.output_paths(out_dir, name, exp.TABLES)["meta"] in existing
  if complete and not FLAGS.overwrite:
    _fail(f"--out_dir: {out_dir} already holds {name} results "
          f"({', '.join(p.name for p in existing)}); pass --overwrite or "
          "choose another --out_dir")
  from vanishing import results, store, sweep
  try:
    results.check_writable(out_dir)
  except OSError as e:
    _fail(f"--out_dir: cannot write to {out_dir}: {e.strerror or e}")

  import jax
  if n_proc > 1:
    jax.distributed.initialize(FLAGS.coordinator_address, n_proc, proc_id)
  local = jax.local_devices()
  if n_devices > len(local):
    _fail(f"--devices: {n_devices} requested, this process has {len(local)}")
  devices = local[:n_devices] if n_devices else local

  # Everything that decides the results, for the chunk stores' manifests;
  # chunk size, device and process counts do not.
  # The block width is the experiment's own where it sets one.
  config = {"experiment": name, "block": getattr(exp, "BLOCK", sweep.BLOCK),
            "settings": {k: v for k, v in settings.to_json().items() if k != "chunk"}}
  chunk_root = out_dir / f".{name}_chunks"
  if FLAGS.overwrite and chunk_root.exists():
    shutil.rmtree(chunk_root)  # also stores of sweeps this run will not make
  stores = {}

  def options(tag: str) -> dict:
    stores[tag] = store.ChunkStore(chunk_root / (tag or "all"),
                                   dict(config, sweep=tag))
    return {"store": stores[tag], "devices": devices,
            "process": (proc_id, n_proc), "collect": False}

  t0 = time.perf_counter()
  try:
    outcome = exp.execute(settings, options)
  except store.ConfigMismatch as e:
    _fail(f"--out_dir: {e}; pass --overwrite or choose another --out_dir")
  except OSError as e:
    _fail(f"--out_dir: writing to {out_dir} failed: {e.strerror or e}")
  for st in stores.values():
    for line in st.reports:
      print(f"{name}: {line}", file=sys.stderr)
  if outcome is None:
    print(f"{name}: process {proc_id} of {n_proc} finished its share of the "
          "chunks; process 0 writes the results")
    return
  if not FLAGS.records:
    outcome.tables.pop("runs", None)
  meta = {"experiment": name, "command": sys.argv, "flags": _flag_values(),
          "settings": settings.to_json(), **outcome.meta,
          "devices": len(devices), "processes": n_proc,
          "wall_s": time.perf_counter() - t0, **results.environment()}
  try:
    paths = common.write_outputs(out_dir, name, exp.TABLES, outcome, meta)
  except OSError as e:
    _fail(f"--out_dir: writing results to {out_dir} failed: {e.strerror or e}")
  if not FLAGS.keep_chunks:
    for st in stores.values():
      st.remove()
    if chunk_root.exists() and not any(chunk_root.iterdir()):
      chunk_root.rmdir()
  print(outcome.summary)
  print("wrote " + ", ".join(str(p) for p in paths))


def run() -> None:
  """Entry point of ``python -m vanishing``."""
  app.run(main, flags_parser=_parse_flags)
