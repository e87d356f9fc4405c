"""Back-propagation through time with ``jax.grad`` and an optax optimizer.

Full-batch training: one epoch is one evaluation of the cost over the whole
training set, its gradient by reverse-mode differentiation through the
unrolled recurrence (BPTT; Rumelhart, Hinton & Williams 1986), and one
optimizer update. Training stops as soon as the convergence criterion holds
(the parameters are then left as they were when it was met), when the cost,
the gradient or the updated parameters are no longer finite (recorded as
diverged, keeping the last finite parameters), or after ``epochs`` updates.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from vanishing import optimizers
from vanishing.methods import base, loop

Params = Any
# loss_fn(params, epoch) -> (cost, criterion_met)
LossFn = Callable[[Params, jax.Array], tuple[jax.Array, jax.Array]]


class TrainResult(NamedTuple):
  """Outcome of one training run.

  Attributes:
    params: parameters at the end (at the epoch of convergence if converged,
      the last finite ones if diverged).
    converged: the criterion held at some epoch within the budget.
    epoch: number of updates made before the criterion first held; -1 if it
      never did.
    loss: cost at ``params`` (NaN or inf if diverged).
    diverged: the cost, its gradient or an update became NaN or infinite.
    grad_norm: global norm of the last gradient computed.
    history: with ``history=True``, a pytree like ``params`` holding, per
      leaf, the norm of that leaf's gradient at every epoch, shape
      ``(epochs,)``, NaN after the run stopped; otherwise None.
  """
  params: Params
  converged: jax.Array
  epoch: jax.Array
  loss: jax.Array
  diverged: jax.Array
  grad_norm: jax.Array
  history: Params | None = None


class _Carry(NamedTuple):
  epoch: jax.Array
  params: Params
  opt_state: Any
  done: jax.Array
  met: jax.Array
  loss: jax.Array
  diverged: jax.Array
  grad_norm: jax.Array
  history: Params | None


def _run_axes(x, runs: tuple[int, ...]) -> tuple[int, ...]:
  """The axes of leaf ``x`` that are not its trailing run axes."""
  return tuple(range(x.ndim - len(runs)))


def _all_finite(tree, runs: tuple[int, ...] = ()) -> jax.Array:
  """Per run: every element of every leaf is finite."""
  leaves = jax.tree_util.tree_leaves(tree)
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x), _run_axes(x, runs))
                            for x in leaves]), axis=0)


def _sq_norm(x, runs: tuple[int, ...]) -> jax.Array:
  return jnp.sum(jnp.square(x), _run_axes(x, runs))


def _norm(tree, runs: tuple[int, ...] = ()) -> jax.Array:
  """Per run: the global 2-norm of ``tree``."""
  return jnp.sqrt(sum(_sq_norm(x, runs)
                      for x in jax.tree_util.tree_leaves(tree)))


def train(loss_fn: LossFn, params: Params, learning_rate: jax.Array | float, *,
          epochs: int, optimizer: str = "sgd", momentum: float = 0.9,
          history: bool = False, runs: tuple[int, ...] = ()) -> TrainResult:
  """Trains ``params`` on ``loss_fn`` by full-batch BPTT.

  Each epoch evaluates ``(C, met), dC/dparams`` at the current parameters; if
  ``met`` the run has converged at this epoch and stops, otherwise it takes
  one optimizer step. After ``epochs`` steps the final parameters are checked
  once more. Under ``vmap`` the loop runs until every run in the batch has
  stopped; finished runs are frozen, so the result of a run does not depend on
  the others.

  The same code trains one run or a block of independent runs laid on the
  lanes: with ``runs = (B,)`` every parameter leaf carries the runs on its
  last axis, ``loss_fn`` returns ``(B,)`` costs and criteria, and the
  gradient of their sum is each run's own gradient (the runs share no
  parameter). Finished runs are frozen with ``where``, as ``vmap`` of the
  one-run loop does, so both give the same trajectories up to the rounding
  of the reductions XLA compiles for each layout.

  Args:
    loss_fn: ``(params, epoch) -> (cost, criterion_met)``; ``epoch`` lets the
      loss draw fresh data per epoch.
    params: initial parameters (a pytree of float arrays).
    learning_rate: step size (may be traced, so it can be swept).
    epochs: update budget (static).
    optimizer: a name accepted by :func:`vanishing.optimizers.make`.
    momentum: for the ``momentum`` and ``nesterov`` optimizers.
    history: also record each parameter leaf's gradient norm per epoch.
    runs: shape of the block of runs (the trailing axes of every leaf, of
      ``loss_fn``'s outputs and of ``learning_rate`` if it is an array);
      ``()`` for one run.

  Returns:
    A :class:`TrainResult`.
  """
  opt = optimizers.make(optimizer, learning_rate, momentum)
  total = lambda p, e: (lambda c, m: (jnp.sum(c), (c, m)))(*loss_fn(p, e))
  grad_fn = jax.value_and_grad(total, has_aux=True)
  nd = len(runs)

  def cond(c: _Carry):
    return jnp.any((c.epoch < epochs) & ~c.done)

  def body(c: _Carry) -> _Carry:
    active = (c.epoch < epochs) & ~c.done  # the others stay as they are
    (_, (loss, met)), grads = grad_fn(c.params, c.epoch)
    updates, opt_state = opt.update(grads, c.opt_state, c.params)
    new_params = optax.apply_updates(c.params, updates)
    # An update to inf can leave the cost finite (tanh saturates), so the
    # new parameters are checked too.
    bad = ~(jnp.isfinite(loss) & _all_finite(grads, runs))
    bad = bad | (~met & ~_all_finite(new_params, runs))
    stop = met | bad
    keep = lambda old, new: jnp.where(stop | ~active, old, new)
    held = lambda old, new: jnp.where(active, new, old)
    hist = c.history
    if history:
      at = (jnp.arange(epochs).reshape((epochs,) + (1,) * nd) == c.epoch)
      hist = jax.tree_util.tree_map(
          lambda h, g: jnp.where(at & active, jnp.sqrt(_sq_norm(g, runs)), h),
          hist, grads)
    return _Carry(
        epoch=jnp.where(stop | ~active, c.epoch, c.epoch + 1),
        params=jax.tree_util.tree_map(keep, c.params, new_params),
        # Leaves without the run axes (optax's step count) are shared.
        opt_state=jax.tree_util.tree_map(
            lambda o, n: keep(o, n) if jnp.ndim(n) >= nd else n,
            c.opt_state, opt_state),
        done=held(c.done, stop), met=held(c.met, met & ~bad),
        loss=held(c.loss, loss), diverged=held(c.diverged, bad & ~met),
        grad_norm=held(c.grad_norm, _norm(grads, runs)), history=hist)

  zero = jnp.zeros(runs, jnp.float32)
  false = jnp.zeros(runs, bool)
  hist0 = (jax.tree_util.tree_map(
      lambda _: jnp.full((epochs,) + runs, jnp.nan, jnp.float32), params)
           if history else None)
  init = _Carry(jnp.zeros(runs, jnp.int32), params, opt.init(params),
                false, false, zero, false, zero, hist0)
  c = jax.lax.while_loop(cond, body, init)

  # The budget ran out: check the parameters left by the last update.
  final_loss, final_met = loss_fn(c.params, c.epoch)
  final_met = final_met & jnp.isfinite(final_loss)
  loss = jnp.where(c.done, c.loss, final_loss)
  met = jnp.where(c.done, c.met, final_met)
  diverged = c.diverged | (~c.done & ~jnp.isfinite(final_loss))
  return TrainResult(
      params=c.params, converged=met,
      epoch=jnp.where(met, c.epoch, -1).astype(jnp.int32),
      loss=loss, diverged=diverged, grad_norm=c.grad_norm, history=c.history)


# ---------------------------------------------------------------------------
# The comparison protocol (``vanishing.methods.base``): plain gradient descent
# on the network's free parameters, one evaluation per epoch.

NAME = "bptt"
# clip: gradient-norm clipping (Pascanu, Mikolov & Bengio 2013), 0 = off.
DEFAULTS = {"lr": 0.5, "momentum": 0.8, "optimizer": "momentum", "clip": 0.0}
STATIC = frozenset({"optimizer"})
ALLOWED = {"lr": base.POSITIVE, "momentum": base.MOMENTUM,
           "optimizer": base.Allowed(choices=optimizers.available),
           "clip": base.NONNEGATIVE}  # clip 0: off
# Only ``fit.evaluate`` and its gradient: any differentiable cell.
REQUIRES = frozenset()


def check(config, numbers) -> None:
  """``clip`` >= 0 where it is a Python number."""
  del config
  check_clip(NAME, numbers["clip"])


def check_clip(name: str, clip) -> None:
  if base.concrete(clip) and not clip >= 0:
    raise ValueError(f"{name}: clip must be >= 0 (0: no clipping), got {clip}")


def clip_gradient(g: jax.Array, clip) -> jax.Array:
  """Gradient-norm clipping (Pascanu, Mikolov & Bengio 2013, "On the
  difficulty of training recurrent neural networks", ICML, Algorithm 1):

      g <- g * min(1, clip / ||g||)      for clip > 0,   g for clip = 0.

  With ``clip`` a Python 0 (the default) nothing is computed: the program
  is the unclipped one. A traced ``clip`` may be swept; at 0 it selects
  ``g`` itself."""
  if base.concrete(clip) and clip == 0:
    return g
  scale = jnp.minimum(1.0, clip / _norm(g))
  return jnp.where(clip > 0, g * scale, g)


def _optimizer(run):
  return optimizers.make(run.config["optimizer"], run.numbers["lr"],
                         run.numbers["momentum"])


def init(run):
  """The state ``(theta, optimizer state)`` at ``theta0``; nothing counted."""
  return (run.theta0, _optimizer(run).init(run.theta0)), ()


def step(run, state, tracker):
  """One epoch: ``C, dC/dtheta`` at the current point (one function
  evaluation, counted with the gradient's finiteness) and one optimizer
  step, ``theta <- theta - lr * (dC/dtheta + momentum * velocity)`` with
  the default heavy-ball ``momentum`` optimizer (``sgd`` has none) and the
  gradient clipped to norm ``clip`` when ``clip > 0``; updated parameters
  that are not finite mark the run diverged."""
  del tracker

  def value(th):
    e = run.fit.evaluate(th)
    return e.cost, e.error

  (cost, error), g = jax.value_and_grad(value, has_aux=True)(state[0])
  return descend(run, state, cost, error, g)


def descend(run, state, cost, error, g):
  """One optimizer step from ``state = (theta, optimizer state)`` along the
  gradient ``g`` at ``theta`` (by BPTT here, by RTRL in ``rtrl``), clipped
  to norm ``clip`` first (:func:`clip_gradient`): the point is counted with
  its cost, error and the (unclipped) gradient's finiteness; updated
  parameters that are not finite mark the run diverged."""
  theta, opt_state = state
  step = clip_gradient(g, run.numbers["clip"])
  updates, opt_state = _optimizer(run).update(step, opt_state, theta)
  new = optax.apply_updates(theta, updates)
  return (new, opt_state), base.one(theta, cost, error, _all_finite(g),
                                    _all_finite(new))


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES,
                     check=check, fresh=True)
solve = functools.partial(loop.solve, METHOD)
