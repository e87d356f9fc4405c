"""The one time loop every forward pass of the suite runs.

A recurrent computation over a time-major sequence batch is

    s_t = where(t < length_b, step(s_{t-1}, t, x_t), s_{t-1}),   t = 0..T-1,

for a state pytree ``s`` whose leaves have the sequence axis first (B, ...):
each sequence's state stops changing after its own length, so the state
left at the end is the state at that sequence's end. ``scan`` writes this
loop once (the length mask, the unroll policy, optional per-step outputs);
cells supply ``step`` (``vanishing.cells`` protocol) and never write their
own loop.

A cell whose recurrence is diagonal and linear (``provides`` holds
``"diagonal"``: ``linear_diag.Diagonal``), h_t = a_t * h_{t-1} + b_t, has a
second form of the same loop: :func:`linear_scan`, the prefix composition of
the affine maps h -> a_t h + b_t by ``jax.lax.associative_scan`` (Blelloch
1990; the LRU's training form, Orvieto et al. 2023), O(log T) deep instead
of T. :func:`forward` runs it where :func:`use_linear_scan` says it is
faster (benchmarks/linear_scan.py; docs/performance.md).
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


def linear_scan(a: jax.Array, b: jax.Array, lengths: jax.Array | None = None,
                h0: jax.Array | None = None) -> jax.Array:
  """Every ``h_t = a_t * h_{t-1} + b_t``, ``t = 0..T-1``, as ``(T, B, ...)``.

  The maps compose associatively, ``(a2, b2) o (a1, b1) = (a2 a1, a2 b1 +
  b2)``, so ``jax.lax.associative_scan`` computes every prefix in O(log T)
  depth. A step past sequence b's length is the identity map (a = 1, b = 0),
  so its state is frozen from ``lengths[b]`` on, exactly as :func:`scan`'s
  mask freezes it.

  Args:
    a: ``(T, ...)`` factors broadcasting against ``b`` (real or complex).
    b: ``(T, B, ...)`` offsets.
    lengths: ``(B,)`` sequence lengths, or None (all T steps live).
    h0: ``(B, ...)`` initial state, or None for zero.
  """
  a = jnp.broadcast_to(a, b.shape)
  if lengths is not None:
    live = broadcast_live(jnp.arange(b.shape[0])[:, None] < lengths[None, :],
                          b)
    a, b = jnp.where(live, a, 1), jnp.where(live, b, 0)
  if h0 is not None:
    b = b.at[0].add(a[0] * h0)

  def compose(first, then):
    return then[0] * first[0], then[0] * first[1] + then[1]

  return jax.lax.associative_scan(compose, (a, b))[1]


# On an accelerator, :func:`forward` runs a diagonal cell by
# :func:`linear_scan` from this many steps on. On a CPU never: at the
# suite's batch sizes (lanes x sequences >= 512) the sequential loop was
# faster at every T measured, 16..256 (benchmarks/linear_scan.py,
# docs/performance.md); the accelerator's threshold awaits the same
# benchmark on a GPU.
LINEAR_SCAN_MIN_T = 64


def use_linear_scan(cell, T: int, backend: str | None = None) -> bool:
  """Whether :func:`forward` runs ``cell`` over T steps by
  :func:`linear_scan`: a diagonal cell, off the CPU (``backend``: JAX's
  default unless given), at T >= ``LINEAR_SCAN_MIN_T``."""
  backend = backend or jax.default_backend()
  return ("diagonal" in cell.provides and backend != "cpu"
          and T >= LINEAR_SCAN_MIN_T)


def _forward_diagonal(cell, theta, inputs, lengths, every_step):
  """:func:`forward` of a diagonal cell by :func:`linear_scan`: every
  state's (a_t, b_t) at once, the scan, every step's emitted state; the
  output at each sequence's end is the one of step ``lengths - 1``."""
  T, B = inputs.shape[:2]
  ts = jnp.arange(T)
  if theta.ndim == 2:
    ps = jax.vmap(cell.unpack)(theta)
    a, b = jax.vmap(cell.transition)(ps, ts, inputs)
  else:
    ps = cell.unpack(theta)
    a, b = jax.vmap(cell.transition, (None, 0, 0))(ps, ts, inputs)
  h0 = cell.hidden(cell.initial_state(B, inputs.dtype))
  h = linear_scan(a[:, None] if a.ndim == 2 else a, b, lengths, h0)
  ys = jax.vmap(lambda p, h_t, u: cell.readout(cell.emit(p, h_t, u)),
                (0 if theta.ndim == 2 else None, 0, 0))(ps, h, inputs)
  if every_step:
    return jnp.where(broadcast_live(ts[:, None] < lengths[None, :], ys), ys,
                     0.0)
  return ys[lengths - 1, jnp.arange(B)]


def forward(cell, theta: jax.Array, inputs: jax.Array, lengths: jax.Array,
            context: Any = None, *, every_step: bool = False,
            parallel: bool | None = None) -> jax.Array:
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
    parallel: a diagonal cell's loop by :func:`linear_scan` (True) or by
      :func:`scan` (False); None: :func:`use_linear_scan`'s rule.
  """
  if parallel is None:
    parallel = use_linear_scan(cell, inputs.shape[0])
  if parallel:
    return _forward_diagonal(cell, theta, inputs, lengths, every_step)
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
