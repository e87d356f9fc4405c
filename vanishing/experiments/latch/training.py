"""One training run of the minimal latch task, and its per-cell summary.

Shared by the ``density`` and ``length`` experiments (Bengio, Simard &
Frasconi 1994, Section III). A run:

1. draws initial inputs ``h ~ U[-h_init, h_init]^(2 x L)``, sets ``w = w0``;
2. draws a training set (``n_per_class`` sequences per class, noise variance
   ``s`` after step L) and a held-out set (``test_per_class`` per class);
3. trains ``{w, h}`` by full-batch BPTT on the paper's cost
   ``C = 1/2 sum_p (x_T^p - d_p)^2``, ``x_T = tanh(a_T)``, ``d = +-0.8``;
4. has *converged* at the first epoch where every training sequence ends
   within ``tol`` of its target, ``|x_T - d| < tol`` (with tol = 0.4 that is
   "on the right side of 0 with margin 0.4");
5. reports the fraction of held-out sequences meeting the same test.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells, optimizers, statistics, tasks
from vanishing.engine import sweep
from vanishing.experiments import flags
from vanishing.methods import bptt

NOISE_MODES = ("fixed", "fresh")


def _optimizer(flag: str, name: str) -> str:
  if name not in optimizers.available():
    raise flags.FlagError(flag, f"unknown {name!r}; choose sgd, momentum, "
                          "nesterov, or an optax optimizer such as adam, "
                          "rmsprop")
  return name


@dataclasses.dataclass(frozen=True)
class LatchConfig:
  """Static settings of one minimal-latch-task run (shapes and budgets).

  The swept values (``w0``, ``s``, ``lr``) are not here: they arrive per run.
  Defaults are the suite's protocol choices (see BUILD_NOTES.md).
  """
  T: int = 20
  L: int = flags.setting(flags.integer("class-carrying steps, 1 <= L < T"), 3)
  n_per_class: int = flags.setting(flags.N_PER_CLASS, 10)
  test_per_class: int = flags.setting(flags.TEST_PER_CLASS, 100)
  epochs: int = flags.setting(flags.integer("full-batch update budget"), 400)
  h_init: float = flags.setting(flags.real(
      "initial h ~ U[-h_init, h_init]", low=0), 0.1)
  tol: float = flags.setting(flags.real(
      "converged when every training sequence has |x_T - d| < tol", low=0,
      high=1.6, low_open=True), 0.4)
  noise: str = flags.setting(flags.choice(
      "fixed: one training set per run; fresh: new noise every epoch",
      NOISE_MODES), "fixed")
  optimizer: str = flags.setting(flags.Flag(
      kind=str, help="sgd (plain gradient descent), momentum, nesterov, or "
      "an optax optimizer", allowed="sgd, momentum, nesterov or an optax "
      "optimizer name (adam, rmsprop, ...)", parse=_optimizer,
      metavar="NAME"), "sgd")
  momentum: float = flags.setting(flags.real(
      "momentum of momentum and nesterov", low=0, high=1, high_open=True), 0.9)

  def __post_init__(self):
    if not 1 <= self.L < self.T:
      raise ValueError(f"need 1 <= L < T, got L={self.L}, T={self.T}")
    for name in ("n_per_class", "test_per_class", "epochs"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
    if self.noise not in NOISE_MODES:
      raise ValueError(f"noise must be one of {NOISE_MODES}, got {self.noise!r}")
    if not (self.h_init >= 0 and np.isfinite(self.h_init)):
      raise ValueError(f"h_init must be finite and >= 0, got {self.h_init}")
    if not 0 < self.tol <= 2 * tasks.TARGET:
      raise ValueError(f"tol must be in (0, 1.6], got {self.tol}")


def outputs(params, batch: tasks.LatchBatch) -> jax.Array:
  """``x_T = tanh(a_T)`` for every sequence of ``batch``, shape ``(2n,)``
  (``(2n, B)`` for a block of runs on the lanes)."""
  inputs = tasks.latch_inputs(params["h"], batch)
  return jnp.tanh(cells.latch_final(params["w"], inputs, length=batch.length))


def cost(params, batch: tasks.LatchBatch) -> jax.Array:
  """The paper's cost ``1/2 sum_p (x_T^p - d_p)^2`` (per run)."""
  return 0.5 * jnp.sum((outputs(params, batch) - batch.targets) ** 2, axis=0)


