"""Masked fully recurrent networks (Section VI), a cell of the protocol.

The nets of the paper's Section VI problems and of the random-guessing study
(Hochreiter, Schmidhuber & Bengio 2001) are all one cell: n units (tanh
unless told otherwise) whose free connections are given by masks (:class:`Net`). Besides the
protocol's ``init`` / ``unpack`` / ``initial_state`` / ``step`` /
``readout`` (``vanishing.cells``), a Net declares the structure some
methods need (``provides``): linear pre-activations ``a = W x + v u + b``
walked phase by phase (:func:`unfold`), the derivatives of its unit
functions and the inverse of its output function.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vanishing.cells import lanes, scan
from vanishing.cells.readout import activation

# ---------------------------------------------------------------------------
# Fully recurrent networks with a chosen set of free parameters (Section VI).
#
# n units, state x_t in R^n, x_0 = 0 (``initial``: a threshold net starts
# at -1, the state "off"), external scalar input u_t:
#
#     a_t = W x_{t-1} + v u_t + b  (+ e_0 c[class] at t = 1, latch only)
#     x_t = f(a_t),  f = the hidden units' function (tanh by default,
#                    logistic, or the threshold sign(a) = +1 if a >= 0
#                    else -1), the output unit's own g (tanh, logistic or
#                    sign)
#
# The state stops changing after each sequence's own length, so the output
# read at the last step is the output at that sequence's end. Which entries
# of W, v, b are free is fixed by masks; the free parameters form one flat
# vector ``theta`` (W row-major, then v, b, then the per-class initial inputs
# c), which is what every training method in ``vanishing.methods`` moves.
# Entries that are not free keep their fixed value (v: the input weights of
# an input unit are 1; everything else 0).
#
# Update order. ``simultaneous``: every unit at step t reads the states of
# step t-1 (the equations above). ``layered``: the non-output (hidden) units
# update first and the output unit then reads their states of the *same*
# step, and its own previous state,
#
#     h_t = f(W_hh h_{t-1} + W_ho o_{t-1} + v_h u_t + b_h)
#     o_t = g(W_oh h_t     + W_oo o_{t-1} + v_o u_t + b_o),
#
# the convention of nets whose output layer reads a hidden layer. It matters
# for parity: with simultaneous updates the 2-unit net's output o_t is a
# threshold function of (h_{t-1}, o_{t-1}, u_t) and would have to compute
# XOR(previous parity, u_t) by itself, which no threshold function does, so
# no method trained it below ~25% error (docs/compare.md). Both orders are
# one rule applied in *phases*: a phase computes every pre-activation from
# the current states and updates only its own units (simultaneous: one phase
# with all units; layered: the hidden units, then the output unit).

OUTPUT_FNS = ("tanh", "logistic", "sign")
HIDDEN_FNS = ("tanh", "logistic", "sign")
ORDERS = ("simultaneous", "layered")


@dataclasses.dataclass(frozen=True)
class Net:
  """Static description of a masked fully recurrent net (hashable).

  Attributes:
    n: number of units.
    W_free: n x n booleans (row i: the weights into unit i), as nested tuples.
    v_free: n booleans: input weights that are free.
    v_fixed: n fixed input weights (used where ``v_free`` is False).
    b_free: n booleans: free biases.
    output: index of the output unit.
    output_fn: ``tanh``, ``logistic`` or ``sign`` for the output unit.
    class_inputs: the latch's trainable initial input, one per class, added
      to unit 0 at the first step.
    name: for messages and tables.
    order: ``simultaneous`` or ``layered`` unit updates (see above).
    hidden_fn: ``tanh``, ``logistic`` or ``sign`` for every other unit.
      A net with a ``sign`` unit is a threshold network: its function
      evaluations are exact, its derivatives zero (gradient methods do not
      move it; the Newton methods refuse it).
    initial: every unit's state before the first step (0; a sign unit
      cannot be 0, and the threshold parity net needs its output to start
      at -1, "even": with 0 no weights in [-3, 3] compute parity with a
      margin, docs/compare.md).
  """
  n: int
  W_free: tuple
  v_free: tuple
  v_fixed: tuple
  b_free: tuple
  output: int
  output_fn: str = "tanh"
  class_inputs: bool = False
  name: str = "net"
  order: str = "simultaneous"
  hidden_fn: str = "tanh"
  initial: float = 0.0

  def __post_init__(self):
    if np.asarray(self.W_free).shape != (self.n, self.n):
      raise ValueError(f"W_free must be {self.n} x {self.n}")
    for f in ("v_free", "v_fixed", "b_free"):
      if len(getattr(self, f)) != self.n:
        raise ValueError(f"{f} must have {self.n} entries")
    if not 0 <= self.output < self.n:
      raise ValueError(f"output must be in [0, {self.n}), got {self.output}")
    if self.output_fn not in OUTPUT_FNS:
      raise ValueError(f"output_fn must be one of {OUTPUT_FNS}")
    if self.hidden_fn not in HIDDEN_FNS:
      raise ValueError(f"hidden_fn must be one of {HIDDEN_FNS}, got "
                       f"{self.hidden_fn!r}")
    if self.order not in ORDERS:
      raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")

  @property
  def phases(self) -> tuple[tuple[bool, ...], ...]:
    """The units each phase of a time step updates, in order."""
    every = (True,) * self.n
    if self.order == "simultaneous" or self.n == 1:
      return (every,)
    out = tuple(i == self.output for i in range(self.n))
    return (tuple(not o for o in out), out)

  @property
  def size(self) -> int:
    """Number of free parameters (the length of ``theta``)."""
    return (int(np.sum(self.W_free)) + int(np.sum(self.v_free))
            + int(np.sum(self.b_free)) + (2 if self.class_inputs else 0))

  def unpack(self, theta: jax.Array) -> dict[str, jax.Array]:
    """``theta (P,)`` -> ``{"W": (n, n), "v": (n,), "b": (n,), "c": (2,)}``."""
    if theta.shape[-1] != self.size:
      raise ValueError(f"{self.name}: theta needs {self.size} entries, got "
                       f"{theta.shape[-1]}")
    out, i = {}, 0
    for name, free, fixed in (("W", np.asarray(self.W_free), None),
                              ("v", np.asarray(self.v_free), self.v_fixed),
                              ("b", np.asarray(self.b_free), None)):
      k = int(free.sum())
      base = (jnp.zeros(free.shape, theta.dtype) if fixed is None
              else jnp.asarray(fixed, theta.dtype))
      out[name] = base.at[np.nonzero(free)].set(theta[i:i + k])
      i += k
    out["c"] = theta[i:i + 2] if self.class_inputs else jnp.zeros(2, theta.dtype)
    return out

  def init(self, key: jax.Array, scale: float = 0.5) -> jax.Array:
    """Initial ``theta``, i.i.d. uniform on [-scale, scale] (the paper: 0.5)."""
    return jax.random.uniform(key, (self.size,), minval=-scale, maxval=scale)

  @property
  def threshold(self) -> bool:
    """Whether some unit is a sign unit (a threshold network)."""
    return "sign" in (self.hidden_fn, self.output_fn)

  # The cell protocol (``vanishing.cells``).
  @property
  def provides(self) -> frozenset:
    """``linear`` always; derivatives only where no unit is a threshold."""
    if self.threshold:
      return frozenset({"linear"})
    return frozenset({"linear", "activation_derivatives"})

  def initial_state(self, batch: int, dtype) -> jax.Array:
    """``x_0 = initial`` (0 unless set), shape ``(batch, n)``."""
    return jnp.full((batch, self.n), self.initial, dtype)

  def step(self, p: dict, x: jax.Array, t: jax.Array, u: jax.Array,
           classes: jax.Array) -> jax.Array:
    """States ``x_t (B, n)`` from ``x_{t-1}``: each phase recomputes every
    pre-activation from the current states and updates its own units."""
    for m in self.phases:
      x = jnp.where(np.asarray(m), activate(self, net_step(self, p, x, u, t,
                                                           classes)), x)
    return x

  def readout(self, x: jax.Array) -> jax.Array:
    """The output unit's state, ``(B,)``."""
    return x[:, self.output]

  def forward_many(self, thetas: jax.Array, inputs: jax.Array,
                   lengths: jax.Array, classes: jax.Array) -> jax.Array:
    """Outputs of K parameter vectors ``thetas (K, P)``, ``(K, B)``: the
    lane layout of :mod:`vanishing.cells.lanes`."""
    return lanes.net_forward_many(self, thetas, inputs, lengths, classes)

  # Structure beyond the protocol (``provides``).
  def output_activation(self, a: jax.Array) -> jax.Array:
    """The output unit's function (``output_fn``)."""
    return activation(self.output_fn, a)

  def hidden_activation(self, a: jax.Array) -> jax.Array:
    """The other units' function (``hidden_fn``)."""
    return activation(self.hidden_fn, a)

  def activation_derivatives(self, a: jax.Array
                             ) -> tuple[jax.Array, jax.Array]:
    """``f'(a), f''(a)`` elementwise, ``a (..., n)``: each unit's own
    function (tanh: ``1 - t^2, -2 t (1 - t^2)``; logistic: ``s (1 - s),
    s (1 - s)(1 - 2 s)``; sign: 0)."""
    d1, d2 = _derivatives(self.hidden_fn, a)
    if self.output_fn != self.hidden_fn:
      o1, o2 = _derivatives(self.output_fn, a[..., self.output])
      d1 = d1.at[..., self.output].set(o1)
      d2 = d2.at[..., self.output].set(o2)
    return d1, d2

  def inverse_output(self, d: jax.Array, edge: float) -> jax.Array:
    """The pre-activation at which the output unit outputs ``d``, with
    ``d`` kept ``edge`` inside the function's range."""
    if self.output_fn == "logistic":
      d = jnp.clip(d, edge, 1 - edge)
      return jnp.log(d) - jnp.log1p(-d)
    return jnp.arctanh(jnp.clip(d, -1 + edge, 1 - edge))


