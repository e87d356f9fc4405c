"""The Linear Recurrent Unit (LRU) of Orvieto et al. 2023, a cell of the
protocol.

Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu & De 2023, "Resurrecting
recurrent neural networks for long sequences", ICML (Section 3, Algorithm
1 of the appendix): a linear recurrence, diagonal over the complex field,
stable by construction, followed by a nonlinearity per step. N complex
states, H features, D input channels:

    lambda = exp(-exp(nu_log) + i exp(theta_log))       (|lambda| < 1)
    gamma  = exp(gamma_log)                             (init sqrt(1 - |lambda|^2))
    h_t = lambda * h_{t-1} + gamma * ((B_re + i B_im) v_t),   h_0 = 0,
    x_t = gelu(Re((C_re + i C_im) h_t) + D u_t)         (H features)
    y_t = out(W_out x_t + b_out)                        (``readout.Readout``)

with v_t = u_t, or with ``encoder`` v_t = gelu(E u_t + e) (H features: a
one-layer input MLP, the nonlinearity that a stack of LRU blocks puts
before every block's recurrence but the first; without it the state is
linear in the inputs and y a function of N linear filters of them, which
cannot compute the adding problem's product of marker and value).
``|lambda| = exp(-exp(nu_log)) < 1`` for every finite ``nu_log`` (in
float32 it rounds to 1, never above, once exp(nu_log) < 2^-24: nu_log
below about -17, a memory of 10^7 steps).
``gamma`` is the paper's normalisation: at its initial value each state's
variance under white-noise input is that of the input, whatever
``|lambda|``; like the paper's code it is trained (``gamma_log``).

**State.** ``{"h": (B, 2N) real, "y": ...}``: the real parts of h, then
the imaginary parts (the complex state as a real array, so that methods
that move real states treat it); the recurrence is diagonal over the
complex field (``linear_diag.Diagonal``: ``transition`` returns the
complex ``lambda`` and ``gamma B u_t``), a 2 x 2 rotation-scaling per
state over the reals.

**Parameters** ``theta`` = (nu_log (N), theta_log (N), gamma_log (N),
[with ``encoder``: E (H x D), e (H)], B_re, B_im (N x D each, N x H with
``encoder``), C_re, C_im (H x N each), D (H x D), W_out (K x
H), b_out (K)), matrices row-major: 3N + 2ND + 2HN + HD + KH + K (61 at N
= H = 4, D = K = 1; 93 with ``encoder``).

**Initialisation** (the paper's Algorithm 1): |lambda| distributed as the
radius of a point uniform on the ring r_min <= |z| <= r_max (Lemma 3.2:
``nu_log = log(-log(u (r_max^2 - r_min^2) + r_min^2) / 2)``), phase
uniform on [0, max_phase] (``theta_log = log(max_phase v)``), u, v ~
U[0, 1]; B_re, B_im ~ N(0, 1/(2D)), C_re, C_im ~ N(0, 1/N); D ~ N(0,
1/D) (the paper's D is a vector, N(0, 1), its H = D); the readout uniform
on [-scale, scale] as every cell's; E ~ N(0, 1/D), e = 0. ``scale`` sets nothing else: the
paper's draws are scaled by fan-in. Defaults r_min = 0.9, r_max = 0.999,
max_phase = 2 pi: the paper's long-range settings (BUILD_NOTES,
"Deviations and choices").
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from vanishing.cells.linear_diag import Diagonal
from vanishing.cells.readout import Readout, channels, numpy_inputs


def numpy_gelu(x):
  """``jax.nn.gelu`` (its tanh approximation) in float64."""
  return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                * (x + 0.044715 * x ** 3)))


@dataclasses.dataclass(frozen=True)
class LRU(Diagonal):
  """An LRU with ``n`` complex states and ``width`` features (static,
  hashable): see the module docstring for the equations, the layout of
  ``theta`` and ``init``."""
  n: int = 4
  width: int = 4
  inputs: int = 1
  output: str = "tanh"
  outputs: int = 1
  r_min: float = 0.9
  r_max: float = 0.999
  max_phase: float = 2 * math.pi
  encoder: bool = False
  name: str = "lru"

  def __post_init__(self):
    super().__post_init__()
    if self.width < 1:
      raise ValueError(f"{self.name}: width must be >= 1")
    if not 0 <= self.r_min <= self.r_max < 1 or self.max_phase <= 0:
      raise ValueError(f"{self.name}: need 0 <= r_min <= r_max < 1 and "
                       "max_phase > 0")

  @property
  def head(self) -> Readout:
    return Readout(self.width, self.outputs, self.output)

  def _shapes(self):
    N, H, D = self.n, self.width, self.inputs
    V = H if self.encoder else D
    return ((("nu_log", (N,)), ("theta_log", (N,)), ("gamma_log", (N,)))
            + ((("E", (H, D)), ("e", (H,))) if self.encoder else ())
            + (("B_re", (N, V)), ("B_im", (N, V)), ("C_re", (H, N)),
               ("C_im", (H, N)), ("D", (H, D))))

  @property
  def size(self) -> int:
    return sum(math.prod(s) for _, s in self._shapes()) + self.head.size

  @property
  def ring_slice(self) -> slice:
    """Where nu_log, theta_log and gamma_log lie (set by the ring)."""
    return slice(0, 3 * self.n)

  @property
  def readout_slice(self) -> slice:
    """The readout's entries: the only ones ``scale`` sets."""
    return slice(self.size - self.head.size, self.size)

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    N, H, D = self.n, self.width, self.inputs
    V = H if self.encoder else D
    k = jax.random.split(key, 6)
    u = jax.random.uniform(k[0], (N,))
    nu_log = jnp.log(-0.5 * jnp.log(u * (self.r_max ** 2 - self.r_min ** 2)
                                    + self.r_min ** 2))
    theta_log = jnp.log(self.max_phase * jax.random.uniform(k[1], (N,)))
    gamma_log = 0.5 * jnp.log1p(-jnp.exp(-2 * jnp.exp(nu_log)))
    enc = ((jax.random.normal(k[5], (H * D,)) / math.sqrt(D), jnp.zeros(H))
           if self.encoder else ())
    B = jax.random.normal(k[2], (2 * N * V,)) / math.sqrt(2 * V)
    C = jax.random.normal(k[3], (2 * H * N,)) / math.sqrt(N)
    Dm = jax.random.normal(k[4], (H * D,)) / math.sqrt(D)
    head = jax.random.uniform(jax.random.fold_in(key, 1), (self.head.size,),
                              minval=-scale, maxval=scale)
    return jnp.concatenate([nu_log, theta_log, gamma_log, *enc, B, C, Dm,
                            head])

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    p, i = {}, 0
    for name, shape in self._shapes():
      p[name] = theta[i:i + math.prod(shape)].reshape(shape)
      i += math.prod(shape)
    return {**p, **self.head.unpack(theta[i:])}

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    return {"h": jnp.zeros((batch, 2 * self.n), dtype),
            "y": self.head.initial(batch, dtype)}

  def eigenvalues(self, p) -> jax.Array:
    """``lambda (N,)``, complex."""
    return jnp.exp(-jnp.exp(p["nu_log"]) + 1j * jnp.exp(p["theta_log"]))

  def transition(self, p, t, u):
    """``(lambda (N,), gamma * B u_t (B, N))``, complex."""
    del t
    x = channels(u)
    if self.encoder:
      x = jax.nn.gelu(x @ p["E"].T + p["e"])
    Bu = x @ p["B_re"].T + 1j * (x @ p["B_im"].T)
    return self.eigenvalues(p), jnp.exp(p["gamma_log"]) * Bu

  def hidden(self, state):
    h = state["h"]
    return jax.lax.complex(h[..., :self.n], h[..., self.n:])

  def emit(self, p, h, u):
    x = jax.nn.gelu(h.real @ p["C_re"].T - h.imag @ p["C_im"].T
                    + channels(u) @ p["D"].T)
    return {"h": jnp.concatenate([h.real, h.imag], axis=-1),
            "y": self.head.apply(p, x)}

  @staticmethod
  def numpy_forward(cell: "LRU", theta, inputs, lengths, classes):
    """The definition as a plain complex128 loop."""
    del classes
    p = {k: np.asarray(v, np.float64)
         for k, v in cell.unpack(jnp.asarray(theta)).items()}
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    Bc = np.exp(p["gamma_log"])[:, None] * (p["B_re"] + 1j * p["B_im"])
    C = p["C_re"] + 1j * p["C_im"]
    head = np.asarray(theta, np.float64)[cell.readout_slice]
    x = numpy_inputs(cell, inputs)
    out = []
    for s in range(x.shape[1]):
      h = np.zeros(cell.n, complex)
      for t in range(int(lengths[s])):
        v = (numpy_gelu(p["E"] @ x[t, s] + p["e"]) if cell.encoder
             else x[t, s])
        h = lam * h + Bc @ v
        feat = numpy_gelu((C @ h).real + p["D"] @ x[t, s])
      out.append(cell.head.numpy_apply(head, feat))
    return np.asarray(out)
