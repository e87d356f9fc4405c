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

import jax
import jax.numpy as jnp

from vanishing.methods import base, curvature

NAME = "pseudo_newton"
# The paper's (secondary reading) eta = 0.01 and momentum 0.8, mu = 0.03 in
# its range [0.001, 0.3]. With C = 1/(2B) sum (y - d)^2, on the 2-sequence
# problem mu in {0.01, 0.03} tied (T = 20: 0.48 and 0.45 of 64 solved) and
# beat larger lr or mu; mu = 0.01 let the first steps along the flat w
# direction throw the easy latch (w0 > 1, no noise, T = 4) into its w < 0
# local minimum in 5 of 16 trials, mu = 0.03 in none. See BUILD_NOTES.md.
DEFAULTS = {"lr": 0.01, "mu": 0.03, "momentum": 0.8,
            "curvature": "becker_lecun"}
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


def newton_loop(step_fn, theta0: jax.Array, budget, momentum: float):
  """The shared loop of both pseudo-Newton methods.

  ``step_fn(theta) -> (cost, error, dw, finite)``: one evaluation and the
  proposed update; ``finite`` says its gradient and curvature were finite.
  A non-finite gradient, curvature, update or new point marks the run
  diverged (recorded with its evaluation count).
  """
  def body(c):
    theta, vel, tr = c
    cost, error, dw, finite = step_fn(theta)
    tr = base.record(tr, theta, cost, error, budget, finite)
    vel = momentum * vel + dw
    new = theta + vel
    bad = ~(jnp.all(jnp.isfinite(vel)) & jnp.all(jnp.isfinite(new)))
    tr = tr._replace(diverged=tr.diverged | bad)
    return new, vel, tr

  c = (theta0, jnp.zeros_like(theta0), base.start(theta0))
  _, _, tr = jax.lax.while_loop(lambda c: base.running(c[2], budget), body, c)
  return base.finish(tr, budget)


def checked_hp(name: str, defaults: dict, curvatures: tuple, hp) -> dict:
  """``base.check_hp`` plus a check of the ``curvature`` choice."""
  hp = base.check_hp(name, defaults, hp)
  if hp["curvature"] not in curvatures:
    raise ValueError(f"{name}: curvature must be one of {curvatures}, got "
                     f"{hp['curvature']!r}")
  return hp


def solve(key: jax.Array, fit, theta0: jax.Array, budget, hp=None
          ) -> base.Result:
  """Pseudo-Newton on ``fit.cost`` from ``theta0`` until the protocol stops.

  Args:
    key: unused (the method is deterministic given ``theta0``).
    fit: a :class:`vanishing.problems.Fit` (the training set).
    theta0: initial parameters ``(P,)``.
    budget: a :class:`vanishing.methods.base.Budget`.
    hp: overrides of ``DEFAULTS`` (``lr`` = eta, ``mu``, ``momentum``,
      ``curvature``).
  """
  del key
  hp = checked_hp(NAME, DEFAULTS, CURVATURES, hp)

  def step_fn(theta):
    d = derivatives(fit, theta, hp["curvature"])
    dw = -hp["lr"] * d.grad / (jnp.abs(d.curv) + hp["mu"])
    finite = jnp.all(jnp.isfinite(d.grad)) & jnp.all(jnp.isfinite(d.curv))
    return d.cost, d.error, dw, finite

  return newton_loop(step_fn, theta0, budget, hp["momentum"])
