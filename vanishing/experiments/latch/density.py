"""Convergence density over (w0, s): Bengio, Simard & Frasconi (1994), Sec. III.

The minimal latch task at L = 3, T = 20, trained by BPTT from initial
self-weight ``w0`` with noise variance ``s`` after step L. The score of a grid
cell is the fraction of its trials whose training converged (see
:mod:`vanishing.experiments.latch.training`). The paper reports a clear region
of high convergence density; here it lies at w0 >= 1 and small s and shrinks
as s grows (docs/density.md discusses why).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vanishing.engine.series import Sweeps
from vanishing.experiments import flags, lyapunov
from vanishing.experiments.flags import FlagError, parse_grid
from vanishing.experiments.latch import common
from vanishing.experiments.latch.training import (LatchConfig, latch_runs,
                                                  summarize)
from vanishing.experiments.skeleton import Experiment, Outcome

NAME = "density"
SUMMARY = "convergence density of the latch over (w0, s) (Sec. III)"
TABLES = ("", "runs", "trainability")  # density.csv, density_runs.csv, ...


def _one_length(flag: str, text: str) -> tuple[int, ...]:
  T = parse_grid(text, flag, integer=True)
  if len(T) != 1:
    raise FlagError(flag, f"density takes one sequence length, got {text!r}")
  return T


def _zero_or_one(flag: str, k: int) -> int:
  if k not in (0, 1):
    raise FlagError(flag, f"must be 0 or 1 (the latch has one state), got {k}")
  return k


@dataclasses.dataclass(frozen=True)
class Settings(common.Settings):
  """The latch sweep's settings (``common.Settings``) at one length ``T``;
  ``lyapunov``: record each run's exponent (``training.lyapunov_exponent``)
  at w0 and at the end, and the trainability table."""
  T: tuple[int, ...] = flags.setting(flags.Flag(
      kind=str, help="sequence length", allowed="one integer > L",
      parse=_one_length, metavar="INT"))
  lyapunov: int = flags.setting(flags.Flag(
      kind=int, help=lyapunov.FLAG.help, allowed="0 or 1 (one state)",
      parse=_zero_or_one, metavar="INT"), 0)  # off: +18% (BUILD_NOTES)


def from_flags(given: flags.Given) -> Settings:
  return common.latch_settings(given, train_T=given.value("T")[0])

DEFAULT = Settings(
    w0=tuple(np.linspace(0.5, 3.0, 11).tolist()),
    s=tuple(np.linspace(0.0, 1.0, 11).tolist()),
    lr=(0.01,), T=(20,), trials=64, config=LatchConfig(T=20, L=3, epochs=1000))

# Full-size grid: 26 x 21 cells x 1000 trials (546,000 runs).
PAPER = Settings(
    w0=tuple(np.linspace(0.5, 3.0, 26).tolist()),
    s=tuple(np.linspace(0.0, 1.0, 21).tolist()),
    lr=(0.01,), T=(20,), trials=1000, config=LatchConfig(T=20, L=3, epochs=1000))

# A few seconds, for smoke tests.
TESTING = Settings(w0=(0.5, 1.5, 3.0), s=(0.0, 0.5), lr=(0.01,), T=(20,),
                   trials=8, config=LatchConfig(T=20, L=3, epochs=50),
                   lyapunov=1)


def run(settings: Settings, sweeps: Sweeps = Sweeps()):
  """Runs the sweep (tag ``""``); returns ``(table, sweep_result)``, or
  None on a process other than 0 of a multi-process sweep."""
  if len(settings.T) != 1:
    raise ValueError("the density experiment takes exactly one T")
  cfg = settings.config
  fn = latch_runs(cfg, settings.lyapunov)
  res = sweeps.run("", fn, settings.axes(), settings.trials, settings.seed,
                   chunk=settings.chunk)
  if res is None:
    return None
  table = summarize(res, settings.heldout_acc, rate_name="density")
  T = np.full(len(table["trials"]), cfg.T)
  table = {"w0": table.pop("w0"), "s": table.pop("s"), "lr": table.pop("lr"),
           "T": T, **table}
  return table, res


def figure(table, settings: Settings):
  """Heatmap of convergence density, one panel per learning rate."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  w0, s = np.unique(table["w0"]), np.unique(table["s"])
  lrs = np.unique(table["lr"])
  fig, axs = plt.subplots(1, len(lrs), figsize=(5.2 * len(lrs), 4.2),
                          squeeze=False, constrained_layout=True)
  for ax, lr in zip(axs[0], lrs):
    sel = table["lr"] == lr
    grid = _density_grid(table, sel, w0, s)
    mesh = ax.pcolormesh(_edges(s), _edges(w0), grid, vmin=0, vmax=1,
                         cmap="viridis", shading="flat")
    ax.set_xlabel("noise variance s")
    ax.set_ylabel("initial self-weight w0")
    ax.set_title(f"lr = {lr:g}")
  cfg = settings.config
  fig.suptitle(f"Density of training convergence (L = {cfg.L}, T = {cfg.T}, "
               f"{settings.trials} trials per cell, {cfg.epochs} epochs)")
  fig.colorbar(mesh, ax=axs[0].tolist(), label="convergence density")
  return fig


