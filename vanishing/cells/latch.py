"""The latch neuron of Bengio, Simard & Frasconi (1994), Section III:

    a_t = w * tanh(a_{t-1}) + h_t,    x_t = tanh(a_t),    a_0 = 0.

The state is the pre-activation ``a``. Arrays are time-major: an input
sequence batch has shape ``(T, ...)`` and the trailing axes are carried
through unchanged, so one call runs any number of sequences (and, under
``vmap``, any number of runs). This is the cell of the density, length and
gradients experiments, whose sequences all run their full length; the masked
nets of Section VI are :mod:`vanishing.cells.net`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vanishing.cells import scan


def latch_step(w: jax.Array, a: jax.Array, h: jax.Array) -> jax.Array:
  """One step of the latch neuron: ``a_t = w * tanh(a_{t-1}) + h_t``."""
  return w * jnp.tanh(a) + h


def _scan(w, inputs, a0, collect: bool, length=None):
  a0 = jnp.broadcast_to(jnp.asarray(a0, inputs.dtype), inputs.shape[1:])
  if length is not None:  # one length per state element, runs last
    length = jnp.broadcast_to(length, a0.shape)

  def step(a, t, h):
    a = latch_step(w, a, h)
    return a, (a if collect else None)

  # A masked loop always unrolls the same way: its numbers then do not
  # depend on how many steps the arrays hold (see latch_final).
  return scan.scan(step, a0, inputs, length,
                   unroll=None if length is None else scan.PARTIAL_UNROLL)


def latch_final(w: jax.Array, inputs: jax.Array, a0: jax.Array | float = 0.0,
                length: jax.Array | None = None) -> jax.Array:
  """Final pre-activation ``a_T`` of the latch neuron.

  Args:
    w: self-weight (scalar, or broadcastable against ``inputs[0]``).
    inputs: ``h_1..h_T`` with time on axis 0, shape ``(T, ...)``.
    a0: initial state ``a_0`` (0 in the paper).
    length: None, or the steps that count (broadcastable against
      ``inputs[0]``): the state is frozen after them, so the result is
      ``a_length`` bit for bit (the frozen steps add exact zeros to every
      gradient).

  Returns:
    ``a_T`` with shape ``inputs.shape[1:]``.
  """
  return _scan(w, inputs, a0, collect=False, length=length)[0]


def latch_trajectory(w: jax.Array, inputs: jax.Array,
                     a0: jax.Array | float = 0.0) -> jax.Array:
  """States ``a_1..a_T`` of the latch neuron, shape ``inputs.shape``."""
  return _scan(w, inputs, a0, collect=True)[1]
