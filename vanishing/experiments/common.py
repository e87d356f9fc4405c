"""What the convergence experiments share: settings, outputs on disk."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from vanishing import results
from vanishing.experiments import protocol
from vanishing.experiments.convergence import NOISE_MODES, LatchConfig
from vanishing.validation import FlagError


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of a convergence sweep over (w0, s, lr) [x T].

  Attributes:
    w0, s, lr: swept values (each a tuple, swept as a grid).
    T: sequence lengths; the density experiment takes exactly one.
    trials: independent runs per grid cell.
    seed: root seed.
    config: static run settings; its ``T`` is replaced per length.
    chunk: runs per compiled call (memory bound), None for the default.
    heldout_acc: held-out accuracy a converged run needs to count in
      ``heldout_ok``.
  """
  w0: tuple[float, ...]
  s: tuple[float, ...]
  lr: tuple[float, ...]
  T: tuple[int, ...]
  trials: int
  seed: int = 0
  config: LatchConfig = LatchConfig()
  chunk: int | None = None
  heldout_acc: float = 0.9

  def axes(self) -> dict[str, np.ndarray]:
    return {"w0": np.asarray(self.w0, np.float64),
            "s": np.asarray(self.s, np.float64),
            "lr": np.asarray(self.lr, np.float64)}

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


# ---------------------------------------------------------------------------
# Flags of the latch experiments (density, length, gradients), declared once.

def _optimizer(flag: str, name: str) -> str:
  from vanishing import optimizers
  if name not in optimizers.available():
    raise FlagError(flag, f"unknown {name!r}; choose sgd, momentum, nesterov, "
                    "or an optax optimizer such as adam, rmsprop")
  return name


W0 = protocol.grid("w0", "initial self-weights")
S = protocol.grid("s", "noise variances after step L", low=0,
                  noun="noise variances")
LR = protocol.grid("lr", "learning rates, swept without recompiling", low=0,
                   low_open=True, noun="learning rates")
TRIALS = protocol.integer("trials", "runs per grid cell")
# How one latch network is trained (LatchConfig).
TRAINING = (
    protocol.integer("L", "class-carrying steps, 1 <= L < T", field="config.L"),
    protocol.integer("epochs", "full-batch update budget",
                     field="config.epochs"),
    dataclasses.replace(protocol.N_PER_CLASS, field="config.n_per_class"),
    dataclasses.replace(protocol.TEST_PER_CLASS, field="config.test_per_class"),
    protocol.Flag("optimizer", str, "sgd (plain gradient descent), momentum, "
                  "nesterov, or an optax optimizer", "sgd, momentum, nesterov "
                  "or an optax optimizer name (adam, rmsprop, ...)",
                  "config.optimizer", _optimizer, metavar="NAME"),
    protocol.real("momentum", "momentum of momentum and nesterov", low=0,
                  high=1, high_open=True, field="config.momentum"),
    protocol.choice("noise", "fixed: one training set per run; fresh: new "
                    "noise every epoch", NOISE_MODES, field="config.noise"),
    protocol.real("h_init", "initial h ~ U[-h_init, h_init]", low=0,
                  field="config.h_init"),
    protocol.real("tol", "converged when every training sequence has "
                  "|x_T - d| < tol", low=0, high=1.6, low_open=True,
                  field="config.tol"),
)
HELDOUT_ACC = protocol.real("heldout_acc", "held-out accuracy a converged run "
                            "needs to count as heldout_ok", low=0, high=1)


def latch_settings(given: protocol.Given, train_T: int) -> Any:
  """Settings of a latch experiment: every T and the training length
  ``train_T`` (its ``config.T``) above L."""
  L, T = given.value("L"), given.value("T")
  if min(T) <= L:
    raise FlagError("T", f"every T must exceed L = {L}, got {min(T)}")
  if train_T <= L:
    raise FlagError("L", f"must be below the training length T = {train_T}")
  return given.settings({"config.T": int(train_T)})


# options(tag) -> extra keyword arguments for ``sweep.run`` (store, devices,
# process, progress) for the sweep an experiment names ``tag`` ("" for its
# only sweep, "T0040" for the length experiment's T = 40, ...).
SweepOptions = Callable[[str], dict]


def sweep_options(options: SweepOptions | None, label: Callable[[str], str]
                  ) -> SweepOptions:
  """``options`` with a progress line per sweep unless it brings its own."""
  from vanishing import sweep
  def get(tag: str) -> dict:
    kw = dict(options(tag)) if options else {}
    kw.setdefault("progress", sweep.ProgressPrinter(label(tag)))
    return kw
  return get


@dataclasses.dataclass
class Outcome:
  """What an experiment hands to the command line to write and print.

  Attributes:
    tables: file key -> columns of equal length; key ``""`` is
      ``<name>.csv``, any other key ``k`` is ``<name>_<k>.csv``; key
      ``"runs"`` holds one row per run (skipped by ``--norecords``).
    figure: a matplotlib figure, saved as ``<name>.png``.
    summary: text for the terminal.
    meta: timings and sweep facts for the JSON sidecar ``<name>.json``.
    markdown: a Markdown report, written as ``<name>.md`` (or None).
  """
  tables: dict[str, dict[str, np.ndarray]]
  figure: Any
  summary: str
  meta: dict[str, Any]
  markdown: str | None = None


def output_paths(out_dir: Path, name: str, table_keys) -> dict[str, Path]:
  """The files experiment ``name`` writes in ``out_dir``, by key.

  Tables by their key, then ``"figure"`` and ``"meta"``.
  """
  out_dir = Path(out_dir)
  paths = {k: out_dir / (f"{name}_{k}.csv" if k else f"{name}.csv")
           for k in table_keys}
  paths.update(markdown=out_dir / f"{name}.md", figure=out_dir / f"{name}.png",
               meta=out_dir / f"{name}.json")
  return paths


def existing_outputs(out_dir: Path, name: str, table_keys) -> list[Path]:
  return [p for p in output_paths(out_dir, name, table_keys).values()
          if p.exists()]


def write_outputs(out_dir: Path, name: str, table_keys, outcome: Outcome,
                  meta: Mapping[str, Any]) -> list[Path]:
  """Writes tables, figure, then the JSON sidecar, each atomically.

  The sidecar goes last: its presence says the set is complete (a set
  without it, left by a run that died while writing, is simply replaced). A known
  table of this experiment that this run did not produce (an old per-run
  file after ``--norecords``) is removed, so the set stays consistent.
  """
  paths = output_paths(out_dir, name, table_keys)
  written = []
  for key in table_keys:
    if key in outcome.tables:
      results.write_csv(paths[key], outcome.tables[key])
      written.append(paths[key])
    elif paths[key].exists():
      paths[key].unlink()
  if outcome.markdown is not None:
    results.write_text(paths["markdown"], outcome.markdown)
    written.append(paths["markdown"])
  elif paths["markdown"].exists():
    paths["markdown"].unlink()
  results.save_figure(outcome.figure, paths["figure"])
  written.append(paths["figure"])
  meta = dict(meta, files=[p.name for p in written] + [paths["meta"].name],
              finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
  results.write_json(paths["meta"], meta)
  return written + [paths["meta"]]