def _drawer(cfg: LatchConfig, n_per_class: int, swept):
  """``draw(key[, epoch])``: each run's latch set (runs last for a block).

  With ``T`` among the swept values, each run's own length T <= cfg.T is
  drawn in arrays of cfg.T steps (``tasks.latch_minimal``'s ``size``).
  """
  n, L = n_per_class, cfg.L

  def draw(key, epoch=None):
    if epoch is not None:
      key = sweep.per_run(jax.random.fold_in, key, epoch)
    if "T" not in swept:
      return sweep.per_run(lambda k, s: tasks.latch_minimal(k, n, cfg.T, L, s),
                           key, swept["s"])
    T = jnp.asarray(swept["T"]).astype(jnp.int32)
    return sweep.per_run(
        lambda k, s, t: tasks.latch_minimal(k, n, t, L, s, size=cfg.T),
        key, swept["s"], T)

  return draw


def initial(key: jax.Array, swept: Mapping[str, jax.Array], cfg: LatchConfig):
  """A run's (or block's) initial ``{w, h}`` (step 1), its training-set key
  and its held-out key (as :func:`train_latch`)."""
  k_h, k_train, k_test = sweep.per_run(lambda k: jax.random.split(k, 3), key)
  params = {
      "w": jnp.asarray(swept["w0"], jnp.float32),
      "h": sweep.per_run(lambda k: jax.random.uniform(
          k, (2, cfg.L), jnp.float32, -cfg.h_init, cfg.h_init), k_h),
  }
  return params, k_train, k_test


def lyapunov_exponent(params, batch: tasks.LatchBatch) -> jax.Array:
  """The latch's Lyapunov exponent on ``batch`` (per run), the mean over
  its sequences of

      lambda = (1/T) sum_{t=1..T} log |M'(a_{t-1})|,  M'(a) = w (1 - tanh^2 a),

  along ``a_t = w tanh(a_{t-1}) + h_t`` from ``a_0 = 0``: the QR method of
  ``theory.lyapunov_exponents`` for a state of one entry (Benettin et al.
  1980). On a fixed point ``a*`` it is ``log |M'(a*)|`` (Bengio, Simard &
  Frasconi 1994, Section III); the whole sequence counts (no length).
  ``log (1 - tanh^2 a) = 2 (log 2 - |a| - log(1 + e^{-2|a|}))``: finite
  where float32's ``tanh^2 a`` rounds to 1 (a saturated state).
  """
  w = params["w"]
  a = cells.latch_trajectory(w, tasks.latch_inputs(params["h"], batch))
  a_prev = jnp.abs(jnp.concatenate([jnp.zeros_like(a[:1]), a[:-1]]))
  log_sech2 = 2 * (jnp.log(2.0) - a_prev - jnp.log1p(jnp.exp(-2 * a_prev)))
  return jnp.log(jnp.abs(w)) + jnp.mean(log_sech2, axis=(0, 1))


def train_latch(key: jax.Array, swept: Mapping[str, jax.Array],
                cfg: LatchConfig, history: bool = False
                ) -> tuple[bptt.TrainResult, jax.Array]:
  """Trains one latch network (steps 1-4 above), or a block of them.

  ``key`` is one run's key, or ``(B,)`` keys with ``(B,)`` swept values:
  the block's runs then lie on the last axis of every array (``w``: (B,),
  ``h``: (2, L, B), inputs (T, 2n, B)), each drawing exactly the data its
  own key gives it alone (:func:`vanishing.engine.sweep.per_run`). ``swept`` may
  also hold ``T``, each run's own length (<= cfg.T, the compiled steps):
  its sequences then stop after T steps of arrays of cfg.T, with the very
  numbers of a run at cfg.T = T (so runs of several lengths share one
  compiled sweep).

  Returns the :class:`~vanishing.methods.bptt.TrainResult` (its ``params``
  are ``{"w": scalar, "h": (2, L)}``, with a trailing run axis for a block)
  and the key reserved for held-out data.
  """
  runs = tuple(jnp.shape(key))
  params, k_train, k_test = initial(key, swept, cfg)
  draw = _drawer(cfg, cfg.n_per_class, swept)
  fixed_train = draw(k_train)

  def loss_fn(p, epoch):
    batch = (fixed_train if cfg.noise == "fixed" else draw(k_train, epoch))
    x = outputs(p, batch)
    loss = 0.5 * jnp.sum((x - batch.targets) ** 2, axis=0)
    return loss, jnp.all(jnp.abs(x - batch.targets) < cfg.tol, axis=0)

  res = bptt.train(loss_fn, params, swept["lr"], epochs=cfg.epochs,
                   optimizer=cfg.optimizer, momentum=cfg.momentum,
                   history=history, runs=runs)
  return res, k_test


