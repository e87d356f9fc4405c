"""Time-weighted pseudo-Newton: per-time-copy curvature scaling.

The paper's Section V (spec section 3, item 4): unfold the net in time and
treat each copy ``w_{i,t}`` as its own variable with its own curvature (the
copies kept equal, here exactly: their updates are summed into the one
shared weight):

    dw_i = -sum_t eta / (|d2C/dw_{i,t}^2| + mu) * dC/dw_{i,t}

against plain back-propagation ``dw_i = -eta sum_t dC/dw_{i,t}``. A copy far
from the output, whose gradient has vanished, has a small curvature too,
so its contribution is scaled up (by at most ``1/mu``). Heavy-ball momentum
on the update as in :mod:`vanishing.methods.pseudo_newton`.

Which second derivative (``curvature``, see ``vanishing.methods.curvature``):

* ``exact`` (default): the exact per-copy diagonal ``d2C/dw_{i,t}^2``,
  by propagating the n x n second-derivative blocks backward through time
  -- O(T n^3) per sequence, about 2x the cost of ``becker_lecun`` at
  n = 5. It solved the 2-sequence problem at T = 20 more often (0.58
  against 0.38 of 64 trials at the default lr, mu; 0.55 against 0.31 at
  lr 0.03, mu 0.1): scaling copies far from the output magnifies the
  approximation's error there;
* ``becker_lecun``: Becker & LeCun's O(NW) diagonal approximation of the
  same quantity (off-diagonal terms ignored while back-propagating), the
  curvature of :mod:`vanishing.methods.pseudo_newton`'s default.

One iteration computes the cost, the per-copy gradients and curvatures at
the current point and counts as ONE function evaluation (as the paper's
epochs count a forward and backward pass as one).
"""

from __future__ import annotations

import functools
import jax.numpy as jnp

from vanishing.methods import base, curvature, loop, pseudo_newton

NAME = "time_weighted_newton"
# The paper's (secondary reading) eta = 0.01 and momentum 0.8, mu = 0.03 in
# its range [0.001, 0.3]: with C = 1/(2B) sum (y - d)^2 the best of lr in
# {0.01, 0.03} x mu in {0.03, 0.1} on the 2-sequence problem at T = 20
# (0.58 of 64 solved); see BUILD_NOTES.md.
DEFAULTS = {"lr": 0.01, "mu": 0.03, "momentum": 0.8, "curvature": "exact"}
STATIC = frozenset({"curvature"})
REQUIRES = frozenset({"linear", "activation_derivatives"})
# Computes its own outputs at each sequence's end (methods.check_task).
READOUTS = ("end",)
# The curvature of the paper's squared error on a Net's class-input
# latch (``curvature``): the paper's two-class tasks only.
KINDS = ("classification",)
CURVATURES = curvature.PER_COPY_MODES

check = pseudo_newton.checker(NAME, CURVATURES)
ALLOWED = {"lr": base.POSITIVE, "mu": base.POSITIVE, "momentum": base.MOMENTUM,
           "curvature": base.one_of(*CURVATURES)}
init = pseudo_newton.init


def _scaled(run, theta):
  """``dw_i = -sum_t lr * dC/dw_{i,t} / (|d2C/dw_{i,t}^2| + mu)``."""
  d = curvature.per_copy(run.fit, theta, run.config["curvature"])
  return d, -run.numbers["lr"] * jnp.sum(
      d.grad / (jnp.abs(d.curv) + run.numbers["mu"]), axis=0)


def step(run, state, tracker):
  """One time-weighted iteration (one function evaluation)."""
  del tracker
  return pseudo_newton.newton_step(run, state, _scaled)


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES,
                     kinds=KINDS, readouts=READOUTS, check=check,
                     fresh=True)
solve = functools.partial(loop.solve, METHOD)
