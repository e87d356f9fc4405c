"""Gated recurrent cells: the LSTM and the GRU, cells of the protocol.

The remedies for the vanishing gradient of Bengio, Simard & Frasconi (1994)
that came after it keep a path through time along which the state Jacobian
is (close to) the identity, opened and closed by multiplicative gates.

**LSTM** (Hochreiter & Schmidhuber 1997, "Long short-term memory", Neural
Computation 9:1735-1780; the forget gate of Gers, Schmidhuber & Cummins
2000, "Learning to forget", Neural Computation 12:2451-2471), n memory
cells without peepholes (the "vanilla" LSTM of Greff et al. 2017):

    i_t = s(W_i h_{t-1} + V_i u_t + b_i)       input gate
    f_t = s(W_f h_{t-1} + V_f u_t + b_f)       forget gate (f_t = 1 without)
    g_t = tanh(W_g h_{t-1} + V_g u_t + b_g)    cell input
    o_t = s(W_o h_{t-1} + V_o u_t + b_o)       output gate
    c_t = f_t * c_{t-1} + i_t * g_t,   h_t = o_t * tanh(c_t),   h_0 = c_0 = 0

with s the logistic function. ``forget_gate=False`` is the 1997 memory
cell: no forget parameters, c_t = c_{t-1} + i_t g_t, the constant error
carousel (dc_t/dc_{t-1} = I where the input gate is closed). The 1997
paper's squashing functions with ranges [-2, 2] and [-1, 1] are the tanh of
the later papers here.

**GRU** (Cho et al. 2014, "Learning phrase representations using RNN
encoder-decoder for statistical machine translation", EMNLP, eqs. 5-8):

    z_t = s(W_z h_{t-1} + V_z u_t + b_z)       update gate
    r_t = s(W_r h_{t-1} + V_r u_t + b_r)       reset gate
    h~_t = tanh(W_h (r_t * h_{t-1}) + V_h u_t + b_h)
    h_t = z_t * h_{t-1} + (1 - z_t) * h~_t,    h_0 = 0

Cho et al.'s convention: z_t = 1 keeps the old state (some libraries swap
z and 1 - z).

Both read D = ``inputs`` channels (inputs ``(T, B)`` for D = 1, else
``(T, B, D)``) and end in the readout shared with Elman's net
(``readout.Readout``): ``y = out(W_out h_t + b_out)``, K = ``outputs``,
carried in the state as ``y``.

**Parameters.** With G gate blocks (LSTM: i, f, g, o, G = 4; without forget
gate i, g, o, G = 3; GRU: z, r, h~, G = 3) ``theta`` is

    (W (G n x n) row-major, V (G n x D) row-major, b (G n),
     W_out (K x n) row-major, b_out (K)),

the rows of W, V, b stacked gate by gate in the order above:
G n (n + D + 1) + K n + K parameters (n = 4, D = K = 1: LSTM 101, LSTM
without forget gate 77, GRU 77).

**Initialisation.** ``init(key, scale)`` draws every parameter uniform on
[-scale, scale], then sets the LSTM's forget-gate biases b_f to
``forget_bias`` (1.0 by default): a positive forget bias keeps f near 1 at
the start, so the cells remember until training teaches them to forget
(Gers et al. 2000; Jozefowicz, Zaremba & Sutskever 2015 found b_f = 1
closes most of the gap between the LSTM and the best architectures they
searched). The GRU's biases are drawn like every other parameter.

The cells declare no structure (``provides`` is empty): the methods that
need a masked net's linear pre-activations refuse them
(``vanishing.methods.check_supported``).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from vanishing.cells.readout import (ReadsHidden, channels, numpy_activation,
                                     numpy_inputs)

_logistic = functools.partial(numpy_activation, "logistic")


def _split_gates(theta, n: int, D: int, G: int):
  """``theta`` -> (W (G n, n), V (G n, D), b (G n), readout entries): the
  layout of the module docstring, for JAX and NumPy arrays alike."""
  m = G * n
  W = theta[:m * n].reshape(m, n)
  V = theta[m * n:m * (n + D)].reshape(m, D)
  b = theta[m * (n + D):m * (n + D + 1)]
  return W, V, b, theta[m * (n + D + 1):]


class _Gated(ReadsHidden):
  """What the LSTM and the GRU share: the layout and ``init``'s uniform
  draw (a subclass sets ``gates`` and may fix entries)."""

  @property
  def size(self) -> int:
    return self.gates * self.n * (self.n + self.inputs + 1) + self.head.size

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    return jax.random.uniform(key, (self.size,), minval=-scale, maxval=scale)

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    W, V, b, head = _split_gates(theta, self.n, self.inputs, self.gates)
    return {"W": W, "V": V, "b": b, **self.head.unpack(head)}


@dataclasses.dataclass(frozen=True)
class LSTM(_Gated):
  """An LSTM with ``n`` memory cells (static, hashable): see the module
  docstring for the equations, the layout of ``theta`` and ``init``."""
  n: int = 4
  inputs: int = 1
  forget_gate: bool = True
  forget_bias: float = 1.0
  output: str = "tanh"
  outputs: int = 1
  name: str = "lstm"

  @property
  def gates(self) -> int:
    return 4 if self.forget_gate else 3

  @property
  def forget_bias_slice(self) -> slice:
    """Where b_f lies in ``theta`` (empty without a forget gate)."""
    n, start = self.n, self.gates * self.n * (self.n + self.inputs)
    return slice(start + n, start + (2 * n if self.forget_gate else n))

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    return super().init(key, scale).at[self.forget_bias_slice].set(
        self.forget_bias)

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    z = jnp.zeros((batch, self.n), dtype)
    return {"h": z, "c": z, "y": self.head.initial(batch, dtype)}

  def step(self, p, state, t, u, context):
    del t, context
    a = state["h"] @ p["W"].T + channels(u) @ p["V"].T + p["b"]
    if self.forget_gate:
      i, f, g, o = jnp.split(a, 4, axis=-1)
      c = jax.nn.sigmoid(f) * state["c"]
    else:
      i, g, o = jnp.split(a, 3, axis=-1)
      c = state["c"]                                   # f = 1 exactly
    c = c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return {"h": h, "c": c, "y": self.head.apply(p, h)}

  @staticmethod
  def numpy_forward(cell: "LSTM", theta, inputs, lengths, classes):
    """The definition as a plain float64 loop, gate by gate."""
    del classes
    n = cell.n
    W, V, b, head = _split_gates(np.asarray(theta, np.float64), n,
                                 cell.inputs, cell.gates)
    names = ("i", "f", "g", "o") if cell.forget_gate else ("i", "g", "o")
    x = numpy_inputs(cell, inputs)
    out = []
    for s in range(x.shape[1]):
      h, c = np.zeros(n), np.zeros(n)
      for t in range(int(lengths[s])):
        a = W @ h + V @ x[t, s] + b
        pre = {k: a[j * n:(j + 1) * n] for j, k in enumerate(names)}
        f = _logistic(pre["f"]) if cell.forget_gate else 1.0
        c = f * c + _logistic(pre["i"]) * np.tanh(pre["g"])
        h = _logistic(pre["o"]) * np.tanh(c)
      out.append(cell.head.numpy_apply(head, h))
    return np.asarray(out)


@dataclasses.dataclass(frozen=True)
class GRU(_Gated):
  """A GRU with ``n`` units (static, hashable): see the module docstring
  for the equations, the convention for z and the layout of ``theta``."""
  n: int = 4
  inputs: int = 1
  output: str = "tanh"
  outputs: int = 1
  name: str = "gru"
  gates = 3

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    return {"h": jnp.zeros((batch, self.n), dtype),
            "y": self.head.initial(batch, dtype)}

  def step(self, p, state, t, u, context):
    del t, context
    n, h = self.n, state["h"]
    x = channels(u) @ p["V"].T + p["b"]              # (B, 3n)
    zr = jax.nn.sigmoid(h @ p["W"][:2 * n].T + x[:, :2 * n])
    z, r = zr[:, :n], zr[:, n:]
    cand = jnp.tanh((r * h) @ p["W"][2 * n:].T + x[:, 2 * n:])
    h = z * h + (1 - z) * cand
    return {"h": h, "y": self.head.apply(p, h)}

  @staticmethod
  def numpy_forward(cell: "GRU", theta, inputs, lengths, classes):
    """The definition as a plain float64 loop."""
    del classes
    n = cell.n
    W, V, b, head = _split_gates(np.asarray(theta, np.float64), n,
                                 cell.inputs, 3)
    (Wz, Wr, Wh), (Vz, Vr, Vh), (bz, br, bh) = (
        np.split(W, 3), np.split(V, 3), np.split(b, 3))
    x = numpy_inputs(cell, inputs)
    out = []
    for s in range(x.shape[1]):
      h = np.zeros(n)
      for t in range(int(lengths[s])):
        u = x[t, s]
        z = _logistic(Wz @ h + Vz @ u + bz)
        r = _logistic(Wr @ h + Vr @ u + br)
        cand = np.tanh(Wh @ (r * h) + Vh @ u + bh)
        h = z * h + (1 - z) * cand
      out.append(cell.head.numpy_apply(head, h))
    return np.asarray(out)
