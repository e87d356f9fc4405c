"""Elman's simple recurrent network (Elman 1990, "Finding structure in
time", Cognitive Science 14:179-211), a cell of the protocol written from
scratch: the worked example of README's "How to add a cell".

n tanh hidden units read the input and their own previous states; the
output is a readout of the hidden state, not a unit of the recurrence:

    h_t = tanh(W h_{t-1} + v u_t + b),   h_0 = 0,
    y   = tanh(w_out . h_T + b_out).

Parameters ``theta`` = (W row-major, v, b, w_out, b_out): n^2 + 3n + 1.
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
  """An Elman net with ``n`` hidden units (static, hashable)."""
  n: int = 4
  name: str = "elman"
  provides = frozenset()

  @property
  def size(self) -> int:
    return self.n * self.n + 3 * self.n + 1

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    return jax.random.uniform(key, (self.size,), minval=-scale, maxval=scale)

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    n = self.n
    cut = np.cumsum([n * n, n, n, n])
    W, v, b, w_out, b_out = jnp.split(theta, cut, axis=-1)
    return {"W": W.reshape(n, n), "v": v, "b": b, "w_out": w_out,
            "b_out": b_out[0]}

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    # The output is carried with the state, so that ``readout`` reads it
    # at each sequence's end like any other part of the state.
    return {"h": jnp.zeros((batch, self.n), dtype),
            "y": jnp.zeros((batch,), dtype)}

  def step(self, p, state, t, u, context):
    del t, context
    h = jnp.tanh(state["h"] @ p["W"].T + u[:, None] * p["v"] + p["b"])
    return {"h": h, "y": jnp.tanh(h @ p["w_out"] + p["b_out"])}

  def readout(self, state) -> jax.Array:
    return state["y"]

  @staticmethod
  def numpy_forward(cell: "Elman", theta, inputs, lengths, classes):
    """The definition as a plain float64 loop (the conformance tests
    compare the generic forward pass with it)."""
    del classes
    n, th = cell.n, np.asarray(theta, np.float64)
    W = th[:n * n].reshape(n, n)
    v, b = th[n * n:n * n + n], th[n * n + n:n * n + 2 * n]
    w_out, b_out = th[n * n + 2 * n:n * n + 3 * n], th[-1]
    out = []
    for s in range(inputs.shape[1]):
      h = np.zeros(n)
      for t in range(int(lengths[s])):
        h = np.tanh(W @ h + v * float(inputs[t, s]) + b)
      out.append(np.tanh(w_out @ h + b_out))
    return np.asarray(out)
