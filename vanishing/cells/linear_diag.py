"""Diagonal linear recurrences: the shared form and its minimal real cell.

**The form** (:class:`Diagonal`). A cell whose recurrent state ``h`` evolves
by an elementwise affine map,

    h_t = a_t * h_{t-1} + b_t,   (a_t, b_t) = transition(p, t, u_t),
    state_t = emit(p, h_t, u_t)  (h_t as a real array, and the output y_t),

has a diagonal state Jacobian dh_t/dh_{t-1} = diag(a_t), and its time loop
is a prefix product of affine maps: ``scan.linear_scan`` runs it as
``jax.lax.associative_scan`` (parallel over time), and ``scan.forward``
picks that form where it is faster (``scan.use_linear_scan``). Such a cell
provides ``"diagonal"``: ``transition``, ``hidden`` (the state's ``h`` in
the recurrence's own field, complex for the LRU) and ``emit``; its
``step`` is ``emit(p, a * hidden(state) + b, u)``, written once here, so
the sequential and the parallel forms run the same formulas. ``y`` in
the state is an output (no step reads it back), as in the gated cells.

**The minimal cell** (:class:`LinearDiag`, ``linear_diag``): n real units,

    h_t = a * h_{t-1} + B u_t,   a = exp(-exp(nu)) in (0, 1),   h_0 = 0,
    y_t = out(W_out h_t + b_out)                 (``readout.Readout``),

stable by construction for every ``nu`` (in float32 ``a`` rounds to 1,
never above, for nu below about -17; the exponential parametrisation
of Orvieto et al. 2023, Section 3, on the real axis). The state is
``{"h": (B, n), "y": ...}``: ``h`` is one flat real array whose Jacobian
is ``diag(a)``, the form for which SnAp-1 (Menick et al. 2021) is exact.

Parameters ``theta`` = (nu (n), B (n x D) row-major, W_out (K x n)
row-major, b_out (K)): n + nD + Kn + K (13 at n = 4, D = K = 1).

``init(key, scale)``: ``a`` uniform on [r_min, r_max] (0.5..0.99: memory
of 2 to 100 steps at the start; ``nu = log(-log a)``), B and the readout
uniform on [-scale, scale].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vanishing.cells.readout import ReadsHidden, channels, numpy_inputs


class Diagonal(ReadsHidden):
  """A cell of the diagonal linear form (module docstring): a subclass
  defines ``transition``, ``hidden`` and ``emit``."""

  provides = frozenset({"diagonal"})

  def step(self, p, state, t, u, context):
    del context
    a, b = self.transition(p, t, u)
    return self.emit(p, a * self.hidden(state) + b, u)


@dataclasses.dataclass(frozen=True)
class LinearDiag(Diagonal):
  """``n`` real diagonal linear units (static, hashable): see the module
  docstring for the equations, the layout and ``init``."""
  n: int = 4
  inputs: int = 1
  output: str = "tanh"
  outputs: int = 1
  r_min: float = 0.5
  r_max: float = 0.99
  name: str = "linear_diag"

  def __post_init__(self):
    super().__post_init__()
    if not 0 < self.r_min <= self.r_max < 1:
      raise ValueError(f"{self.name}: need 0 < r_min <= r_max < 1")

  @property
  def size(self) -> int:
    return self.n * (1 + self.inputs) + self.head.size

  @property
  def decay_slice(self) -> slice:
    """Where ``nu`` lies in ``theta`` (set by ``init``'s ring, not by
    ``scale``)."""
    return slice(0, self.n)

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    k_a, k_rest = jax.random.split(key)
    a = jax.random.uniform(k_a, (self.n,), minval=self.r_min,
                           maxval=self.r_max)
    rest = jax.random.uniform(k_rest, (self.size - self.n,), minval=-scale,
                              maxval=scale)
    return jnp.concatenate([jnp.log(-jnp.log(a)), rest])

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    n, D = self.n, self.inputs
    return {"nu": theta[:n], "B": theta[n:n + n * D].reshape(n, D),
            **self.head.unpack(theta[n + n * D:])}

  def initial_state(self, batch: int, dtype) -> dict[str, jax.Array]:
    return {"h": jnp.zeros((batch, self.n), dtype),
            "y": self.head.initial(batch, dtype)}

  def transition(self, p, t, u):
    """``(a (n,), B u_t (B, n))``."""
    del t
    return jnp.exp(-jnp.exp(p["nu"])), channels(u) @ p["B"].T

  def hidden(self, state):
    return state["h"]

  def emit(self, p, h, u):
    del u
    return {"h": h, "y": self.head.apply(p, h)}

  @staticmethod
  def numpy_forward(cell: "LinearDiag", theta, inputs, lengths, classes):
    """The definition as a plain float64 loop."""
    del classes
    n, D = cell.n, cell.inputs
    theta = np.asarray(theta, np.float64)
    a = np.exp(-np.exp(theta[:n]))
    B = theta[n:n + n * D].reshape(n, D)
    x = numpy_inputs(cell, inputs)
    out = []
    for s in range(x.shape[1]):
      h = np.zeros(n)
      for t in range(int(lengths[s])):
        h = a * h + B @ x[t, s]
      out.append(cell.head.numpy_apply(theta[n + n * D:], h))
    return np.asarray(out)
