"""Discrete error propagation (Bengio, Simard & Frasconi 1994, Section V).

Units are read as hard thresholds, ``s = sign(a)``, which latch in a self
loop. The error does not travel backward as a derivative (which vanishes
through saturated units) but as *requested state changes*:

* A threshold unit's state can change by ``dy in {-2, 0, +2}``; the
  pre-activation change that produces a flip is the inverse of ``sign``
  with a margin ``lambda``,

      dx = -(a + lambda sign(a))                    if |dy| = 2,
      dx = 0    (hold: sign(a) max(0, lambda - |a|)) if dy = 0.

* The continuous signal ``g`` reaching a unit (the change of its output its
  successors ask for) becomes ``dy`` by the paper's stochastic rule with
  ``E[dy] = g``: on the interval ``[MIN, MAX]`` of changes the unit can make,

      dy = MAX  with probability (g - MIN) / (MAX - MIN),  MIN otherwise,

  ``g`` clipped to ``[MIN, MAX]``. A unit at ``s = +1`` can only move in
  ``[-2, 0]``, one at ``-1`` in ``[0, 2]``, so it flips with probability
  ``min(1, max(0, -s g) / 2)``: ``E[dy] = g`` whenever ``g`` points against
  its state, and 0 (the nearest feasible mean) otherwise. Over both states
  the outcomes are the paper's ``{-2, 0, +2}``.

The trained network is the problem's net (the one ``fit.evaluate`` and the
test set score), run forward exactly. On a threshold net (sign units,
``cells.parity_sign_net``: the paper's ``y = sign(x)`` forward pass) the
output at the end is itself a threshold request: a flip to ``d lambda``
where it is wrong, a hold out to the margin where it is right but inside it
(unless ``hold = "none"``). On the tanh nets only the backward pass reads
the units as thresholds, ``sign(tanh a) = sign(a)``. A
flip to ``a' = -lambda sign(a)`` leaves a tanh unit at ``-+tanh(lambda)``, on
the other side with a margin. A *hold* request (``dy = 0`` while ``g`` agrees
with the state) pushes a unit out to the same margin, with the probability
``min(1, |g| / 2)`` it would have flipped with had ``g`` pointed the other
way: a sign unit needs no help to keep its state, a tanh unit does (without
holds the tanh latch never leaves the small-weight regime where its states
are ~0 and no latch T = 10 trial was solved).

One iteration, per sequence:

1. forward pass: pre-activations ``a_t``, states ``x_t``, the output at the
   sequence's end (one function evaluation; its cost and error are the ones
   recorded);
2. at the sequence's end the output unit (continuous) asks for the exact
   input change that produces its target, ``dx = f^{-1}(d) - a``;
3. backward in time, the signal to the units' outputs at step ``t - 1`` is
   the least-squares inverse of ``a_t = W x_{t-1}`` (the slides'
   "back-propagated dy = (dx/dy)^-1 dx"),
   ``g_j = gain sum_i W_ij dx_i / (sum_i W_ij^2 + ridge)``; every unit
   (the output unit too before the end) is discretised as above;
4. a normalised delta rule moves the weights toward the requested
   pre-activations ``a_t + dx_t`` with the states held fixed:
   ``dW_ij ~ sum dx_i s_j``, ``dv_i ~ sum dx_i u``, ``db_i ~ sum dx_i``, the
   latch's class inputs ``c_k ~ sum dx_0`` over the first steps of class k.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from vanishing import cells
from vanishing.methods import base, loop

NAME = "discrete"
# lr: step of the normalised delta rule (stable below 2); margin: lambda,
# where a flipped or held unit lands; gain: scale of the signal g before
# discretisation ([MIN, MAX] is fixed at [-2, 2] by the sign unit); ridge:
# regulariser of the least-squares inverse (a weight much smaller than
# sqrt(ridge) passes little); hold: when a unit whose state agrees with g is
# pushed out to the margin: "stochastic" (with the probability min(1, |g|/2)
# it would flip with if g pointed the other way), "always", "none" (the
# paper's sign units), "auto" (none on a threshold net, stochastic on a tanh
# net: on parity_sign at T = 10, 16 trials, "none" solved 10, "stochastic"
# 2, "always" 0; BUILD_NOTES.md); residual: ask the weights only for what
# the predecessors' own requested flips do not deliver (see delta_rule).
HOLDS = ("auto", "stochastic", "always", "none")
DEFAULTS = {"lr": 1.0, "margin": 2.0, "gain": 1.0, "ridge": 0.01,
            "hold": "auto", "residual": False}
STATIC = frozenset({"hold", "residual"})
ALLOWED = {"lr": base.POSITIVE, "margin": base.POSITIVE, "gain": base.POSITIVE,
           "ridge": base.NONNEGATIVE, "hold": base.one_of(*HOLDS),
           "residual": base.BOOLEAN}
# The pre-activations, unfolding and phases of a ``cells.Net`` (and its
# ``net_step``), and the inverse of the output function for the output's
# target pre-activation.
# (A threshold output needs no inverse; every ``cells.Net`` has
# ``inverse_output`` for its tanh and logistic outputs.)
REQUIRES = frozenset({"linear"})
# Computes its own outputs at each sequence's end (methods.check_task).
READOUTS = ("end",)
# Inverts the output function at the two class targets and scores the
# paper's squared error: the paper's two-class tasks only.
KINDS = ("classification",)

# The output's target pre-activation is f^{-1}(d); d is kept this far inside
# the range of f so that it is finite.
_EDGE = 1e-3


def discretise(key: jax.Array, g: jax.Array, lo: jax.Array | float = -2.0,
               hi: jax.Array | float = 2.0) -> jax.Array:
  """``hi`` with probability ``(g - lo) / (hi - lo)``, else ``lo``.

  ``g`` is first clipped to ``[lo, hi]``, so ``E[dy] = clip(g, lo, hi)``;
  with the defaults this is the paper's rule ``dy in {-2, +2}``.
  """
  return _draw(jax.random.uniform(key, jnp.shape(g)), g, lo, hi)


def _draw(r, g, lo, hi):
  """:func:`discretise` with its uniform draws ``r`` given."""
  p = (jnp.clip(g, lo, hi) - lo) / (hi - lo)
  return jnp.where(r < p, hi, lo)


def flip_request(key: jax.Array, g: jax.Array, a: jax.Array) -> jax.Array:
  """Discrete change ``dy in {-2, 0, +2}`` of threshold units ``sign(a)``.

  The paper's rule on the interval the unit can move in: ``[-2, 0]`` for a
  unit at ``+1``, ``[0, 2]`` at ``-1``; ``E[dy] = clip(g, MIN, MAX)``.
  """
  return _flip(jax.random.uniform(key, g.shape), g, a)


def _flip(r: jax.Array, g: jax.Array, a: jax.Array) -> jax.Array:
  """:func:`flip_request` with its uniform draws ``r`` given."""
  up = a >= 0
  return _draw(r, g, jnp.where(up, -2.0, 0.0), jnp.where(up, 0.0, 2.0))


def input_change(a: jax.Array, dy: jax.Array, margin: float,
                 hold: jax.Array | bool = False) -> jax.Array:
  """Pre-activation change that produces ``dy`` at threshold units ``sign(a)``.

  ``dx = -(a + margin sign(a))`` where ``dy != 0`` (after it,
  ``sign(a + dx) = -sign(a)`` and ``|a + dx| = margin``); where ``dy = 0``,
  0, or with ``hold`` the change ``sign(a) max(0, margin - |a|)`` that keeps
  the unit's state with the margin.
  """
  s = jnp.where(a >= 0, 1.0, -1.0)
  keep = jnp.where(hold, s * jnp.maximum(0.0, margin - jnp.abs(a)), 0.0)
  return jnp.where(dy != 0, -(a + margin * s), keep)


class Requests(NamedTuple):
  """What one pass over a set of sequences asks of each unit, ``(T', B, n)``
  over the phases of every step (``cells.unfold``; ``T' = T`` for
  simultaneous updates).

  Attributes:
    flips: pre-activation changes ``dx`` of the threshold requests (flips
      and holds).
    asked: where a threshold request (flip or hold) was made.
    output: the output unit's continuous request at each sequence's end.
    y: outputs at each sequence's end ``(B,)``.
    forward: the forward pass (``cells.Unfolded``); its fields are also
      read through the properties ``pre``, ``states``, ``prev``, ``step``,
      ``inputs`` and ``live``.
  """
  flips: jax.Array
  asked: jax.Array
  output: jax.Array
  y: jax.Array
  forward: cells.Unfolded

  pre = property(lambda self: self.forward.pre)
  states = property(lambda self: self.forward.states)
  prev = property(lambda self: self.forward.prev)
  step = property(lambda self: self.forward.step)
  inputs = property(lambda self: self.forward.inputs)
  live = property(lambda self: self.forward.live)


def requests(key: jax.Array, net: cells.Net, theta: jax.Array, batch,
             margin: float, gain: float, ridge: float, hold: str = "stochastic"
             ) -> Requests:
  """Forward pass and discrete backward pass over one set of sequences.

  Backward from each sequence's end, the signal reaching the units' outputs
  at step ``t - 1`` is the least-squares inverse of ``a_t = W x_{t-1}``,

      g_j = gain * sum_i W_ij dx_i / (sum_i W_ij^2 + ridge),

  the change of ``x_j`` that best produces the requested ``dx_t`` (the
  slides' "backpropagated dy = (dx/dy)^-1 dx"); it is then discretised into
  a flip (or ``hold``) request of unit j at step ``t - 1``. Requests are zero
  after each sequence's end; ``flips`` holds the holds too.
  """
  uf = cells.unfold(net, theta, batch.inputs, batch.lengths, batch.classes)
  a, x = uf.pre, uf.states
  T, B, n = a.shape
  F = len(net.phases)
  W = net.unpack(theta)["W"]
  out = net.output
  threshold = net.output_fn == "sign"
  # The output's wanted pre-activation: past the margin on the target's
  # side (a sign output), or the inverse of its function at the target.
  target = (batch.targets * margin if threshold
            else net.inverse_output(batch.targets, _EDGE))
  is_out = jnp.arange(n) == out
  W2 = W * W
  last = (jnp.arange(T) % F == F - 1)

  def body(g, xs):
    t, is_last, lv, a_t, r_t = xs
    # The last phase of the last step: the output's own error, no successors.
    end = ((t == batch.lengths - 1) & is_last)[:, None]
    dy = _flip(r_t, g, a_t)
    agree = g * a_t > 0
    if hold == "stochastic":
      agree &= r_t < jnp.abs(g) / 2
    elif hold == "none":
      agree = False
    asked = lv & ~end & ((dy != 0) | agree)
    flip = jnp.where(asked, input_change(a_t, dy, margin, agree), 0.0)
    ask = target - a_t[:, out]
    if threshold:
      a_o = a_t[:, out]
      wrong = jnp.where(a_o >= 0, 1.0, -1.0) != batch.targets
      inside = jnp.abs(a_o) < margin if hold != "none" else False
      ask = jnp.where(wrong | inside, ask, 0.0)
    cont = jnp.where(end & is_out, ask[:, None], 0.0)
    # Least squares over the units this phase updates; a unit it does not
    # update keeps its state, so the request on it passes on unchanged.
    norm = lv @ W2 + ridge
    g_new = gain * ((flip + cont) @ W) / norm + jnp.where(lv, 0.0, g)
    return g_new, (flip, asked, cont)

  # One draw for the whole pass: cheaper than a key per step inside the scan.
  r = jax.random.uniform(key, a.shape)
  _, (flips, asked, cont) = jax.lax.scan(
      body, jnp.zeros((B, n), a.dtype), (uf.step, last, uf.live, a, r),
      reverse=True)
  return Requests(flips, asked, cont, x[-1, :, out], uf)


def _previous(z: jax.Array, initial: float = 0.0) -> jax.Array:
  """``z_{t-1}`` at every step, the initial state before the first."""
  return jnp.concatenate([jnp.full_like(z[:1], initial), z[:-1]], axis=0)


def delta_rule(net: cells.Net, theta: jax.Array, batch, req: Requests,
               residual: bool = False) -> jax.Array:
  """Normalised delta rule toward the requested pre-activations,

      dtheta = sum_{b,t} (d a_t / d theta)^T r_t / sum_{b,t} E_t,

  at the predecessors' requested states (``dW_ij ~ sum r_i x*_j``,
  ``dv_i ~ sum r_i u``, ``db_i ~ sum r_i``, ``dc_k ~ sum r_0`` over the first
  steps of class k), sums over live steps only. Threshold requests see
  their predecessors as threshold units, ``x*_j = sign(a_j + dx_j)``; the
  output's continuous request sees their tanh states ``f(a_j + dx_j)``.

  With ``residual`` the weights are asked only for what the predecessors'
  own requested changes do not already deliver,
  ``r_t = dx_t - W (x*_{t-1} - x_{t-1})`` (at the units asked); without it
  ``r_t = dx_t`` at the current states, each step as if its predecessors
  stayed. ``E_t = |s_{t-1}|^2 + u_t^2 + 1`` is a step's input energy
  (normalised LMS, Nagumo & Noda 1967): ``lr`` then means the same at every T
  and size of net.
  """
  a, x = req.pre, req.states
  T, B, n = x.shape
  W = net.unpack(theta)["W"]
  sgn = lambda z: jnp.where(z >= 0, 1.0, -1.0)
  # A unit not yet updated (a layered net's output in the first phase)
  # still holds the initial state (0; -1 on a threshold net).
  x0 = net.initial
  started = jnp.cumsum(req.live, axis=0) > 0
  if residual:
    s_new = jnp.where(started, sgn(a + req.flips), x0)
    x_new = jnp.where(started, cells.activate(net, a + req.flips), x)
    s_prev, x_prev = _previous(s_new, x0), _previous(x_new, x0)
    ds = _previous(s_new - jnp.where(started, sgn(a), x0))
    dx_state = _previous(x_new - x)
    flips = jnp.where(req.asked, req.flips - ds @ W.T, 0.0)
    output = jnp.where(req.output != 0, req.output - dx_state @ W.T, 0.0)
  else:
    s_prev = _previous(jnp.where(started, sgn(x), x0), x0)
    x_prev = req.prev
    flips, output = req.flips, req.output
  # Both kinds of request as one batch of 2 T B independent steps (one
  # net_step, not a vmap over t: 3x faster on the CPU).
  both = lambda z, w: jnp.concatenate([z, w], axis=1).reshape(2 * T * B,
                                                              *z.shape[2:])
  t = jnp.broadcast_to(req.step[:, None], (T, B))
  classes = jnp.broadcast_to(batch.classes, (T, B))
  xp, u = both(s_prev, x_prev), both(req.inputs, req.inputs)
  tt, cc = both(t, t), both(classes, classes)
  _, vjp = jax.vjp(
      lambda th: cells.net_step(net, net.unpack(th), xp, u, tt, cc), theta)
  live = jnp.any(req.live, axis=-1, keepdims=True)
  # The summed rule's curvature is the input energy: without it a fixed lr
  # diverged on the latch at T = 10 (lr 2) and two_sequence (lr 0.5). Each
  # unit is updated once per step, so a layered net's phases share a step's.
  energy = jnp.sum(live * (jnp.sum(s_prev ** 2, -1, keepdims=True)
                           + req.inputs[..., None] ** 2 + 1.0)
                   ) / len(net.phases)
  return vjp(both(flips, output))[0] / energy


def resolve_hold(hold: str, net: cells.Net) -> str:
  """``auto``: no holds on a threshold net (a sign unit keeps its state by
  itself, the paper's reading), ``stochastic`` on a tanh net."""
  if hold != "auto":
    return hold
  return "none" if net.threshold else "stochastic"


def check(config, numbers) -> None:
  del numbers
  if config["hold"] not in HOLDS:
    raise ValueError(f"{NAME}: hold must be one of {HOLDS}, got "
                     f"{config['hold']!r}")


def init(run):
  """The state is the current point, ``theta0``; nothing counted."""
  return run.theta0, ()


def step(run, theta: jax.Array, tracker: base.Tracker):
  """One pass over the training set (one function evaluation, counted at
  the current point with the finiteness of the update), the discrete
  backward pass and the update ``theta += lr * delta_rule(...)``; the flips
  of evaluation ``i`` are drawn with ``fold_in(key, i)``."""
  hp, net, batch = run.numbers, run.fit.net, run.fit.batch
  k = jax.random.fold_in(run.key, tracker.evaluations)
  req = requests(k, net, theta, batch, hp["margin"], hp["gain"], hp["ridge"],
                 resolve_hold(run.config["hold"], net))
  cost = 0.5 * jnp.mean((req.y - batch.targets) ** 2)
  error = jnp.mean(run.fit.misclassified(req.y))
  dtheta = hp["lr"] * delta_rule(net, theta, batch, req, run.config["residual"])
  new = theta + dtheta
  return new, base.one(theta, cost, error, jnp.all(jnp.isfinite(dtheta)),
                       jnp.all(jnp.isfinite(new)))


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES,
                     kinds=KINDS, readouts=READOUTS, check=check,
                     fresh=True)
solve = functools.partial(loop.solve, METHOD)
