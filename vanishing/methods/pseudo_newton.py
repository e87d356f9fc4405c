"""Pseudo-Newton: gradient steps scaled by the diagonal curvature.

Becker & LeCun (1989), the paper's Section V (spec section 3, item 3):

    dw_i = -eta / (|d2C/dw_i^2| + mu) * dC/dw_i

"when curvature is low, take bigger jumps"; ``mu`` bounds the step where
the curvature vanishes. With heavy-ball momentum on the update,

    velocity <- momentum * velocity + dw,    theta <- theta + velocity.

Which second derivative (``curvature``, see ``vanishing.methods.curvature``):

* ``becker_lecun`` (default): Becker & LeCun's O(NW) back-propagated
  diagonal approximation per time copy, summed over the copies (their rule
  for a shared weight). It is what the paper cites, costs about a gradient,
  and on the 2-sequence problem at T = 20 solved as often as ``exact``
  (0.36-0.48 against 0.44-0.50 over lr, mu in {0.01, 0.03}, 64 trials
  each) at 1/7 of the wall-clock time;
* ``exact``: the exact diagonal of the Hessian of C w.r.t. the shared
  parameters (forward second-order sensitivities, about P forward passes);
* ``copies``: the exact per-time-copy diagonals summed over t (drops the
  cross-time terms ``d2C/dw_{i,t} dw_{i,s}``, s != t) -- the curvature of
  :mod:`vanishing.methods.time_weighted_newton`, applied after the sum.

One iteration computes the cost, the gradient and the curvature at the
current point and counts as ONE function evaluation (as the paper's epochs
count a forward and backward pass as one), whatever the curvature costs.
"""

from __future__ import annotations

import functools
import jax
import jax.numpy as jnp

from vanishing.methods import base, curvature, loop

NAME = "pseudo_newton"
# The paper's (secondary reading) eta = 0.01 and momentum 0.8, mu = 0.03 in
# its range [0.001, 0.3]. With C = 1/(2B) sum (y - d)^2, on the 2-sequence
# problem mu in {0.01, 0.03} tied (T = 20: 0.48 and 0.45 of 64 solved) and
# beat larger lr or mu; mu = 0.01 let the first steps along the flat w
# direction throw the easy latch (w0 > 1, no noise, T = 4) into its w < 0
# local minimum in 5 of 16 trials, mu = 0.03 in none. See BUILD_NOTES.md.
DEFAULTS = {"lr": 0.01, "mu": 0.03, "momentum": 0.8,
            "curvature": "becker_lecun"}
STATIC = frozenset({"curvature"})
REQUIRES = frozenset({"linear", "activation_derivatives"})
# Computes its own outputs at each sequence's end (methods.check_task).
READOUTS = ("end",)
# The curvature of the paper's squared error on a Net's class-input
# latch (``curvature``): the paper's two-class tasks only.
KINDS = ("classification",)
CURVATURES = ("becker_lecun", "exact", "copies")


def derivatives(fit, theta: jax.Array, kind: str) -> curvature.Derivatives:
  """Cost, error, shared gradient and shared diagonal curvature ``(P,)``."""
  if kind == "exact":
    return curvature.shared_diagonal(fit, theta)
  if kind not in CURVATURES:
    raise ValueError(f"{NAME}: curvature must be one of {CURVATURES}, got "
                     f"{kind!r}")
  d = curvature.per_copy(fit, theta,
                         "exact" if kind == "copies" else "becker_lecun")
  return d._replace(grad=jnp.sum(d.grad, 0), curv=jnp.sum(d.curv, 0))


def checker(name: str, curvatures: tuple):
  """A method's ``check``: the ``curvature`` choice is one of
  ``curvatures``."""
  def check(config, numbers) -> None:
    del numbers
    if config["curvature"] not in curvatures:
      raise ValueError(f"{name}: curvature must be one of {curvatures}, got "
                       f"{config['curvature']!r}")
  return check


check = checker(NAME, CURVATURES)
ALLOWED = {"lr": base.POSITIVE, "mu": base.POSITIVE, "momentum": base.MOMENTUM,
           "curvature": base.one_of(*CURVATURES)}


def init(run):
  """The state ``(theta, velocity)``: ``theta0`` at rest; nothing counted."""
  return (run.theta0, jnp.zeros_like(run.theta0)), ()


def newton_step(run, state, scaled):
  """The step of both pseudo-Newton methods.

  ``scaled(run, theta) -> (Derivatives, dw)``: one evaluation, with the
  gradient and curvature the update ``dw`` is made of (where the two
  methods differ). The point is counted with the finiteness of its gradient
  and curvature; a velocity or new point that is not finite marks the run
  diverged after it.
  """
  theta, vel = state
  d, dw = scaled(run, theta)
  finite = jnp.all(jnp.isfinite(d.grad)) & jnp.all(jnp.isfinite(d.curv))
  vel = run.numbers["momentum"] * vel + dw
  new = theta + vel
  healthy = jnp.all(jnp.isfinite(vel)) & jnp.all(jnp.isfinite(new))
  return (new, vel), base.one(theta, d.cost, d.error, finite, healthy)


def _scaled(run, theta):
  """``dw_i = -lr * dC/dw_i / (|d2C/dw_i^2| + mu)`` on the shared weights."""
  d = derivatives(run.fit, theta, run.config["curvature"])
  return d, -run.numbers["lr"] * d.grad / (jnp.abs(d.curv) + run.numbers["mu"])


def step(run, state, tracker):
  """One pseudo-Newton iteration (one function evaluation)."""
  del tracker
  return newton_step(run, state, _scaled)


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES,
                     kinds=KINDS, readouts=READOUTS, check=check,
                     fresh=True)
solve = functools.partial(loop.solve, METHOD)
