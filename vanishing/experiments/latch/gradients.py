"""The mechanism made visible: attractors, h*, and the vanishing gradient.

Bengio, Simard & Frasconi (1994), Sections III-IV; functions in
:mod:`vanishing.theory`. Five measurements, one figure with five panels:

1. ``theory``: fixed points of ``a = w tanh a`` versus w (the bifurcation at
   w = 1), the contraction ``M'(a_bar)`` and the escape threshold h*(w);
2. ``decay``: ``|da_t/da_0|`` versus t for latched states (w > 1, started off
   the attractor at a_bar + 1, zero input) and non-latched ones (w < 1,
   started at 1), against the slope predicted by ``|M'|`` at the fixed point;
   the measured rate is ``exp`` of the least-squares slope of
   ``log |da_t/da_0|`` over the second half of the horizon;
3. ``contributions``: ``|dC/dh_tau|`` versus the lag ``T - tau`` for latch
   networks trained as in the density experiment (converged runs only),
   evaluated on held-out sequences of several lengths T: the early,
   informative terms vanish as T grows;
4. ``training``: the norm of the gradient reaching h during BPTT training,
   per epoch, median over converged and over failed runs;
5. ``cells``: ``||ds_t/ds_0||`` of the recurrent state of every kind of cell
   (the tanh latch at w = ``cells_w`` beside the tanh RNN with uniform,
   orthogonal and identity init, the LSTM with and without forget gate and
   the GRU) over ``cells_T`` steps: :mod:`.gradients_cells`.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import tasks, theory
from vanishing.engine import sweep
from vanishing.engine.series import Sweeps
from vanishing.experiments import flags
from vanishing.experiments.latch import common, gradients_cells
from vanishing.experiments.latch.training import LatchConfig, train_latch
from vanishing.experiments.skeleton import Experiment, Outcome

NAME = "gradients"
SUMMARY = "attractors, h* and the vanishing gradient of latches (Sec. III-IV)"


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of the gradients experiment.

  Attributes:
    w: self-weights for the decay measurement.
    steps: horizon of the decay measurement.
    w0, s, lr: training grid for the trained networks (as in ``density``).
    T: evaluation lengths for the gradient contributions.
    trials: training runs per (w0, s, lr) cell.
    eval_per_class: held-out sequences per class per network.
    seed: root seed.
    config: static training settings (T = 20, L = 3 as in ``density``).
    cells_T: horizon of the every-cell state Jacobian measurement.
    cells_w: the tanh latch's self-weight there.
  """
  w: tuple[float, ...] = flags.setting(flags.grid(
      "self-weights whose state-Jacobian decay is measured"),
      (0.5, 0.9, 1.25, 1.5, 2.0, 3.0))
  steps: int = flags.setting(flags.integer(
      "horizon of the decay measurement", low=2), 40)
  w0: tuple[float, ...] = flags.setting(common.W0, (1.25, 2.0))
  s: tuple[float, ...] = flags.setting(common.S, (0.2,))
  lr: tuple[float, ...] = flags.setting(common.LR, (0.01,))
  T: tuple[int, ...] = flags.setting(flags.grid(
      "lengths on which the trained networks' gradients are measured",
      integer=True), (10, 20, 40, 80))
  trials: int = flags.setting(common.TRIALS, 256)
  eval_per_class: int = flags.setting(flags.integer(
      "held-out sequences per class and trained network"), 25)
  seed: int = 0
  config: LatchConfig = flags.nested(LatchConfig(T=20, L=3, epochs=1000))
  cells_T: int = 100
  cells_w: float = 2.0

  def __post_init__(self):
    if not all(np.isfinite(v) for v in self.w + self.w0 + self.s + self.lr):
      raise ValueError("w, w0, s and lr must be finite")
    if self.steps < 2:
      raise ValueError(f"steps must be >= 2, got {self.steps}")
    if self.cells_T < 2 or not np.isfinite(self.cells_w):
      raise ValueError(f"cells_T must be >= 2 and cells_w finite, got "
                       f"{self.cells_T}, {self.cells_w}")
    if min(self.T) <= self.config.L:
      raise ValueError(f"every T must exceed L = {self.config.L}, got {min(self.T)}")
    if min(self.s) < 0 or min(self.lr) <= 0:
      raise ValueError("s must be >= 0 and lr > 0")
    if self.trials < 1 or self.eval_per_class < 1:
      raise ValueError("trials and eval_per_class must be >= 1")


