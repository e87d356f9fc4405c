"""Recurrent cells as pure functions.

The latch neuron of Bengio, Simard & Frasconi (1994), Section III:

    a_t = w * tanh(a_{t-1}) + h_t,    x_t = tanh(a_t),    a_0 = 0.

Arrays are time-major: an input sequence batch has shape ``(T, ...)`` and the
trailing axes are carried through unchanged, so one call runs any number of
sequences (and, under ``vmap``, any number of runs).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# Fully unrolling the time loop lets XLA fuse a whole short sequence; on the
# 2-core CPU it trained 1.2x faster than unroll=4 at T = 20 (0.39 s against
# 0.46 s). At T = 60 it still ran 1.15x faster but took 7.3 s to compile
# against 2.7 s, more than it saves on default-size sweeps
# (benchmarks/unroll.py).
MAX_FULL_UNROLL = 24
PARTIAL_UNROLL = 4


def _unroll(T: int) -> int | bool:
  return True if T <= MAX_FULL_UNROLL else PARTIAL_UNROLL


def latch_step(w: jax.Array, a: jax.Array, h: jax.Array) -> jax.Array:
  """One step of the latch neuron: ``a_t = w * tanh(a_{t-1}) + h_t``."""
  return w * jnp.tanh(a) + h


def latch_final(w: jax.Array, inputs: jax.Array, a0: jax.Array | float = 0.0
                ) -> jax.Array:
  """Final pre-activation ``a_T`` of the latch neuron.

  Args:
    w: self-weight (scalar, or broadcastable against ``inputs[0]``).
    inputs: ``h_1..h_T`` with time on axis 0, shape ``(T, ...)``.
    a0: initial state ``a_0`` (0 in the paper).

  Returns:
    ``a_T`` with shape ``inputs.shape[1:]``.
  """
  a0 = jnp.broadcast_to(jnp.asarray(a0, inputs.dtype), inputs.shape[1:])

  def body(a, h):
    return latch_step(w, a, h), None

  a_T, _ = jax.lax.scan(body, a0, inputs, unroll=_unroll(inputs.shape[0]))
  return a_T


def latch_trajectory(w: jax.Array, inputs: jax.Array,
                     a0: jax.Array | float = 0.0) -> jax.Array:
  """States ``a_1..a_T`` of the latch neuron, shape ``inputs.shape``."""
  a0 = jnp.broadcast_to(jnp.asarray(a0, inputs.dtype), inputs.shape[1:])

  def body(a, h):
    a = latch_step(w, a, h)
    return a, a

  _, path = jax.lax.scan(body, a0, inputs, unroll=_unroll(inputs.shape[0]))
  return path


# ---------------------------------------------------------------------------
# Fully recurrent networks with a chosen set of free parameters (Section VI).
#
# n units, state x_t in R^n, x_0 = 0, external scalar input u_t:
#
#     a_t = W x_{t-1} + v u_t + b  (+ e_0 c[class] at t = 1, latch only)
#     x_t = f(a_t),  f = tanh, except the output unit's own f (tanh or
#                    logistic)
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
# no method trained it below ~25% error (BUILD_NOTES.md). Both orders are
# one rule applied in *phases*: a phase computes every pre-activation from
# the current states and updates only its own units (simultaneous: one phase
# with all units; layered: the hidden units, then the output unit).

OUTPUT_FNS = ("tanh", "logistic")
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
    output_fn: ``tanh`` or ``logistic`` for the output unit.
    class_inputs: the latch's trainable initial input, one per class, added
      to unit 0 at the first step.
    name: for messages and tables.
    order: ``simultaneous`` or ``layered`` unit updates (see above).
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


def full_net(n: int, *, input_unit: int = 0, output: int | None = None,
             biases: bool = False, name: str = "full") -> Net:
  """All n x n recurrent weights free; the input is added to one unit with
  fixed weight 1; optional free biases (the paper's 2-sequence net:
  n = 5, no biases, 25 free weights)."""
  v_fixed = tuple(1.0 if i == input_unit else 0.0 for i in range(n))
  return Net(n, tuple((True,) * n for _ in range(n)), (False,) * n, v_fixed,
             (biases,) * n, n - 1 if output is None else output, name=name)


def latch_net() -> Net:
  """The 3-parameter latch of Section VI: one tanh unit, free self-weight w,
  input weight fixed at 1, and a trainable first input per class."""
  return Net(1, ((True,),), (False,), (1.0,), (False,), 0, class_inputs=True,
             name="latch")


def two_sequence_net(n: int = 5) -> Net:
  """The 2-sequence net: n fully connected tanh units, no biases, the input
  added to unit 0, the output read at unit n-1 (25 parameters at n = 5)."""
  return full_net(n, name="two_sequence")


def parity_net(output_fn: str = "tanh", order: str = "layered") -> Net:
  """The parity net: hidden unit 0 and output unit 1, each seeing the input,
  the hidden and the output unit, plus a hidden bias (7 parameters).
  Layered by default: the output reads the hidden unit's state of the same
  step (the order the paper leaves open; simultaneous updates cannot
  represent parity with two units)."""
  return Net(2, ((True, True), (True, True)), (True, True), (0.0, 0.0),
             (True, False), 1, output_fn=output_fn, name="parity", order=order)


# The nets of Hochreiter, Schmidhuber & Bengio (2001), the random-guessing
# study (vanishing.experiments.guessing): every free input weight, fixed
# input weights 0, layered updates, a logistic output on parity.

def _layered_net(n: int, W_free, v_free, b_free, output: int, output_fn: str,
         name: str) -> Net:
  return Net(n, tuple(tuple(bool(x) for x in r) for r in W_free),
                   tuple(bool(x) for x in v_free), (0.0,) * n,
                   tuple(bool(x) for x in b_free), output, output_fn=output_fn,
                   name=name, order="layered")


def parity_a1(n_hidden: int = 1) -> Net:
  """HS2001's A1: units 0..n-1 hidden (tanh), unit n the logistic output;
  every unit sees the input and every unit; hidden units biased
  (``(n+1)^2 + (n+1) + n`` parameters: 7 at n = 1)."""
  n = n_hidden + 1
  return _layered_net(n, np.ones((n, n)), np.ones(n), np.arange(n) < n_hidden,
              n_hidden, "logistic", f"parity_a1_n{n_hidden}")


def parity_a2(n_hidden: int = 10, self_loops: bool = True) -> Net:
  """HS2001's A2: each hidden unit sees the input, the output and (with
  ``self_loops``) itself; the output unit sees the input, every unit and
  itself; all biased (53 parameters at n = 10, 43 without self-loops)."""
  n, out = n_hidden + 1, n_hidden
  W = np.zeros((n, n), bool)
  W[:n_hidden, out] = True
  if self_loops:
    W[np.arange(n_hidden), np.arange(n_hidden)] = True
  W[out, :] = True
  return _layered_net(n, W, np.ones(n), np.ones(n), out, "logistic",
              "parity_a2" if self_loops else "parity_a2_noself")


def latch2_net() -> Net:
  """Latch variant II: one tanh unit with free self, input and bias
  weights (3 parameters)."""
  return _layered_net(1, [[True]], [True], [True], 0, "tanh", "latch2")



def activate(net: Net, a: jax.Array) -> jax.Array:
  """States from pre-activations ``a (..., n)``: tanh, the output unit
  logistic where ``net.output_fn`` says so."""
  x = jnp.tanh(a)
  if net.output_fn == "logistic":
    x = x.at[..., net.output].set(jax.nn.sigmoid(a[..., net.output]))
  return x


def net_step(net: Net, p: dict, x: jax.Array, u: jax.Array, t: jax.Array,
             classes: jax.Array) -> jax.Array:
  """Pre-activations ``a_t (B, n)`` from states ``x_{t-1} (B, n)``, inputs
  ``u_t (B,)`` and the unpacked parameters ``p``."""
  a = x @ p["W"].T + u[:, None] * p["v"] + p["b"]
  if net.class_inputs:
    a = a.at[:, 0].add(jnp.where(t == 0, p["c"][classes], 0.0))
  return a


def run(net: Net, theta: jax.Array, inputs: jax.Array, lengths: jax.Array,
        classes: jax.Array) -> jax.Array:
  """Output at each sequence's own end, shape ``(B,)``.

  Args:
    net: the architecture.
    theta: free parameters ``(P,)``, or one copy per time step ``(T, P)``
      (the unfolded net of time-weighted pseudo-Newton: the gradient with
      respect to copy t is the contribution of step t).
    inputs: ``(T, B)`` time-major external inputs.
    lengths: ``(B,)`` sequence lengths in 1..T.
    classes: ``(B,)`` class labels (used by ``class_inputs`` nets).
  """
  T, B = inputs.shape
  per_step = theta.ndim == 2
  p0 = None if per_step else net.unpack(theta)
  masks = [np.asarray(m) for m in net.phases]

  def body(x, xs):
    t, u, th = xs
    p = net.unpack(th) if per_step else p0
    live = (t < lengths)[:, None]
    for m in masks:
      x_new = activate(net, net_step(net, p, x, u, t, classes))
      x = jnp.where(live & m, x_new, x)
    return x, None

  ts = jnp.arange(T)
  x0 = jnp.zeros((B, net.n), inputs.dtype)
  xT, _ = jax.lax.scan(body, x0, (ts, inputs, theta if per_step else ts),
                       unroll=_unroll(T))
  return xT[:, net.output]


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

  def body(carry, xs):
    x, a_prev = carry
    t, u_t, lv = xs
    a = jnp.where(lv, net_step(net, p, x, u_t, t, classes), a_prev)
    x_new = jnp.where(lv, activate(net, a), x)
    return (x_new, a), (a, x, x_new)

  z = jnp.zeros((B, net.n), inputs.dtype)
  _, (a, prev, x) = jax.lax.scan(body, (z, z), (step, u, live))
  return Unfolded(step, u, a, prev, x, live)

