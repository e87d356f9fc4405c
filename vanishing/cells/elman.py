"""Elman's simple recurrent network (Elman 1990, "Finding structure in
time", Cognitive Science 14:179-211), a cell of the protocol written from
scratch: the worked example of README's "How to add a cell".

n tanh hidden units read the D input channels and their own previous
states; the output is a readout of the hidden state, not a unit of the
recurrence:

    h_t = tanh(W h_{t-1} + V u_t + b),   h_0 = 0,
    y_t = tanh(w_out . h_t + b_out).

Parameters ``theta`` = (W row-major, V (n x D) row-major, b, w_out, b_out):
n^2 + nD + 2n + 1. Inputs are ``(T, B)`` for D = 1, else ``(T, B, D)``.
It declares no structure (``provides`` is empty), so the methods that need a
masked net's linear pre-activations (pseudo-Newton, discrete propagation)
refuse it; every method that only evaluates the cost trains it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Elman:
  """An Elman net with ``n`` hidden units and ``inputs`` channels (static,
  hashable)."""
  n: int = 4
  inputs: int = 1
  name: str = "elman"
  provides = frozenset()

  @property
  def size(self) -> int:
    return self.n * self.n + self.n * self.inputs + 2 * self.n + 1

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    return jax.random.uniform(key, (self.size,), minval=-scale, maxval=scale)

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    n, D = self.n, self.inputs
    cut = np.cumsum([n * n, n * D, n, n])
    W, V, b, w_out, b_out = jnp.split(theta, cut, axis=-1)
    return {"W": W.reshape(n, n), "V": V.reshape(n, D), "b": b,
            "w_out": w_out, "b_out": b_out[0]}

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    # The output is carried with the state, so that ``readout`` reads it
    # at each sequence's end like any other part of the state.
    return {"h": jnp.zeros((batch, self.n), dtype),
            "y": jnp.zeros((batch,), dtype)}

  def step(self, p, state, t, u, context):
    del t, context
    u = u[:, None] if u.ndim == 1 else u                  # (B, D)
    h = jnp.tanh(state["h"] @ p["W"].T + u @ p["V"].T + p["b"])
    return {"h": h, "y": jnp.tanh(h @ p["w_out"] + p["b_out"])}

  def readout(self, state) -> jax.Array:
    return state["y"]

  @staticmethod
  def numpy_forward(cell: "Elman", theta, inputs, lengths, classes):
    """The definition as a plain float64 loop (the conformance tests
    compare the generic forward pass with it)."""
    del classes
    n, D, th = cell.n, cell.inputs, np.asarray(theta, np.float64)
    W, rest = th[:n * n].reshape(n, n), th[n * n:]
    V, rest = rest[:n * D].reshape(n, D), rest[n * D:]
    b, w_out, b_out = rest[:n], rest[n:2 * n], rest[-1]
    x = np.asarray(inputs, np.float64).reshape(inputs.shape[:2] + (D,))
    out = []
    for s in range(x.shape[1]):
      h = np.zeros(n)
      for t in range(int(lengths[s])):
        h = np.tanh(W @ h + V @ x[t, s] + b)
      out.append(np.tanh(w_out @ h + b_out))
    return np.asarray(out)