def from_flags(given: flags.Given) -> Settings:
  """The trained networks learn at the preset's length (T = 20); ``--T``
  only sets where their gradients are measured."""
  return common.latch_settings(given, train_T=given.preset.config.T)


DEFAULT = Settings()
PAPER = dataclasses.replace(DEFAULT, trials=2048, eval_per_class=100,
                            T=(10, 20, 30, 40, 60, 80, 100))
TESTING = dataclasses.replace(DEFAULT, trials=32, T=(10, 40), eval_per_class=5,
                              config=LatchConfig(T=20, L=3, epochs=200),
                              cells_T=30)


def theory_table(w_max: float = 3.5, num: int = 351) -> dict[str, np.ndarray]:
  """Fixed point, contraction and h* on a grid of w in [0, w_max]."""
  w = np.linspace(0.0, w_max, num)
  return {"w": w, "attractor": theory.attractor(w),
          "contraction": theory.contraction_at_attractor(w),
          "escape_threshold": theory.escape_threshold(w)}


def decay(settings: Settings):
  """``|da_t/da_0|`` curves and measured versus predicted decay rates."""
  w = np.asarray(settings.w, np.float64)
  a_bar = theory.attractor(w)
  latched = w > 1
  a0 = np.where(latched, a_bar + 1.0, 1.0)
  path = theory.trajectory(w, np.zeros((settings.steps, len(w))), a0)
  jac = theory.state_jacobian(w, path[:-1])  # t = 1 .. steps
  t = np.arange(1, settings.steps + 1)
  measured = gradients_cells.fitted_rate(t, jac)
  predicted = np.abs(theory.contraction_at_attractor(w))
  table = {"w": w, "latched": latched, "a0": a0, "measured_rate": measured,
           "predicted_rate": predicted,
           "rel_error": np.abs(measured - predicted) / predicted}
  return table, t, jac


def _trained_run(key, swept, cfg: LatchConfig):
  """One trained run's record, or a block's with the runs last (Lanes)."""
  res, _ = train_latch(key, swept, cfg, history=True)
  return {"converged": res.converged, "epoch": res.epoch,
          "w": res.params["w"], "h": res.params["h"],
          "grad_h": res.history["h"], "grad_w": res.history["w"]}


def train(settings: Settings, sweeps: Sweeps = Sweeps()):
  """Trains the networks (one sweep, compiled once); None for a shard."""
  axes = {"w0": settings.w0, "s": settings.s, "lr": settings.lr}
  kw = dict(sweeps.kwargs(""), collect=True)  # small: in memory
  fn = sweep.Lanes(functools.partial(_trained_run, cfg=settings.config))
  return sweep.run(fn, axes, settings.trials, settings.seed, **kw)


def contributions(settings: Settings, res) -> dict[str, np.ndarray]:
  """Median ``|dC/dh_tau|`` per (T, lag) over converged networks.

  Each converged network is run on ``2 * eval_per_class`` held-out
  sequences of each length T (its own noise variance s, its own trained
  inputs h for the first L steps); the gradient of the paper's cost with
  respect to every input is taken by ``jax.grad`` in float64.
  """
  conv = res.records["converged"].astype(bool)
  w, h, s = (res.records[k][conv] for k in ("w", "h", "s"))
  L, n = settings.config.L, settings.eval_per_class
  rows = {"T": [], "lag": [], "median_abs_grad": [], "networks": []}
  root = jax.random.fold_in(jax.random.key(settings.seed), 1_000_003)
  for T in settings.T:
    keys = jax.random.split(jax.random.fold_in(root, T), len(w))
    batches = jax.vmap(lambda k, s_: tasks.latch_minimal(k, n, T, L, s_))(
        keys, jnp.asarray(s, jnp.float32))
    inputs = jax.vmap(tasks.latch_inputs)(jnp.asarray(h), batches)  # (N, T, 2n)
    inputs = np.moveaxis(np.asarray(inputs, np.float64), 0, 1).reshape(T, -1)
    targets = np.asarray(batches.targets, np.float64).reshape(-1)
    w_col = np.repeat(np.asarray(w, np.float64), 2 * n)
    g = np.abs(theory.gradient_contributions(w_col, inputs, targets))  # (T, N*2n)
    med = np.median(g, axis=1) if g.shape[1] else np.full(T, np.nan)
    for tau in range(T):
      rows["T"].append(T)
      rows["lag"].append(T - 1 - tau)  # lag 0 is the last input
      rows["median_abs_grad"].append(med[tau])
      rows["networks"].append(int(conv.sum()))
  return {k: np.asarray(v) for k, v in rows.items()}