def run_latch(key: jax.Array, swept: Mapping[str, jax.Array],
              cfg: LatchConfig, lyapunov: int = 0) -> dict[str, jax.Array]:
  """Trains one latch network (or a block, as :func:`train_latch`);
  ``swept`` holds ``w0``, ``s`` and ``lr``.

  Returns a dict of per-run scalars: ``converged``, ``epoch`` (-1 if not
  converged), ``loss`` (final training cost), ``w`` (final self-weight),
  ``h_norm`` (final norm of the trainable inputs), ``test_acc`` (fraction of
  held-out sequences within ``tol``), ``diverged`` and ``grad_norm`` (last
  gradient); with ``lyapunov`` (1), ``lyapunov_init`` and
  ``lyapunov_final``: :func:`lyapunov_exponent` on the held-out set at the
  initial and final parameters (one fixed length: no ``T`` swept).
  """
  res, k_test = train_latch(key, swept, cfg)
  test = _drawer(cfg, cfg.test_per_class, swept)(k_test)
  x_test = outputs(res.params, test)
  h = res.params["h"]
  extra = {}
  if lyapunov:
    if "T" in swept:
      raise ValueError("the latch's exponents take one fixed length")
    extra = {"lyapunov_init": lyapunov_exponent(
                 initial(key, swept, cfg)[0], test),
             "lyapunov_final": lyapunov_exponent(res.params, test)}
  return {
      "converged": res.converged,
      "epoch": res.epoch,
      "loss": res.loss,
      "w": res.params["w"],
      "h_norm": jnp.sqrt(jnp.sum(jnp.square(h), axis=(0, 1))),
      "test_acc": jnp.mean(jnp.abs(x_test - test.targets) < cfg.tol, axis=0),
      "diverged": res.diverged,
      "grad_norm": res.grad_norm,
      **extra,
  }


def latch_runs(cfg: LatchConfig, lyapunov: int = 0) -> sweep.Lanes:
  """:func:`run_latch` at ``cfg`` for the sweep engine, runs on the lanes."""
  return sweep.Lanes(functools.partial(run_latch, cfg=cfg, lyapunov=lyapunov))


def summarize(result, heldout_acc: float = 0.9, rate_name: str = "rate"
              ) -> dict[str, np.ndarray]:
  """One row per grid cell of a ``run_latch`` sweep.

  Columns: the axis values, ``trials``, ``converged`` (count), ``rate``
  (converged / trials; named ``rate_name``), ``se``, ``lo``/``hi`` (Wilson
  95%), ``diverged`` (count), ``median_epoch`` (of converged runs, NaN if
  none), ``test_acc`` (mean held-out accuracy of converged runs, NaN if none)
  and ``heldout_ok`` (converged runs whose held-out accuracy is at least
  ``heldout_acc``).

  The records are read chunk by chunk (``result.iter_chunks()``); runs come in
  order and a cell's trials are consecutive, so only whole cells are
  summarised and at most one cell's runs wait for the next chunk.
  """
  names, trials = list(result.axes), result.trials
  wanted = names + ["converged", "epoch", "test_acc", "diverged"]
  rows, carry = [], None
  for part in result.iter_chunks():
    part = {k: np.asarray(part[k]) for k in wanted}
    if carry is not None:
      part = {k: np.concatenate([carry[k], part[k]]) for k in wanted}
    whole = len(part["converged"]) // trials * trials
    rows.append(_summarize_cells({k: v[:whole] for k, v in part.items()},
                                 names, trials, heldout_acc, rate_name))
    carry = {k: v[whole:] for k, v in part.items()}
  return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _summarize_cells(rec, names, trials, heldout_acc, rate_name):
  """``summarize`` for records holding whole cells only."""
  cell = lambda k: rec[k].reshape(-1, trials)
  conv = cell("converged").astype(bool)
  n = np.full(len(conv), trials)
  k = conv.sum(1)
  p, se, lo, hi = statistics.wilson(k, n)
  epoch = np.where(conv, cell("epoch"), np.nan)
  acc = np.where(conv, cell("test_acc"), np.nan)
  # All-NaN rows (nothing converged) -> NaN.
  median_epoch = statistics.quiet_nanmedian(epoch, 1)
  test_acc = statistics.quiet_nanmean(acc, 1)
  cols = {name: cell(name)[:, 0] for name in names}
  cols.update(
      trials=n, converged=k, **{rate_name: p}, se=se, lo=lo, hi=hi,
      diverged=cell("diverged").sum(1), median_epoch=median_epoch,
      test_acc=test_acc, heldout_ok=(conv & (acc >= heldout_acc)).sum(1))
  return cols
