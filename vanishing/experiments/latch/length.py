"""Frequency of training convergence versus T: Bengio et al. (1994), Sec. III.

The minimal latch task at s = 0.2, w0 = 1.25 (defaults), L = 3, for a range of
sequence lengths T. The lengths share a few compiled shapes (:func:`shapes`):
a run of length T computes in arrays of its shape's steps and stops after T
of them, with the same numbers at any shape. The lengths of one shape are
one sweep over T x (w0, s, lr) x trials, T an axis folded into the keys
(``sweep.run(folded=...)``): the runs of length T draw from ``fold_in(
fold_in(key(seed), T), i)`` as a sweep of that T alone would, so adding or
removing a T leaves the others unchanged. The paper's
claim: the frequency falls quickly as T grows.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from vanishing.cells import scan
from vanishing.engine import series
from vanishing.engine.series import Sweeps
from vanishing.experiments import flags
from vanishing.experiments.latch import common
from vanishing.experiments.latch.common import Settings
from vanishing.experiments.latch.training import (LatchConfig, latch_runs,
                                                  summarize)
from vanishing.experiments.skeleton import Experiment, Outcome

NAME = "length"
SUMMARY = "frequency of convergence of the latch versus T (Sec. III)"
TABLES = ("", "runs")  # length.csv, length_runs.csv
def from_flags(given: flags.Given) -> Settings:
  return common.latch_settings(given, train_T=given.value("T")[0])

DEFAULT = Settings(
    w0=(1.25,), s=(0.2,), lr=(0.01,), T=(5, 10, 15, 20, 30, 40, 60, 80, 100),
    trials=512, config=LatchConfig(T=5, L=3, epochs=1000))

# (config.T is the first length; each sweep replaces it with its own T.)
# Every 5 steps from 5 to 100, 2000 trials each.
PAPER = Settings(
    w0=(1.25,), s=(0.2,), lr=(0.01,), T=tuple(range(5, 101, 5)),
    trials=2000, config=LatchConfig(T=5, L=3, epochs=1000))

TESTING = Settings(w0=(1.25,), s=(0.2,), lr=(0.01,), T=(5, 30), trials=8,
                   config=LatchConfig(T=5, L=3, epochs=50))


def tag(n: int) -> str:
  """The name of the sweep of the lengths computed in ``n`` steps (its
  chunk store's subdirectory)."""
  return f"T{int(n):04d}"


# A masked latch loop of fewer steps than two of its unrolled iterations
# compiles differently (its numbers moved in the last bit); from there on a
# run's numbers do not depend on its shape (tests/experiments/latch/test_length.py).
MIN_SHAPE = 2 * scan.PARTIAL_UNROLL
# Compiled shapes at most: each costs a compile (2-3 s on 2 cores), each T
# costs its shape's steps instead of its own.
SHAPES = 3


def shapes(Ts, most: int = SHAPES) -> dict[int, int]:
  """T -> the steps of its compiled sweep.

  The sorted lengths are cut into at most ``most`` consecutive groups, each
  computed at its longest length (at least ``MIN_SHAPE``), choosing the cut
  that computes the fewest steps in all (dynamic programming over cuts).
  """
  ts = sorted({int(t) for t in Ts})
  cost = lambda i, j: max(ts[j - 1], MIN_SHAPE) * (j - i)  # group ts[i:j]
  # best[k][j]: fewest steps for ts[:j] in k groups, with its last cut.
  best = [{0: (0, 0)}]
  for k in range(1, min(most, len(ts)) + 1):
    best.append({j: min((best[k - 1][i][0] + cost(i, j), i)
                        for i in best[k - 1] if i < j)
                 for j in range(k, len(ts) + 1)})
  k = min(range(1, len(best)), key=lambda k: best[k][len(ts)][0])
  out, j = {}, len(ts)
  while k:
    i = best[k][j][1]
    out.update({t: max(ts[j - 1], MIN_SHAPE) for t in ts[i:j]})
    j, k = i, k - 1
  return out


def run(settings: Settings, sweeps: Sweeps = Sweeps()):
  """Runs one sweep per T; returns ``(table, runs, timing)``.

  ``runs`` yields the per-run records (with a ``T`` column) piece by piece.

  Args:
    settings: experiment settings.
    sweeps: where the sweeps run (one per compiled shape, tagged
      ``tag(n)``).

  Returns:
    None on a process other than 0 of a multi-process sweep.
  """
  shape = shapes(settings.T)
  groups: dict[int, list[int]] = {}  # shape -> its lengths, in order
  for T in settings.T:
    groups.setdefault(shape[int(T)], []).append(int(T))
  done = sweeps.series(series.Sweep(
      n, tag(n), latch_runs(dataclasses.replace(settings.config, T=n)),
      {"T": np.asarray(Ts, np.float64), **settings.axes()}, settings.trials,
      jax.random.key(settings.seed), {"chunk": settings.chunk,
                                      "folded": ("T",)})
      for n, Ts in groups.items())
  if done is None:
    return None
  runs, timing = done
  tables = [summarize(res, settings.heldout_acc, rate_name="frequency")
            for _, res in runs]
  table = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
  table["T"] = table["T"].astype(np.int64)
  order = np.argsort([settings.T.index(T) for T in table["T"]], kind="stable")
  table = {k: v[order] for k, v in table.items()}
  records = ({"T": np.asarray(part["T"]).astype(np.int64),
              **{k: v for k, v in part.items() if k != "T"}}
             for _, res in runs for part in res.iter_chunks())
  return table, records, timing


def figure(table, settings: Settings):
  """Frequency of convergence versus T with Wilson 95% binomial error bars."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
  combos = sorted({(a, b, c) for a, b, c in
                   zip(table["w0"], table["s"], table["lr"])})
  for w0, s, lr in combos:
    sel = (table["w0"] == w0) & (table["s"] == s) & (table["lr"] == lr)
    T, f = table["T"][sel], table["frequency"][sel]
    yerr = np.stack([f - table["lo"][sel], table["hi"][sel] - f])
    ax.errorbar(T, f, yerr=yerr, marker="o", capsize=3,
                label=f"w0 = {w0:g}, s = {s:g}, lr = {lr:g}")
  ax.set_xlabel("sequence length T")
  ax.set_ylabel("frequency of training convergence")
  ax.set_ylim(-0.02, 1.02)
  cfg = settings.config
  ax.set_title(f"Convergence versus T (L = {cfg.L}, {settings.trials} trials, "
               f"{cfg.epochs} epochs; bars: 95% Wilson)", fontsize=9)
  ax.legend(fontsize=8)
  return fig


def execute(settings: Settings, sweeps: Sweeps = Sweeps()) -> Outcome | None:
  """Runs the experiment with progress lines; builds table, figure, summary."""
  out = run(settings, sweeps.labelled(
      lambda tag: f"{NAME} {int(tag[1:])} steps"))
  if out is None:
    return None
  table, runs, timing = out
  n_runs = int(table["trials"].sum())
  lines = [f"{NAME}: {len(settings.T)} lengths x {len(table['T']) // len(settings.T)}"
           f" cells x {settings.trials} trials = {n_runs:,} runs "
           f"(compile {timing.compile_s:.1f} s, run {timing.run_s:.1f} s)",
           "     T    w0     s      lr  frequency  95% interval"]
  for i in range(len(table["T"])):
    lines.append(f"{table['T'][i]:6d} {table['w0'][i]:5.2f} {table['s'][i]:5.2f} "
                 f"{table['lr'][i]:7.4g}  {table['frequency'][i]:9.3f}  "
                 f"[{table['lo'][i]:.3f}, {table['hi'][i]:.3f}]")
  meta = {"runs": n_runs, "compile_s": timing.compile_s,
          "run_s": timing.run_s,
          "sweep": {"chunk": settings.chunk}}
  return Outcome({"": table, "runs": runs}, figure(table, settings),
                 "\n".join(lines), meta)


EXPERIMENT = Experiment(
    NAME, SUMMARY, Settings,
    {"default": DEFAULT, "paper": PAPER, "testing": TESTING},
    execute, TABLES, from_flags)
