"""UORO: an unbiased rank-one estimate of RTRL's influence matrix.

Tallec & Ollivier (2018), "Unbiased Online Recurrent Optimization", ICLR,
Algorithm 1. RTRL (``vanishing.methods.rtrl``) carries ``J_t = d s_t /
d theta`` (S x P) by ``J_t = D_t J_{t-1} + I_t`` (``D_t = dF/ds``,
``I_t = dF/dtheta``); UORO carries two vectors per sequence, ``s~ (S)``
and ``theta~ (P)``, with ``E[s~ theta~^T] = J_t``:

    nu ~ uniform random signs (S),
    rho0 = sqrt(||theta~_{t-1}|| / (||D_t s~_{t-1}|| + eps)) + eps,
    rho1 = sqrt(||nu^T I_t|| / (||nu|| + eps)) + eps,
    s~_t     = rho0 D_t s~_{t-1} + rho1 nu,
    theta~_t = theta~_{t-1} / rho0 + (nu^T I_t) / rho1,

from ``s~_0 = 0, theta~_0 = 0`` (``eps`` placed as in Pohl's UORO code,
pohl-michel/time-series-forecasting-with-UORO-RTRL-LMS-and-linear-regression,
``rnn_UORO.m``; ``EPS = 1e-7``).
Expanding the product, ``s~_t theta~_t^T = D_t s~ theta~^T + nu nu^T I_t``
plus two cross terms odd in ``nu`` (``rho1`` depends on ``nu`` only
through ``||nu^T I_t||``, even in ``nu``), so with ``E[nu nu^T] = Id``
(given the past) the estimate stays unbiased by induction; ``rho0, rho1``
balance the two factors' norms, the variance-reducing choice of Tallec &
Ollivier (Section 3). The output's sensitivity is ``dy/dtheta =
(d readout/ds s~) theta~^T``: each step costs one forward-mode product
(``D_t s~``) and one per-sequence reverse-mode product (``nu^T I_t``),
``O(cost of a step)``, and the influence takes ``S + P`` numbers per
sequence.

**Keys.** The signs of step t of evaluation k are drawn from
``fold_in(fold_in(run.key, k), t)`` (one draw of shape ``(B, S)``), so a
run reproduces; ``tests/methods/test_uoro.py`` checks that the mean of
the gradient over many keys is RTRL's (unbiasedness).

**The method** (``influence.method``): as ``rtrl``, batch mode: one step
is one evaluation, cost, error and the UORO gradient at the current point
(weights fixed during the pass), then BPTT's optimizer step; it reads only
the cell's step and readout (``requires`` nothing).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from vanishing.methods import influence, loop

EPS = 1e-7


def gradient(fit, theta: jax.Array, key: jax.Array):
  """``(cost, error, dC/dtheta)`` of ``fit`` at ``theta``: UORO's estimate
  with the signs of step t drawn from ``fold_in(key, t)``."""
  cell, b = fit.net, fit.batch
  B, P = b.inputs.shape[1], theta.shape[0]
  s0 = cell.initial_state(B, b.inputs.dtype)
  S = influence.flat(s0).shape[1]
  norm = lambda x: jnp.sqrt(jnp.sum(x * x, -1, keepdims=True))

  def advance(_, theta, s, tilde, t, u):
    s_t, th_t = tilde
    f = influence.per_sequence(cell, s, t)
    nu = jax.random.rademacher(jax.random.fold_in(key, t), (B, S),
                               theta.dtype)

    def one(s_b, st_b, nu_b, u_b, c_b):
      new, Ds = jax.jvp(lambda x: f(theta, x, u_b, c_b), (s_b,), (st_b,))
      _, vjp = jax.vjp(lambda th: f(th, s_b, u_b, c_b), theta)
      return new, Ds, vjp(nu_b)[0]

    new, Ds, nuI = jax.vmap(one)(influence.flat(s), s_t, nu, u, b.classes)
    rho0 = jnp.sqrt(norm(th_t) / (norm(Ds) + EPS)) + EPS
    rho1 = jnp.sqrt(norm(nuI) / (norm(nu) + EPS)) + EPS
    tilde = (rho0 * Ds + rho1 * nu, th_t / rho0 + nuI / rho1)
    return influence.unflat(s, new), tilde

  def sense(cell, s, tilde):
    s_t, th_t = tilde
    y, dy = jax.jvp(cell.readout, (s,), (influence.unflat(s, s_t),))
    th_t = th_t.reshape(th_t.shape[:1] + (1,) * (dy.ndim - 1) + (P,))
    return y, dy[..., None] * th_t

  tilde0 = (jnp.zeros((B, S), theta.dtype), jnp.zeros((B, P), theta.dtype))
  return influence.gradient(fit, theta, tilde0, advance, sense)


# ---------------------------------------------------------------------------
# The comparison protocol (``vanishing.methods.base``): ``influence.method``.

NAME = "uoro"


def _grad(run, theta, tracker):
  """The UORO gradient of the current point, signs from
  ``fold_in(run.key, tracker.evaluations)``."""
  return gradient(run.fit, theta,
                  jax.random.fold_in(run.key, tracker.evaluations))


METHOD = influence.method(NAME, _grad)
solve = functools.partial(loop.solve, METHOD)