def _density_grid(table, sel, w0, s) -> np.ndarray:
  """Density of the rows ``sel`` as a (w0, s) matrix (NaN where absent)."""
  grid = np.full((len(w0), len(s)), np.nan)
  grid[np.searchsorted(w0, table["w0"][sel]),
       np.searchsorted(s, table["s"][sel])] = table["density"][sel]
  return grid


def _edges(centres: np.ndarray) -> np.ndarray:
  """Cell edges around sorted centres (a single centre gets width 1)."""
  c = np.asarray(centres, float)
  if len(c) == 1:
    return np.array([c[0] - 0.5, c[0] + 0.5])
  mid = (c[1:] + c[:-1]) / 2
  return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def text_map(table, max_cols: int = 21) -> str:
  """The density map as text (percent), rows w0, columns s; first lr only."""
  lr = np.unique(table["lr"])[0]
  sel = table["lr"] == lr
  w0, s = np.unique(table["w0"][sel]), np.unique(table["s"][sel])
  if len(s) > max_cols:
    return ""
  grid = _density_grid(table, sel, w0, s)
  lines = [f"convergence density (%), lr = {lr:g}; rows w0, columns s",
           "  w0 \\ s " + "".join(f"{v:5.2f}" for v in s)]
  for i in reversed(range(len(w0))):
    lines.append(f"{w0[i]:8.2f} " + "".join(f"{100 * p:5.0f}" for p in grid[i]))
  return "\n".join(lines)


def execute(settings: Settings, sweeps: Sweeps = Sweeps()) -> Outcome | None:
  """Runs the experiment with a progress line; builds table, figure, summary."""
  out = run(settings, sweeps.labelled(lambda tag: NAME))
  if out is None:
    return None
  table, res = out
  n_cells = len(table["trials"])
  k = table["converged"].sum()
  acc = (np.nansum(table["test_acc"] * table["converged"]) / k if k
         else float("nan"))
  summary = "\n".join(filter(None, [
      f"{NAME}: {n_cells} cells x {settings.trials} trials = {res.n_runs:,} runs"
      f" (compile {res.compile_s:.1f} s, run {res.run_s:.1f} s)",
      text_map(table),
      f"converged: {k / res.n_runs:.1%} of all runs; held-out accuracy of "
      f"converged runs: {acc:.3f}; diverged: {int(table['diverged'].sum())}",
  ]))
  meta = {"runs": res.n_runs, "compile_s": res.compile_s, "run_s": res.run_s,
          "sweep": {"chunk": settings.chunk}}
  tables = {"": table, "runs": res.iter_chunks()}
  if settings.lyapunov:
    rec = res.gather(("s", "lr", "lyapunov_init", "test_acc"))
    tables["trainability"] = lyapunov.trainability(
        {**rec, "success": rec["test_acc"] == 1}, ("s", "lr"))
  return Outcome(tables, figure(table, settings), summary, meta)


EXPERIMENT = Experiment(
    NAME, SUMMARY, Settings,
    {"default": DEFAULT, "paper": PAPER, "testing": TESTING},
    execute, TABLES, from_flags)
