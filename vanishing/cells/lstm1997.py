"""The LSTM as Hochreiter & Schmidhuber (1997) built it: memory-cell blocks.

Hochreiter & Schmidhuber 1997, "Long short-term memory", Neural
Computation 9:1735-1780, Sections 4 and 5. ``blocks`` cell blocks of
``block_size`` memory cells each; every block has one input gate and one
output gate, shared by its cells, and there is no forget gate (Gers et
al.'s came in 2000: ``gated.LSTM``). The hidden layer is fully connected:
every cell input and gate reads the current external input ``u_t`` and the
previous activations of *all* hidden units, cells and gates alike,
``a_{t-1} = [y^c, y^in, y^out]`` (U = n + 2 B units, n = B S cells):

    net_t = W a_{t-1} + V u_t + b                      (U,)
    y^in_t = s(net^in_t),  y^out_t = s(net^out_t)      (one per block)
    s^c_t = s^c_{t-1} + y^in_t[block(c)] g(net^c_t)    the constant error
                                                       carousel, s^c_0 = 0
    y^c_t = y^out_t[block(c)] h(s^c_t)
    y_t = out(W_out y^c_t + b_out)                     output from cells only

with s the logistic function and the paper's squashing functions
``g(x) = 4 s(x) - 2`` (range [-2, 2]) and ``h(x) = 2 s(x) - 1`` ([-1, 1]);
the output unit is logistic (the paper's, range [0, 1]) unless replaced.
One departure from the paper's notation: the external input enters at its
own step ``t`` (the paper's units read every activation of ``t - 1``,
inputs included), as in every later LSTM.

**Parameters.** ``theta = (W (U x U) row-major, V (U x D) row-major, b (U),
W_out (K x n) row-major, b_out (K))``, units ordered cells (block by block),
input gates, output gates: ``U (U + D + 1) + K n + K`` parameters (the
adding problem's 2 blocks of 2 cells, D = 2, K = 1: 93, the paper's count);
``output_unit_bias=False`` drops ``b_out`` (held at 0), as experiment 3a's
net, whose bias weights are the hidden units' only (3 blocks of 1 cell,
D = 1: 102, the paper's count).

**The paper's truncated gradient** (Section 4, Appendix A.1): errors
arriving at the net inputs of cells and gates are not propagated further
back in time, only through the cells' internal states ``s``. With
``truncated=True`` the step reads ``a_{t-1}`` through ``stop_gradient``,
so ``jax.grad`` of a loss is that truncated gradient (every forward value
is unchanged); the default, ``False``, is the cell's exact derivative,
which the Jacobian and Lyapunov diagnostics of ``vanishing.theory`` need.

**Initialisation** (the paper's): every parameter uniform on [-scale,
scale] (the paper: 0.1), then the input gates' biases set to
``input_bias`` (one value per block; experiment 3a: -1, -3, -5; the adding
problem: -3, -6) and the output gates' to ``output_bias`` (3a: -2, -4, -6;
empty: drawn like the rest). Negative gate biases keep the gates closed at
first, the paper's remedy for "internal state drift" (Section 4).

The cell declares no structure (``provides`` is empty).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vanishing.cells.readout import ReadsHidden, channels, numpy_activation


# The paper's squashing functions as affine maps of the logistic s:
# g = 4 s - 2 (range [-2, 2]) on the cell input, h = 2 s - 1 ([-1, 1]) on
# the cell state.
G_SCALE, H_SCALE = 2.0, 1.0


def _squash(logistic, scale):
  """``2 scale s - scale``: g (scale 2) or h (scale 1) from ``s(x)``."""
  return 2.0 * scale * logistic - scale


@dataclasses.dataclass(frozen=True)
class LSTM1997(ReadsHidden):
  """The 1997 LSTM (module docstring): ``blocks`` blocks of ``block_size``
  cells, fully connected hidden layer, no forget gate."""
  blocks: int = 2
  block_size: int = 2
  inputs: int = 1
  input_bias: tuple[float, ...] = ()
  output_bias: tuple[float, ...] = ()
  output_unit_bias: bool = True
  truncated: bool = False
  output: str = "logistic"
  outputs: int = 1
  name: str = "lstm_1997"

  def __post_init__(self):
    if self.blocks < 1 or self.block_size < 1:
      raise ValueError(f"{self.name}: blocks and block_size must be >= 1")
    for field in ("input_bias", "output_bias"):
      if len(getattr(self, field)) not in (0, self.blocks):
        raise ValueError(f"{self.name}: {field} needs one value per block "
                         f"({self.blocks}) or none")
    super().__post_init__()

  @property
  def n(self) -> int:
    """Memory cells (what the readout reads)."""
    return self.blocks * self.block_size

  @property
  def units(self) -> int:
    """Hidden units U: the cells and two gates per block."""
    return self.n + 2 * self.blocks

  @property
  def size(self) -> int:
    U = self.units
    return U * (U + self.inputs + 1) + self.head.size - self._fixed_out_bias

  @property
  def _fixed_out_bias(self) -> int:
    """Output biases not in theta (held at 0): K without them, else 0."""
    return 0 if self.output_unit_bias else self.outputs

  def gate_bias_slices(self) -> tuple[slice, slice]:
    """Where the input gates' and the output gates' biases lie in theta."""
    U, n, B = self.units, self.n, self.blocks
    start = U * (U + self.inputs) + n
    return slice(start, start + B), slice(start + B, start + 2 * B)

  def init(self, key: jax.Array, scale: float = 0.1) -> jax.Array:
    theta = jax.random.uniform(key, (self.size,), minval=-scale,
                               maxval=scale)
    for where, values in zip(self.gate_bias_slices(),
                             (self.input_bias, self.output_bias)):
      if values:
        theta = theta.at[where].set(jnp.asarray(values, theta.dtype))
    return theta

  def _split(self, theta):
    U, D = self.units, self.inputs
    W = theta[:U * U].reshape(U, U)
    V = theta[U * U:U * (U + D)].reshape(U, D)
    b = theta[U * (U + D):U * (U + D + 1)]
    head = theta[U * (U + D + 1):]
    if self._fixed_out_bias:
      head = np.concatenate([head, np.zeros(self.outputs)]) if isinstance(
          head, np.ndarray) else jnp.concatenate(
              [head, jnp.zeros(self.outputs, head.dtype)])
    return W, V, b, head

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    W, V, b, head = self._split(theta)
    return {"W": W, "V": V, "b": b, **self.head.unpack(head)}

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    return {"a": jnp.zeros((batch, self.units), dtype),
            "s": jnp.zeros((batch, self.n), dtype),
            "y": self.head.initial(batch, dtype)}

  def step(self, p, state, t, u, context):
    del t, context
    n, B, S = self.n, self.blocks, self.block_size
    u = channels(u)
    prev = (jax.lax.stop_gradient(state["a"]) if self.truncated
            else state["a"])
    net = prev @ p["W"].T + u @ p["V"].T + p["b"]                # (batch, U)
    gate_in = jax.nn.sigmoid(net[:, n:n + B])
    gate_out = jax.nn.sigmoid(net[:, n + B:])
    s = state["s"] + jnp.repeat(gate_in, S, axis=1) * _squash(
        jax.nn.sigmoid(net[:, :n]), G_SCALE)
    yc = jnp.repeat(gate_out, S, axis=1) * _squash(jax.nn.sigmoid(s),
                                                   H_SCALE)
    return {"a": jnp.concatenate([yc, gate_in, gate_out], axis=1), "s": s,
            "y": self.head.apply(p, yc)}

  @staticmethod
  def numpy_forward(cell: "LSTM1997", theta, inputs, lengths, classes):
    """The definition as a plain float64 loop, cell by cell."""
    del classes
    n, B, S = cell.n, cell.blocks, cell.block_size
    W, V, b, head = cell._split(np.asarray(theta, np.float64))
    x = np.asarray(inputs, np.float64).reshape(inputs.shape[:2]
                                               + (cell.inputs,))
    out = []
    for seq in range(x.shape[1]):
      a, s = np.zeros(cell.units), np.zeros(n)
      for t in range(int(lengths[seq])):
        net = W @ a + V @ x[t, seq] + b
        gin = numpy_activation("logistic", net[n:n + B])
        gout = numpy_activation("logistic", net[n + B:])
        yc = np.zeros(n)
        for c in range(n):
          g = _squash(numpy_activation("logistic", net[c]), G_SCALE)
          s[c] += gin[c // S] * g
          yc[c] = gout[c // S] * _squash(numpy_activation("logistic", s[c]),
                                         H_SCALE)
        a = np.concatenate([yc, gin, gout])
      out.append(cell.head.numpy_apply(head, a[:n]))
    return np.asarray(out)
