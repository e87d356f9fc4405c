"""Elman's simple recurrent network (Elman 1990, "Finding structure in
time", Cognitive Science 14:179-211), a cell of the protocol written from
scratch: the worked example of docs/extending.md. It is also the
plain tanh RNN of the gated cells' comparisons, with the orthogonal (Saxe,
McClelland & Ganguli 2014) and identity (Le, Jaitly & Hinton 2015, "IRNN")
initialisations of its recurrent matrix.

n tanh hidden units read the D input channels and their own previous
states; the output is a readout of the hidden state, not a unit of the
recurrence (``readout.Readout``, shared with the gated cells):

    h_t = tanh(W h_{t-1} + V u_t + b),   h_0 = 0,
    y_t = out(W_out h_t + b_out),        out = tanh (default), linear or
                                         logistic; K = ``outputs`` rows.

Parameters ``theta`` = (W row-major, V (n x D) row-major, b, W_out (K x n)
row-major, b_out (K)): n^2 + nD + n + Kn + K (29 at n = 4, D = K = 1).
Inputs are ``(T, B)`` for D = 1, else ``(T, B, D)``.

``init(key, scale)`` by ``recurrent_init``:

* ``uniform`` (default): every parameter uniform on [-scale, scale];
* ``orthogonal``: W = Q diag(sign(diag R)) for the QR decomposition of an
  n x n standard Gaussian matrix (sign-corrected, so Q is Haar-distributed:
  Mezzadri 2007), every singular value 1; b = 0;
* ``identity``: W = I, b = 0 (Le et al. 2015 use zero biases);

with V and the readout uniform on [-scale, scale] in every case (drawn as
in ``uniform``, so the three share V and the readout for one key).

It declares no structure (``provides`` is empty), so the methods that need a
masked net's linear pre-activations (pseudo-Newton, discrete propagation)
refuse it; every method that only evaluates the cost trains it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vanishing.cells.readout import ReadsHidden, channels

RECURRENT_INITS = ("uniform", "orthogonal", "identity")


def orthogonal(key: jax.Array, n: int) -> jax.Array:
  """A Haar-random n x n orthogonal matrix: QR of a Gaussian matrix with
  the signs of R's diagonal moved into Q (Mezzadri 2007)."""
  q, r = jnp.linalg.qr(jax.random.normal(key, (n, n)))
  return q * jnp.where(jnp.diag(r) < 0, -1.0, 1.0)[None, :]


@dataclasses.dataclass(frozen=True)
class Elman(ReadsHidden):
  """An Elman net with ``n`` hidden units and ``inputs`` channels (static,
  hashable); ``recurrent_init``, ``output`` and ``outputs`` as above."""
  n: int = 4
  inputs: int = 1
  name: str = "elman"
  recurrent_init: str = "uniform"
  output: str = "tanh"
  outputs: int = 1

  def __post_init__(self):
    if self.recurrent_init not in RECURRENT_INITS:
      raise ValueError(f"recurrent_init must be one of {RECURRENT_INITS}, "
                       f"got {self.recurrent_init!r}")
    super().__post_init__()

  @property
  def size(self) -> int:
    return self.n * self.n + self.n * self.inputs + self.n + self.head.size

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    theta = jax.random.uniform(key, (self.size,), minval=-scale,
                               maxval=scale)
    if self.recurrent_init == "uniform":
      return theta
    n = self.n
    W = (orthogonal(jax.random.fold_in(key, 1), n)
         if self.recurrent_init == "orthogonal" else jnp.eye(n))
    b0 = n * n + n * self.inputs
    return theta.at[:n * n].set(W.reshape(-1).astype(theta.dtype)
                                ).at[b0:b0 + n].set(0.0)

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    n, D = self.n, self.inputs
    cut = np.cumsum([n * n, n * D, n])
    W, V, b, head = jnp.split(theta, cut, axis=-1)
    return {"W": W.reshape(n, n), "V": V.reshape(n, D), "b": b,
            **self.head.unpack(head)}

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    # The output is carried with the state, so that ``readout`` reads it
    # at each sequence's end like any other part of the state.
    return {"h": jnp.zeros((batch, self.n), dtype),
            "y": self.head.initial(batch, dtype)}

  def step(self, p, state, t, u, context):
    del t, context
    u = channels(u)                                       # (B, D)
    h = jnp.tanh(state["h"] @ p["W"].T + u @ p["V"].T + p["b"])
    return {"h": h, "y": self.head.apply(p, h)}

  @staticmethod
  def numpy_forward(cell: "Elman", theta, inputs, lengths, classes):
    """The definition as a plain float64 loop (the conformance tests
    compare the generic forward pass with it)."""
    del classes
    n, D, th = cell.n, cell.inputs, np.asarray(theta, np.float64)
    W, rest = th[:n * n].reshape(n, n), th[n * n:]
    V, rest = rest[:n * D].reshape(n, D), rest[n * D:]
    b, head = rest[:n], rest[n:]
    x = np.asarray(inputs, np.float64).reshape(inputs.shape[:2] + (D,))
    out = []
    for s in range(x.shape[1]):
      h = np.zeros(n)
      for t in range(int(lengths[s])):
        h = np.tanh(W @ h + V @ x[t, s] + b)
      out.append(cell.head.numpy_apply(head, h))
    return np.asarray(out)
