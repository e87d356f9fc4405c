"""Recurrent cells as pure functions.

The latch neuron of Bengio, Simard & Frasconi (1994), Section III:

    a_t = w * tanh(a_{t-1}) + h_t,    x_t = tanh(a_t),    a_0 = 0.

Arrays are time-major: an input sequence batch has shape ``(T, ...)`` and the
trailing axes are carried through unchanged, so one call runs any number of
sequences (and, under ``vmap``, any number of runs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Fully unrolling the time loop lets XLA fuse a whole short sequence; on the
# 2-core CPU it trained 1.2x faster than unroll=4 at T = 20 (0.39 s against
# 0.46 s). At T = 60 it still ran 1.15x faster but took 7.3 s to compile
# against 2.7 s, more than it saves on default-size sweeps
# (benchmarks/unroll.py).
MAX_FULL_UNROLL = 24
PARTIAL_UNROLL = 4


def _unroll(T: int) -> int | bool:
  return True if T <= MAX_FULL_UNROLL else PARTIAL_UNROLL


def latch_step(w: jax.Array, a: jax.Array, h: jax.Array) -> jax.Array:
  """One step of the latch neuron: ``a_t = w * tanh(a_{t-1}) + h_t``."""
  return w * jnp.tanh(a) + h


def latch_final(w: jax.Array, inputs: jax.Array, a0: jax.Array | float = 0.0
                ) -> jax.Array:
  """Final pre-activation ``a_T`` of the latch neuron.

  Args:
    w: self-weight (scalar, or broadcastable against ``inputs[0]``).
    inputs: ``h_1..h_T`` with time on axis 0, shape ``(T, ...)``.
    a0: initial state ``a_0`` (0 in the paper).

  Returns:
    ``a_T`` with shape ``inputs.shape[1:]``.
  """
  a0 = jnp.broadcast_to(jnp.asarray(a0, inputs.dtype), inputs.shape[1:])

  def body(a, h):
    return latch_step(w, a, h), None

  a_T, _ = jax.lax.scan(body, a0, inputs, unroll=_unroll(inputs.shape[0]))
  return a_T


def latch_trajectory(w: jax.Array, inputs: jax.Array,
                     a0: jax.Array | float = 0.0) -> jax.Array:
  """States ``a_1..a_T`` of the latch neuron, shape ``inputs.shape``."""
  a0 = jnp.broadcast_to(jnp.asarray(a0, inputs.dtype), inputs.shape[1:])

  def body(a, h):
    a = latch_step(w, a, h)
    return a, a

  _, path = jax.lax.scan(body, a0, inputs, unroll=_unroll(inputs.shape[0]))
  return path
