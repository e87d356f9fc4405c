"""Cost, gradient and diagonal curvature for the pseudo-Newton methods.

Two kinds of second derivative of the cost
``C(theta) = 1/(2B) sum_b (y_b - d_b)^2`` are offered.

**Shared diagonal** (:func:`shared_diagonal`): the exact diagonal of the
Hessian with respect to the shared free parameters,
``H_ii = d2C/dtheta_i^2``, by forward second-order sensitivities along each
coordinate (one pass, O(P n^2) per step and sequence; P <= 25 here).

**Per-copy diagonal** (:func:`per_copy`): unfold the net in time and give each
time step t its own copy ``theta_t`` of the parameters (``cells.run`` with
``theta`` of shape ``(T, P)``, every copy equal to ``theta``). Returned are
``dC/dtheta_{t,i}`` and ``d2C/dtheta_{t,i}^2`` for every (t, i), by one
forward pass and one backward recursion (Becker & LeCun 1989, extended
through time). With ``a_t = W x_{t-1} + v u_t + b (+ c[class] at t = 0)``,
``x_t = f(a_t)``, a copy's weight enters only ``a_t``, linearly, so exactly

    d2C/dW_{ij,t}^2 = sum_b x_{j,t-1,b}^2 * d2C/da_{i,t,b}^2

(likewise ``u_t^2`` for v, 1 for b and for c at t = 0; copies of c at
t > 0 do nothing). The second derivatives w.r.t. the pre-activations come
backward from the output. With ``g_t = dC/dx_t`` and
``K_t = d2C/dx_t dx_t^T`` (per sequence, ``g_T = (y - d)/B e_out``,
``K_T = e_out e_out^T / B``), at a step inside the sequence

    dC/da_t     = f'(a_t) * g_t
    d2C/da_t^2  = diag(f') K_t diag(f') + diag(f''(a_t) * g_t)     (A_t)
    g_{t-1}     = W^T dC/da_t,      K_{t-1} = W^T A_t W,

and after a sequence's end (its state is frozen) ``g, K`` pass unchanged.
A layered net (``cells.Net.order``) is walked back phase by phase: a unit a
phase does not update has ``dx_j/dx_{t-1,j} = 1``, so with
``D = diag(live f')``, ``E = diag(1 - live)`` the Jacobian is ``D W + E`` and
``g_{t-1} = W^T D g_t + E g_t``,
``K_{t-1} = W^T A_t W + W^T D K_t E + E K_t D W + E K_t E`` (``A_t`` as above
on the live units, 0 elsewhere); Becker-LeCun keeps
``K_{t-1,jj} = sum_i W_ij^2 A_t,ii + E_jj K_t,jj``.

* ``mode="exact"`` propagates the full n x n blocks ``K_t``: the per-copy
  diagonal is then exact (C depends on ``a_t`` only through ``a_{t+1}``, so
  the recursion is the chain rule), at O(n^3) per step and sequence -- cheap
  for n <= 5.
* ``mode="becker_lecun"`` keeps only the diagonal of ``K_t`` (Becker &
  LeCun's O(NW) approximation: off-diagonal terms ignored), so
  ``K_{t-1,jj} = sum_i W_ij^2 A_t,ii + E_jj K_t,jj``. It equals the exact one
  for a single unit (the latch) and at the last copy (the last two of a
  simultaneous net, where only the output's K is nonzero one step earlier),
  and is approximate elsewhere (tested against a NumPy loop in
  ``tests/methods/test_becker_lecun.py``).

Both keep the ``f''`` term, so the curvature can be negative; the methods
use its absolute value, as the paper's formula ``|d2C/dw^2| + mu`` does.

Full-net quantities are mapped to the free parameters by the transpose of
``net.unpack`` (a gather of the free entries, coefficient 1, so it is right
for second derivatives too); masked entries drop out.

Reference: S. Becker and Y. LeCun, "Improving the convergence of
back-propagation learning with second order methods", Proc. 1988
Connectionist Models Summer School, 1989.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells

PER_COPY_MODES = ("exact", "becker_lecun")


class Derivatives(NamedTuple):
  """Cost, error and first/second derivatives at one point.

  ``grad`` and ``curv`` are ``(P,)`` for the shared parameters or ``(T, P)``
  per time copy (summing ``grad`` over t gives the shared gradient).
  """
  cost: jax.Array
  error: jax.Array
  grad: jax.Array
  curv: jax.Array


def shared_diagonal(fit, theta: jax.Array) -> Derivatives:
  """Exact ``dC/dtheta`` and ``diag(d2C/dtheta^2)`` at ``theta (P,)``.

  Forward sensitivities along each coordinate i (real-time recurrent
  learning, Williams & Zipser 1989, carried to second order):
  ``S_t = dx_t/dtheta_i`` and ``Q_t = d2x_t/dtheta_i^2`` obey, inside a
  sequence, with ``dW, dv, db, dc`` the unpacked unit vector e_i,

      da  = W S_{t-1} + dW x_{t-1} + dv u_t + db (+ dc[class] at t = 0)
      d2a = W Q_{t-1} + 2 dW S_{t-1}
      S_t = f'(a_t) da,    Q_t = f''(a_t) da^2 + f'(a_t) d2a

  (frozen after the sequence's end and, for a unit a phase of a layered net
  does not update, through that phase; ``dW = R C^T`` has one entry, so the
  ``dW`` products are O(n)), and at the output
  ``dC/dtheta_i = mean_b r_b S_i``, ``d2C/dtheta_i^2 = mean_b (S_i^2 + r_b
  Q_i)`` with ``r = y - d``. O(P n^2) per step and sequence. On the
  2-sequence net (P = 25, 64 trials vmapped, 2-core CPU) it ran 15x (T = 50)
  to 27x (T = 10) slower than a gradient; the same diagonal by P
  Hessian-vector products (``jax.linearize`` of ``jax.grad``) ran 70x
  slower at T = 10.
  """
  net, bt = fit.net, fit.batch
  B = bt.inputs.shape[1]
  P = theta.shape[0]
  uf = cells.unfold(net, theta, bt.inputs, bt.lengths, bt.classes)
  y = uf.states[-1, :, net.output]
  r = y - bt.targets
  W = net.unpack(theta)["W"]
  R, C, dv, db, dcls = _unit_tangents(net)
  dc = (jnp.asarray(dcls)[:, bt.classes].T[..., None]
        * (jnp.arange(net.n) == 0))                      # (B, P, n)
  d1, d2 = net.activation_derivatives(uf.pre)
  live = uf.live[:, :, None, :]                          # (T', B, 1, n)

  def fwd(carry, xs):
    S, Q = carry                                         # (B, P, n)
    t, xp, u, f1, f2, lv = xs
    da = (S @ W.T + (xp @ C.T)[..., None] * R
          + u[:, None, None] * dv + db + jnp.where(t == 0, dc, 0.0))
    d2a = Q @ W.T + 2 * jnp.sum(S * C, axis=-1, keepdims=True) * R
    S_new = f1[:, None, :] * da
    Q_new = f2[:, None, :] * da * da + f1[:, None, :] * d2a
    return (jnp.where(lv, S_new, S), jnp.where(lv, Q_new, Q)), None

  z = jnp.zeros((B, P, net.n), theta.dtype)
  (S, Q), _ = jax.lax.scan(
      fwd, (z, z), (uf.step, uf.prev, uf.inputs, d1, d2, live))
  dy, d2y = S[..., net.output], Q[..., net.output]       # (B, P)
  grad = jnp.mean(r[:, None] * dy, axis=0)
  diag = jnp.mean(dy * dy + r[:, None] * d2y, axis=0)
  cost = 0.5 * jnp.mean(r * r)
  return Derivatives(cost, jnp.mean(fit.misclassified(y)), grad, diag)


@functools.lru_cache(maxsize=None)
def _unit_tangents(net: cells.Net):
  """``net.unpack``'s tangents along each unit vector e_i of theta, as
  constants: ``dW_i = R_i C_i^T`` (a free weight is one entry: R its row,
  C its column, both 0 for other parameters), ``dv (P, n)``, ``db (P, n)``,
  ``dc (P, 2)``."""
  with jax.ensure_compile_time_eval():
    P = net.size
    zero = jnp.zeros(P, jnp.float32)
    d = jax.vmap(lambda e: jax.jvp(net.unpack, (zero,), (e,))[1])(
        jnp.eye(P, dtype=jnp.float32))
    d = {k: np.asarray(v) for k, v in d.items()}
  R, C = d["W"].sum(2), d["W"].sum(1)
  assert np.array_equal(d["W"], R[:, :, None] * C[:, None, :])
  return R, C, d["v"], d["b"], d["c"]


def _pack(net: cells.Net, theta: jax.Array):
  """The transpose of ``net.unpack``: full ``{W, v, b, c}`` -> ``(P,)``."""
  _, pull = jax.vjp(net.unpack, theta)
  return lambda full: pull(full)[0]


def per_copy(fit, theta: jax.Array, mode: str = "exact") -> Derivatives:
  """Per-time-copy ``dC/dtheta_{t,i}`` and ``d2C/dtheta_{t,i}^2``, ``(T, P)``.

  Args:
    fit: a :class:`vanishing.problems.Fit`.
    theta: shared free parameters ``(P,)`` (every copy equals it).
    mode: ``exact`` (full n x n second-derivative blocks through time) or
      ``becker_lecun`` (their diagonal only); see the module docstring.
  """
  if mode not in PER_COPY_MODES:
    raise ValueError(f"per-copy curvature must be one of {PER_COPY_MODES}, "
                     f"got {mode!r}")
  net, bt = fit.net, fit.batch
  T, B = bt.inputs.shape
  n, F = net.n, len(net.phases)
  uf = cells.unfold(net, theta, bt.inputs, bt.lengths, bt.classes)
  y = uf.states[-1, :, net.output]
  r = y - bt.targets
  cost = 0.5 * jnp.mean(r * r)
  error = jnp.mean(fit.misclassified(y))

  W = net.unpack(theta)["W"]
  e = jnp.zeros(n, theta.dtype).at[net.output].set(1.0)
  g_end = r[:, None] * e / B                                    # (B, n)
  if mode == "exact":
    K_end = jnp.broadcast_to(jnp.outer(e, e) / B, (B, n, n))
  else:
    K_end = jnp.broadcast_to(e / B, (B, n))
  d1, d2 = net.activation_derivatives(uf.pre)
  live = uf.live.astype(theta.dtype)                            # (T', B, n)

  def back(carry, xs):
    g, K = carry
    f1, f2, lv = xs
    d, keep = lv * f1, 1.0 - lv
    delta = d * g
    if mode == "exact":
      # dx_t/dx_{t-1} = D W + E, D = diag(lv f'), E = diag(1 - lv).
      A = d[:, :, None] * K * d[:, None, :] + jax.vmap(jnp.diag)(lv * f2 * g)
      A_diag = jnp.diagonal(A, axis1=1, axis2=2)
      cross = jnp.einsum("ij,bik->bjk", W, d[:, :, None] * K * keep[:, None, :])
      K_new = (jnp.einsum("ij,bik,kl->bjl", W, A, W) + cross
               + jnp.swapaxes(cross, 1, 2)
               + keep[:, :, None] * K * keep[:, None, :])
    else:
      A_diag = lv * (f1 * f1 * K + f2 * g)
      K_new = A_diag @ (W * W) + keep * K
    g_new = delta @ W + keep * g
    return (g_new, K_new), (delta, A_diag)

  _, (delta, A_diag) = jax.lax.scan(back, (g_end, K_end), (d1, d2, live),
                                    reverse=True)

  x_prev, u = uf.prev, uf.inputs
  first = (uf.step == 0)[:, None]
  cls = jax.nn.one_hot(bt.classes, 2, dtype=theta.dtype)        # (B, 2)

  def full(s: jax.Array, xx: jax.Array, uu: jax.Array) -> dict:
    """Per-phase full-net derivatives from ``s`` (dC/da or d2C/da^2) and the
    (squared, for curvature) coefficients ``xx`` of W and ``uu`` of v."""
    return {"W": jnp.einsum("tbi,tbj->tij", s, xx),
            "v": jnp.einsum("tbi,tb->ti", s, uu),
            "b": jnp.sum(s, axis=1),
            "c": jnp.where(first, s[:, :, 0] @ cls, 0.0)}

  # Each unit is updated in one phase of a step, so a copy's derivative is
  # the sum over its phases.
  pack = lambda f: jax.vmap(_pack(net, theta))(f).reshape(T, F, -1).sum(1)
  grad = pack(full(delta, x_prev, u))
  curv = pack(full(A_diag, x_prev * x_prev, u * u))
  return Derivatives(cost, error, grad, curv)
