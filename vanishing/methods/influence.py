"""The forward-mode driver shared by RTRL and its approximations.

Every forward-in-time gradient rule here (exact RTRL, ``rtrl``; SnAp-1,
``snap1``; UORO, ``uoro``) runs the cell ``s_t = F(theta, s_{t-1}, t, u_t)``
forward while carrying an *influence* ``A_t``: the exact sensitivities
``d s_t / d theta`` (RTRL), a sparse approximation of them (SnAp-1) or a
rank-one unbiased estimate (UORO). :func:`gradient` writes the loop once:
the length-masked time scan (``cells.scan.scan``: a sequence's state and
influence stop changing after its own length), the output sensitivities
``dy/dtheta`` at each sequence's end (or at every step, readout ``every``)
and the chain rule ``dC/dtheta = sum_b dC/dy_b dy_b/dtheta``
(:func:`finish`). A rule supplies

* ``advance(step, theta, s, A, t, u) -> (s_t, A_t)``, with
  ``step(theta, s) = F(theta, s, t, u_t)`` on the whole batch;
* ``sense(cell, s, A) -> (y, dy)``: the outputs and their sensitivities
  ``dy/dtheta`` (``y.shape + (P,)``).

The approximations need per-sequence Jacobians (the batch shares
``theta``, so a reverse-mode product over the batch would sum them):
:func:`flat` and :func:`unflat` move a state pytree to and from one
vector of S numbers per sequence, and :func:`per_sequence` is the step of
one sequence as a function of ``(theta (P,), s (S,))``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from vanishing import optimizers, tasks
from vanishing.cells import scan
from vanishing.methods import base, bptt


def finish(fit, y: jax.Array, dy: jax.Array):
  """``(cost, error, grad)`` from outputs ``y`` (``(B,)``, or ``(T, B)`` for
  readout ``every``) and their sensitivities ``dy`` (``y.shape + (P,)``)."""
  d = fit.batch.targets
  m = tasks.mask(fit.batch) if fit.task.readout == "every" else None
  cost, dC_dy = jax.value_and_grad(lambda y_: fit.task.loss(y_, d, m))(y)
  grad = jnp.tensordot(dC_dy, dy, axes=dC_dy.ndim)
  return cost, fit.task.error(y, d, m), grad


def gradient(fit, theta: jax.Array, A0: Any, advance: Callable,
             sense: Callable):
  """``(cost, error, dC/dtheta)`` of ``fit`` at ``theta`` by the rule
  ``(A0, advance, sense)`` (module docstring); ``A0`` is the influence
  before the first step (leaves with the sequence axis first)."""
  cell, b = fit.net, fit.batch
  every = fit.task.readout == "every"
  s0 = cell.initial_state(b.inputs.shape[1], b.inputs.dtype)

  def step(carry, t, u):
    s, A = carry
    f = lambda th, x: cell.step(cell.unpack(th), x, t, u, b.classes)
    new, A = advance(f, theta, s, A, t, u)
    out = None
    if every:
      y, dy = sense(cell, new, A)
      live = t < b.lengths
      out = (jnp.where(scan.broadcast_live(live, y), y, 0.0),
             jnp.where(scan.broadcast_live(live, dy), dy, 0.0))
    return (new, A), out

  (s, A), outs = scan.scan(step, (s0, A0), b.inputs, b.lengths)
  y, dy = outs if every else sense(cell, s, A)
  return finish(fit, y, dy)


# ---------------------------------------------------------------------------
# One sequence at a time.

def flat(state: Any) -> jax.Array:
  """A state pytree (leaves ``(B, ...)``) as ``(B, S)``."""
  leaves = jax.tree_util.tree_leaves(state)
  return jnp.concatenate([x.reshape(x.shape[0], -1) for x in leaves], 1)


def unflat(like: Any, v: jax.Array) -> Any:
  """``v (B, S)`` back into the structure and shapes of ``like``."""
  leaves, tree = jax.tree_util.tree_flatten(like)
  out, i = [], 0
  for x in leaves:
    k = x[0].size
    out.append(v[:, i:i + k].reshape(v.shape[:1] + x.shape[1:]))
    i += k
  return jax.tree_util.tree_unflatten(tree, out)


def per_sequence(cell, like: Any, t: jax.Array) -> Callable:
  """``f(theta, s, u_b, c_b) -> s'``: the step of one sequence with flat
  state ``s (S,)`` (``like``: a batch state giving the structure), to
  ``vmap`` over the sequences with ``u`` and ``context`` split."""
  one = jax.tree_util.tree_map(lambda x: x[:1], like)

  def f(theta, s, u_b, c_b):
    new = cell.step(cell.unpack(theta), unflat(one, s[None]), t, u_b[None],
                    None if c_b is None else c_b[None])
    return flat(new)[0]
  return f


# ---------------------------------------------------------------------------
# The comparison protocol (``vanishing.methods.base``) of an approximation.

# rtrl's hyper-parameters but its recursion (not tuned for the
# approximations: BUILD_NOTES.md).
DEFAULTS = {"lr": 0.5, "momentum": 0.8, "optimizer": "momentum", "clip": 0.0}
ALLOWED = {"lr": base.POSITIVE, "momentum": base.MOMENTUM,
           "optimizer": base.Allowed(choices=optimizers.available),
           "clip": base.NONNEGATIVE}


def method(name: str, grad: Callable) -> base.Method:
  """The batch-mode method ``name`` stepping along ``grad(run, theta,
  tracker) -> (cost, error, dC/dtheta)``; it reads only the cell's step
  and readout (no ``requires``)."""
  def check(config, numbers) -> None:
    bptt.check_clip(name, numbers["clip"])

  def step(run, state, tracker):
    return bptt.descend(run, state, *grad(run, state[0], tracker))

  return base.Method(name, bptt.init, step, DEFAULTS, ALLOWED,
                     frozenset({"optimizer"}), frozenset(), check=check,
                     fresh=True)
