"""The one time loop every forward pass of the suite runs.

A recurrent computation over a time-major sequence batch is

    s_t = where(t < length_b, step(s_{t-1}, t, x_t), s_{t-1}),   t = 0..T-1,

for a state pytree ``s`` whose leaves have the sequence axis first (B, ...):
each sequence's state stops changing after its own length, so the state
left at the end is the state at that sequence's end. ``scan`` writes this
loop once (the length mask, the unroll policy, optional per-step outputs);
cells supply ``step`` (``vanishing.cells`` protocol) and never write their
own loop.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

# Fully unrolling the time loop lets XLA fuse a whole short sequence: faster
# than unroll=4 at short spans, but at long ones its compile time grows past
# what it saves on default-size sweeps (benchmarks/unroll.py measures both;
# docs/performance.md).
MAX_FULL_UNROLL = 24
PARTIAL_UNROLL = 4


def unroll_for(T: int) -> int | bool:
  """The scan unroll of a T-step loop (full up to ``MAX_FULL_UNROLL``)."""
  return True if T <= MAX_FULL_UNROLL else PARTIAL_UNROLL


def broadcast_live(live: jax.Array, x: jax.Array) -> jax.Array:
  """``live`` (sequence axes first, ``(B,)``) with trailing unit axes to
  broadcast against ``x`` (``(B, ...)``: a state leaf, a vector output)."""
  return live.reshape(live.shape + (1,) * (x.ndim - live.ndim))


def _keep_live(live: jax.Array, new, old):
  """``new`` where the sequence is live, else ``old``, leaf by leaf."""
  def pick(n, o):
    return jnp.where(broadcast_live(live, n), n, o)
  return jax.tree_util.tree_map(pick, new, old)


def scan(step: Callable[[Any, jax.Array, Any], tuple[Any, Any]], state0: Any,
         xs: Any, lengths: jax.Array | None = None, *,
         unroll: int | bool | None = None) -> tuple[Any, Any]:
  """Runs ``state, out = step(state, t, x_t)`` over ``t = 0..T-1``.

  Args:
    step: one time step; ``out`` (any pytree, or None) is stacked over time.
    state0: the initial state (leaves with the sequence axis first where
      ``lengths`` is given).
    xs: per-step inputs, a pytree of arrays with time on axis 0.
    lengths: ``(B,)`` sequence lengths; the state of sequence b is frozen
      from step ``lengths[b]`` on. None: every sequence runs all T steps.
    unroll: scan unroll; None chooses ``unroll_for(T)``.

  Returns:
    ``(final state, stacked outputs)``.
  """
  T = jax.tree_util.tree_leaves(xs)[0].shape[0]

  def body(state, txs):
    t, x = txs
    new, out = step(state, t, x)
    if lengths is not None:
      new = _keep_live(t < lengths, new, state)
    return new, out

  return jax.lax.scan(body, state0, (jnp.arange(T), xs),
                      unroll=unroll_for(T) if unroll is None else unroll)


def forward(cell, theta: jax.Array, inputs: jax.Array, lengths: jax.Array,
            context: Any = None, *, every_step: bool = False) -> jax.Array:
  """The output of ``cell`` at each sequence's own end, ``(B,)``, or at
  every step, ``(T, B)`` (0 after each sequence's end); ``(B, K)`` and
  ``(T, B, K)`` for a cell whose readout has K outputs (logits).

  The generic forward pass of the cell protocol: ``state_0 =
  cell.initial_state(B)``, ``state_t = cell.step(p, state_{t-1}, t, x_t,
  context)`` while ``t < lengths[b]``, output ``cell.readout(state_T)``,
  with ``p = cell.unpack(theta)``.

  Args:
    cell: any cell of the protocol (``vanishing.cells``).
    theta: free parameters ``(P,)``, or one copy per time step ``(T, P)``
      (time-weighted pseudo-Newton differentiates with respect to each).
    inputs: ``(T, B)`` time-major external inputs, or ``(T, B, D)`` for
      a cell that reads D input channels.
    lengths: ``(B,)`` sequence lengths in 1..T.
    context: per-sequence side information the task gives the cell (the
      class labels, for the latch net's trainable first input).
    every_step: read the output after every step (a task with a target at
      every step), not only at each sequence's end.
  """
  B = inputs.shape[1]
  per_step = theta.ndim == 2
  p0 = None if per_step else cell.unpack(theta)

  def step(state, t, xs):
    u, th = xs
    p = cell.unpack(th) if per_step else p0
    new = cell.step(p, state, t, u, context)
    out = None
    if every_step:
      y = cell.readout(new)
      out = jnp.where(broadcast_live(t < lengths, y), y, 0.0)
    return new, out

  state, outs = scan(step, cell.initial_state(B, inputs.dtype),
                     (inputs, theta if per_step
                      else jnp.zeros(inputs.shape[0])), lengths)
  return outs if every_step else cell.readout(state)
