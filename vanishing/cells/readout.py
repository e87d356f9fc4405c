"""The output layer shared by the cells whose output reads a hidden state.

Elman's net, the LSTM and the GRU (``elman.py``, ``gated.py``) all end in
the same readout of their hidden state ``h (B, n)``:

    y = out(W_out h + b_out),   out in {tanh, linear, logistic},

with ``K`` outputs: ``W_out`` is ``(K, n)`` and ``b_out`` ``(K,)``; ``y``
is ``(B,)`` for K = 1 and ``(B, K)`` for K > 1 (with ``linear``, the logits
of a classifier over K symbols). Its ``K n + K`` parameters close the flat
``theta`` of each of those cells: ``W_out`` row-major, then ``b_out``. The
cells carry ``y`` in their state so that ``readout`` reads it at each
sequence's end; no step reads it back (``y`` does not feed the recurrence).

:func:`activation` is also the output function of the masked nets
(``Net.output_activation``): one implementation of each output function.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

OUTPUTS = ("tanh", "linear", "logistic")


def activation(kind: str, a: jax.Array) -> jax.Array:
  """The output function ``kind`` of ``OUTPUTS``, elementwise; also
  ``sign``, the threshold unit of the masked nets: +1 where ``a >= 0``,
  else -1 (never 0)."""
  if kind == "logistic":
    return jax.nn.sigmoid(a)
  if kind == "tanh":
    return jnp.tanh(a)
  if kind == "sign":
    return jnp.where(a >= 0, 1.0, -1.0).astype(a.dtype)
  return a


def numpy_activation(kind: str, a: np.ndarray) -> np.ndarray:
  """:func:`activation` in float64 NumPy (the cells' reference loops)."""
  a = np.asarray(a, np.float64)
  if kind == "logistic":
    return 1 / (1 + np.exp(-a))
  if kind == "sign":
    return np.where(a >= 0, 1.0, -1.0)
  return np.tanh(a) if kind == "tanh" else a


def channels(u: jax.Array) -> jax.Array:
  """``u_t`` as ``(B, D)``: a ``(B,)`` input is one channel."""
  return u[:, None] if u.ndim == 1 else u


def numpy_inputs(cell, inputs) -> np.ndarray:
  """Inputs as float64 ``(T, B, D)`` (the cells' NumPy reference loops)."""
  return np.asarray(inputs, np.float64).reshape(inputs.shape[:2]
                                                + (cell.inputs,))


@dataclasses.dataclass(frozen=True)
class Readout:
  """``y = out(W_out h + b_out)`` on ``n`` hidden units, ``outputs`` = K."""
  n: int
  outputs: int = 1
  output: str = "tanh"

  def __post_init__(self):
    if self.output not in OUTPUTS:
      raise ValueError(f"output must be one of {OUTPUTS}, got "
                       f"{self.output!r}")
    if self.outputs < 1:
      raise ValueError(f"outputs must be >= 1, got {self.outputs}")

  @property
  def size(self) -> int:
    return self.outputs * self.n + self.outputs

  def unpack(self, flat: jax.Array) -> dict[str, jax.Array]:
    """The last ``size`` entries of a cell's theta: ``w_out`` ``(n,)`` and
    a scalar ``b_out`` for K = 1, else ``(K, n)`` and ``(K,)``."""
    K, n = self.outputs, self.n
    w_out, b_out = flat[:K * n], flat[K * n:]
    if K == 1:
      return {"w_out": w_out, "b_out": b_out[0]}
    return {"w_out": w_out.reshape(K, n), "b_out": b_out}

  def initial(self, batch: int, dtype) -> jax.Array:
    """``y_0 = 0``, ``(batch,)`` or ``(batch, K)``."""
    shape = (batch,) if self.outputs == 1 else (batch, self.outputs)
    return jnp.zeros(shape, dtype)

  def apply(self, p: dict, h: jax.Array) -> jax.Array:
    """``y`` from ``h (B, n)`` and the unpacked ``w_out``, ``b_out``."""
    w = p["w_out"] if self.outputs == 1 else p["w_out"].T
    return activation(self.output, h @ w + p["b_out"])

  def numpy_apply(self, flat, h) -> np.ndarray:
    """:meth:`apply` in float64 on one hidden state ``h (n,)``, from the
    readout's own entries ``flat`` of theta."""
    K, n = self.outputs, self.n
    flat = np.asarray(flat, np.float64)
    y = numpy_activation(self.output,
                         flat[:K * n].reshape(K, n) @ h + flat[K * n:])
    return y[0] if K == 1 else y


class ReadsHidden:
  """What a cell whose output is a :class:`Readout` of its hidden state
  shares (Elman's net, the LSTM, the GRU): fields ``n``, ``inputs``,
  ``output``, ``outputs`` and ``name``, the output carried as ``y``."""

  provides = frozenset()

  def __post_init__(self):
    if self.n < 1 or self.inputs < 1:
      raise ValueError(f"{self.name}: n and inputs must be >= 1")
    self.head  # validates output and outputs

  @property
  def head(self) -> Readout:
    return Readout(self.n, self.outputs, self.output)

  def readout(self, state) -> jax.Array:
    return state["y"]