def _derivatives(kind: str, a: jax.Array) -> tuple[jax.Array, jax.Array]:
  """First and second derivatives of unit function ``kind`` at ``a``."""
  if kind == "logistic":
    s = jax.nn.sigmoid(a)
    s1 = s * (1 - s)
    return s1, s1 * (1 - 2 * s)
  if kind == "sign":
    return jnp.zeros_like(a), jnp.zeros_like(a)
  t = jnp.tanh(a)
  d1 = 1 - t * t
  return d1, -2 * t * d1


def activate(net: Net, a: jax.Array) -> jax.Array:
  """States from pre-activations ``a (..., n)``: ``hidden_fn``, the output
  unit ``output_fn``."""
  x = net.hidden_activation(a)
  if net.output_fn != net.hidden_fn:
    x = x.at[..., net.output].set(net.output_activation(a[..., net.output]))
  return x


def net_step(net: Net, p: dict, x: jax.Array, u: jax.Array, t: jax.Array,
             classes: jax.Array) -> jax.Array:
  """Pre-activations ``a_t (B, n)`` from states ``x_{t-1} (B, n)``, inputs
  ``u_t (B,)`` and the unpacked parameters ``p``."""
  a = x @ p["W"].T + u[:, None] * p["v"] + p["b"]
  if net.class_inputs:
    a = a.at[:, 0].add(jnp.where(t == 0, p["c"][classes], 0.0))
  return a