def training_curves(res) -> dict[str, np.ndarray]:
  """Median ``||dC/dh||`` per epoch over converged and failed runs."""
  conv = res.records["converged"].astype(bool)
  g = res.records["grad_h"]
  epochs = g.shape[1]
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    c = np.nanmedian(g[conv], axis=0) if conv.any() else np.full(epochs, np.nan)
    f = np.nanmedian(g[~conv], axis=0) if (~conv).any() else np.full(epochs, np.nan)
  active = (~np.isnan(g[conv])).sum(0) if conv.any() else np.zeros(epochs, int)
  return {"epoch": np.arange(epochs), "converged_median": c,
          "converged_active": active, "failed_median": f,
          "failed_runs": np.full(epochs, int((~conv).sum()))}


TABLES = ("theory", "decay", "contributions", "training", "runs", "cells")


def figure(theory_t, decay_t, t, jac, contrib, curves, settings: Settings,
           cells_t=None):
  """The panels: fixed points and h*, decay, contributions, training; then,
  given the ``cells`` table, every cell's state Jacobian across the bottom."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  if cells_t is None:
    fig, axs = plt.subplots(2, 2, figsize=(11, 8.5), constrained_layout=True)
    (ax1, ax2), (ax3, ax4) = axs
  else:
    fig, axs = plt.subplot_mosaic([["1", "2"], ["3", "4"], ["5", "5"]],
                                  figsize=(11, 13.5), constrained_layout=True)
    ax1, ax2, ax3, ax4 = (axs[k] for k in "1234")
    gradients_cells.panel(axs["5"], cells_t)

  w, a = theory_t["w"], theory_t["attractor"]
  on = w > 1
  ax1.plot(w[on], a[on], "C0", label="stable fixed points +-a_bar")
  ax1.plot(w[on], -a[on], "C0")
  ax1.plot(w[~on], 0 * w[~on], "C0")
  ax1.plot(w[on], 0 * w[on], "C0--", label="unstable fixed point 0")
  ax1.plot(w, theory_t["escape_threshold"], "C3", label="escape threshold h*(w)")
  ax1.plot(w[on], theory_t["contraction"][on], "C2:", label="contraction M'(a_bar)")
  ax1.axvline(1.0, color="0.7", lw=0.8)
  ax1.set_xlabel("self-weight w")
  ax1.set_ylabel("a  (and h*, M')")
  ax1.set_title("Attractors of a = w tanh(a): bifurcation at w = 1", fontsize=10)
  ax1.legend(fontsize=8)

  for i, wv in enumerate(decay_t["w"]):
    kind = "latched" if decay_t["latched"][i] else "not latched"
    ax2.semilogy(t, jac[:, i], color=f"C{i}", label=f"w = {wv:g} ({kind})")
    rate = decay_t["predicted_rate"][i]
    ax2.semilogy(t, jac[-1, i] * rate ** (t - t[-1]), color="k", ls=":",
                 lw=0.9)
  ax2.set_xlabel("t")
  ax2.set_ylabel("|da_t / da_0|")
  ax2.set_title("State Jacobian; black dotted: slope |M'| at the fixed point",
                fontsize=10)
  ax2.legend(fontsize=7)

  L = settings.config.L
  for i, T in enumerate(settings.T):
    sel = contrib["T"] == T
    lag, g = contrib["lag"][sel], np.maximum(contrib["median_abs_grad"][sel], 1e-300)
    ax3.semilogy(lag, g, color=f"C{i}", label=f"T = {T}")
    early = lag >= T - L
    ax3.semilogy(lag[early], g[early], "o", color=f"C{i}", ms=4)
  ax3.set_xlabel("lag T - tau")
  ax3.set_ylabel("median |dC/dh_tau|")
  n_net = int(contrib["networks"][0]) if len(contrib["networks"]) else 0
  ax3.set_title(f"Trained latches ({n_net} converged nets); dots: h_1..h_L",
                fontsize=10)
  ax3.legend(fontsize=8)

  ep = curves["epoch"]
  # A median over a handful of still-running runs is noise: draw the
  # converged curve while at least 10% of the converged runs (and 5) train.
  active = curves["converged_active"]
  enough = active >= max(5, 0.1 * (active.max() if active.size else 0))
  ax4.semilogy(ep[enough], curves["converged_median"][enough], "C2",
               label="converged runs (while >= 10% still train)")
  ax4.semilogy(ep, curves["failed_median"], "C3", label="failed runs")
  ax4.set_xlabel("epoch")
  ax4.set_ylabel("median ||dC/dh||")
  ax4.set_title("Gradient reaching h during BPTT (each curve ends as runs stop)",
                fontsize=10)
  ax4.legend(fontsize=8)
  cfg = settings.config
  fig.suptitle(f"Vanishing gradients of the latch neuron (training: L = {cfg.L}, "
               f"T = {cfg.T}, w0 in {list(settings.w0)}, s = {list(settings.s)})")
  return fig


def execute(settings: Settings, sweeps: Sweeps = Sweeps()):
  """Runs all five measurements; builds tables, figure and summary."""
  res = train(settings, sweeps.labelled(lambda tag: NAME))
  if res is None:
    return None
  theory_t = theory_table()
  decay_t, t, jac = decay(settings)
  contrib = contributions(settings, res)
  curves = training_curves(res)
  cells_t = gradients_cells.measure(settings.cells_T, settings.cells_w,
                                    settings.seed)
  conv = res.records["converged"].astype(bool)
  runs = {k: res.records[k] for k in
          ("run", "cell", "trial", "w0", "s", "lr", "converged", "epoch", "w")}

  lines = [f"{NAME}: decay of |da_t/da_0| over t = {settings.steps // 2}.."
           f"{settings.steps}",
           "     w  latched  measured rate  |M'| at fixed point  rel. error"]
  for i in range(len(decay_t["w"])):
    lines.append(f"{decay_t['w'][i]:6.2f}  {'yes' if decay_t['latched'][i] else 'no':>7s}"
                 f"  {decay_t['measured_rate'][i]:13.6f}  "
                 f"{decay_t['predicted_rate'][i]:19.6f}  {decay_t['rel_error'][i]:10.2e}")
  L = settings.config.L
  lines.append(f"trained networks: {conv.sum()} of {res.n_runs} converged "
               f"(compile {res.compile_s:.1f} s, run {res.run_s:.1f} s); "
               f"median |dC/dh_tau| of the informative inputs tau <= L = {L}:")
  for T in settings.T:
    sel = (contrib["T"] == T) & (contrib["lag"] >= T - L)
    lines.append(f"  T = {T:4d}: {np.median(contrib['median_abs_grad'][sel]):.3e}")
  fin = lambda x: x[np.isfinite(x)]
  c_first, f_last = fin(curves["converged_median"]), fin(curves["failed_median"])
  if c_first.size and f_last.size:
    lines.append(f"median ||dC/dh|| at epoch 0: converged {c_first[0]:.3e}, "
                 f"failed {f_last[0]:.3e}; failed runs at the last epoch: "
                 f"{f_last[-1]:.3e}")
  lines += gradients_cells.summary(cells_t)
  meta = {"runs": res.n_runs, "compile_s": res.compile_s, "run_s": res.run_s}
  fig = figure(theory_t, decay_t, t, jac, contrib, curves, settings, cells_t)
  tables = {"theory": theory_t, "decay": decay_t, "contributions": contrib,
            "training": curves, "runs": runs, "cells": cells_t}
  return Outcome(tables, fig, "\n".join(lines), meta)


EXPERIMENT = Experiment(
    NAME, SUMMARY, Settings,
    {"default": DEFAULT, "paper": PAPER, "testing": TESTING},
    execute, TABLES, from_flags)