def run(net, theta: jax.Array, inputs: jax.Array, lengths: jax.Array,
        classes: jax.Array, every_step: bool = False) -> jax.Array:
  """Output at each sequence's own end, shape ``(B,)``: the generic
  forward pass (:func:`vanishing.cells.scan.forward`) of any cell.

  Args:
    net: the cell.
    theta: free parameters ``(P,)``, or one copy per time step ``(T, P)``
      (the unfolded net of time-weighted pseudo-Newton: the gradient with
      respect to copy t is the contribution of step t).
    inputs: ``(T, B)`` time-major external inputs.
    lengths: ``(B,)`` sequence lengths in 1..T.
    classes: ``(B,)`` class labels (used by ``class_inputs`` nets).
    every_step: the output after every step, ``(T, B)``.
  """
  return scan.forward(net, theta, inputs, lengths, classes,
                      every_step=every_step)


class Unfolded(NamedTuple):
  """Every phase of every step of a forward pass, ``T' = T * len(phases)``.

  Attributes:
    step: ``(T',)`` the time step of each phase.
    inputs: ``(T', B)`` the external input ``u_t`` each phase sees.
    pre: ``(T', B, n)`` pre-activations; a unit the phase does not update
      (or a sequence past its end) repeats its last one.
    prev: ``(T', B, n)`` the states the phase reads.
    states: ``(T', B, n)`` the states after the phase.
    live: ``(T', B, n)`` where the phase updates a unit of a live sequence.
  """
  step: jax.Array
  inputs: jax.Array
  pre: jax.Array
  prev: jax.Array
  states: jax.Array
  live: jax.Array


def unfold(net: Net, theta: jax.Array, inputs: jax.Array, lengths: jax.Array,
           classes: jax.Array) -> Unfolded:
  """The forward pass phase by phase (what the hand-written backward passes
  of the pseudo-Newton and discrete methods walk back through). Each phase
  is ``a = W x + v u_t + b (+ c)``, ``x <- f(a)`` on its live units."""
  T, B = inputs.shape
  p = net.unpack(theta)
  masks = jnp.asarray(net.phases)                          # (F, n)
  F = masks.shape[0]
  step = jnp.repeat(jnp.arange(T), F)
  u = jnp.repeat(inputs, F, axis=0)
  live = ((step[:, None] < lengths[None, :])[..., None]
          & jnp.tile(masks, (T, 1))[:, None, :])           # (T', B, n)

  def body(carry, _, xs):
    x, a_prev = carry
    t, u_t, lv = xs
    a = jnp.where(lv, net_step(net, p, x, u_t, t, classes), a_prev)
    x_new = jnp.where(lv, activate(net, a), x)
    return (x_new, a), (a, x, x_new)

  # Before its first update a unit's pre-activation reads as its initial
  # state (0, or -1 for a threshold net: the sign of "off").
  z = net.initial_state(B, inputs.dtype)
  _, (a, prev, x) = scan.scan(body, (z, z), (step, u, live), unroll=1)
  return Unfolded(step, u, a, prev, x, live)

