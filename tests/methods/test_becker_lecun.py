"""An independent NumPy reference for the per-copy Becker-LeCun curvature.

``curvature.per_copy(fit, theta, "becker_lecun")`` is vectorised JAX over
phases and sequences; the reference below walks one sequence, one time step
and one phase at a time in float64, from the maths only (the net's masks
and fields, not its ``unpack``, ``phases`` or ``unfold``).

Forward, per sequence b (length L_b, inputs u_t, class k), x_0 = 0; at each
step t < L_b and each phase (simultaneous: all units; layered: the hidden
units, then the output unit reading their new states),

    a = W x + v u_t + b (+ c_k e_0 at t = 0),   x_i <- f_i(a_i) for the
    phase's units i,

and after L_b the state is frozen. Output y_b = x_out, r_b = y_b - d_b,
C = 1/(2B) sum_b r_b^2.

Backward, from g = r_b/B e_out, k = e_out/B (k the diagonal of
K = d2C/dx dx^T, the only part Becker & LeCun keep), through the phases in
reverse: on the phase's units i (0 elsewhere)

    delta_i = f'(a_i) g_i,          A_ii = f'(a_i)^2 k_i + f''(a_i) g_i,

and with e_j = 1 for a unit the phase leaves alone,

    g_j <- sum_i W_ij delta_i + e_j g_j,
    k_j <- sum_i W_ij^2 A_ii + e_j k_j.

A copy's parameter enters only the pre-activation of its own unit, linearly,
so per copy t (summed over phases and sequences)

    dC/dW_ij = delta_i x_j,   d2C/dW_ij^2 = A_ii x_j^2   (x: the states read)
    dC/dv_i = delta_i u_t,    d2C/dv_i^2 = A_ii u_t^2
    dC/db_i = delta_i,        d2C/db_i^2 = A_ii
    dC/dc_k = delta_0,        d2C/dc_k^2 = A_00          (t = 0 only).

theta is the free W entries row-major, then free v, free b, then c.

Reference: S. Becker and Y. LeCun, "Improving the convergence of
back-propagation learning with second order methods", Proc. 1988
Connectionist Models Summer School, 1989.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import problems
from vanishing.methods import curvature


def _act(net, a: np.ndarray, i: int) -> tuple[float, float, float]:
  """``f_i(a), f_i'(a), f_i''(a)`` of unit i (tanh; logistic output)."""
  if i == net.output and net.output_fn == "logistic":
    s = 1.0 / (1.0 + np.exp(-a))
    return s, s * (1 - s), s * (1 - s) * (1 - 2 * s)
  t = np.tanh(a)
  return t, 1 - t * t, -2 * t * (1 - t * t)


def _phases(net) -> list[list[int]]:
  """Units updated by each phase of a step, in order."""
  if net.order == "layered" and net.n > 1:
    return [[i for i in range(net.n) if i != net.output], [net.output]]
  return [list(range(net.n))]


def _full(net, theta: np.ndarray) -> dict:
  """Full W, v, b, c from theta (free W row-major, free v, free b, c)."""
  n, theta, k = net.n, list(theta), 0
  W = np.zeros((n, n))
  for i in range(n):
    for j in range(n):
      if net.W_free[i][j]:
        W[i, j], k = theta[k], k + 1
  v = np.array(net.v_fixed, float)
  for i in range(n):
    if net.v_free[i]:
      v[i], k = theta[k], k + 1
  b = np.zeros(n)
  for i in range(n):
    if net.b_free[i]:
      b[i], k = theta[k], k + 1
  c = np.array(theta[k:k + 2]) if net.class_inputs else np.zeros(2)
  return {"W": W, "v": v, "b": b, "c": c}


def _free(net, d: dict) -> np.ndarray:
  """Full-net derivatives -> theta's entries (the free ones, same order)."""
  n = net.n
  out = [d["W"][i, j] for i in range(n) for j in range(n) if net.W_free[i][j]]
  out += [d["v"][i] for i in range(n) if net.v_free[i]]
  out += [d["b"][i] for i in range(n) if net.b_free[i]]
  if net.class_inputs:
    out += list(d["c"])
  return np.array(out)


def reference(fit, theta) -> tuple[float, np.ndarray, np.ndarray]:
  """Cost, per-copy gradient and Becker-LeCun curvature ``(T, P)``."""
  net, bt = fit.net, fit.batch
  inputs, lengths = np.asarray(bt.inputs, float), np.asarray(bt.lengths)
  classes, targets = np.asarray(bt.classes), np.asarray(bt.targets, float)
  T, B = inputs.shape
  p = _full(net, np.asarray(theta, float))
  W, n = p["W"], net.n
  zero = lambda: {"W": np.zeros((n, n)), "v": np.zeros(n), "b": np.zeros(n),
                  "c": np.zeros(2)}
  grad = [zero() for _ in range(T)]
  curv = [zero() for _ in range(T)]
  cost = 0.0
  for s in range(B):
    # Forward: remember, per (t, phase), the states read and the
    # pre-activations of the phase's units.
    x, tape = np.zeros(n), []
    for t in range(lengths[s]):
      u = inputs[t, s]
      for units in _phases(net):
        a = W @ x + p["v"] * u + p["b"]
        if net.class_inputs and t == 0:
          a[0] += p["c"][classes[s]]
        tape.append((t, units, x.copy(), a))
        x = x.copy()
        for i in units:
          x[i] = _act(net, a[i], i)[0]
    r = x[net.output] - targets[s]
    cost += 0.5 * r * r / B
    # Backward, keeping the diagonal k of K only.
    g, k = np.zeros(n), np.zeros(n)
    g[net.output], k[net.output] = r / B, 1.0 / B
    for t, units, xp, a in reversed(tape):
      delta, A = np.zeros(n), np.zeros(n)
      for i in units:
        _, f1, f2 = _act(net, a[i], i)
        delta[i] = f1 * g[i]
        A[i] = f1 * f1 * k[i] + f2 * g[i]
      u = inputs[t, s]
      for q, (dd, xx, uu) in ((grad[t], (delta, xp, u)),
                              (curv[t], (A, xp * xp, u * u))):
        for i in units:
          q["W"][i] += dd[i] * xx
          q["v"][i] += dd[i] * uu
          q["b"][i] += dd[i]
        if net.class_inputs and t == 0 and 0 in units:
          q["c"][classes[s]] += dd[0]
      g_new, k_new = np.zeros(n), np.zeros(n)
      for j in range(n):
        kept = 0.0 if j in units else 1.0
        g_new[j] = sum(W[i, j] * delta[i] for i in units) + kept * g[j]
        k_new[j] = sum(W[i, j] ** 2 * A[i] for i in units) + kept * k[j]
      g, k = g_new, k_new
  return (cost, np.stack([_free(net, d) for d in grad]),
          np.stack([_free(net, d) for d in curv]))


def _fit64(name, T=6, key=1):
  """A small float64 training set and a point away from the origin."""
  prob = problems.Problem(name, T, n_per_class=3, N=2)

  @jax.jit
  def draw(key):
    fit, _, theta = prob.draw(key)
    return fit.batch, theta

  batch, theta = draw(jax.random.key(key))
  batch = jax.tree_util.tree_map(
      lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x, batch)
  return problems.Fit(prob.net, batch), 3.0 * theta.astype(jnp.float64)


@functools.lru_cache(maxsize=None)
def _compare(name):
  """NumPy reference and both per-copy modes of ``curvature``, float64."""
  with jax.enable_x64(True):
    fit, theta = _fit64(name)
    modes = jax.jit(lambda th: {m: curvature.per_copy(fit, th, m)
                                for m in curvature.PER_COPY_MODES})
    got = jax.tree_util.tree_map(np.asarray, modes(theta))
    return reference(fit, np.asarray(theta)), got, fit


# Layered parity (logistic output, 2 phases a step), the 5-unit 2-sequence
# net (one phase, W only) and the latch (class inputs at the first copy).
NETS = ["parity", "two_sequence", "latch"]


@pytest.mark.parametrize("name", NETS)
def test_becker_lecun_matches_the_numpy_reference(name):
  (cost, grad, curv), got, fit = _compare(name)
  bl = got["becker_lecun"]
  assert grad.shape == curv.shape == bl.curv.shape
  assert bl.curv.shape == (fit.batch.inputs.shape[0], fit.net.size)
  np.testing.assert_allclose(bl.cost, cost, rtol=1e-12)
  np.testing.assert_allclose(bl.grad, grad, rtol=1e-9, atol=1e-15)
  np.testing.assert_allclose(bl.curv, curv, rtol=1e-9, atol=1e-15)
  # Not a comparison of zeros: every copy has a nonzero entry (from t = 1
  # on; the 2-sequence net's copy 0 is 0, its W acting on x_0 = 0 only).
  assert np.all(np.max(np.abs(curv[1:]), axis=1) > 1e-6)


@pytest.mark.parametrize("name", ["parity", "two_sequence"])
def test_the_reference_is_not_the_exact_per_copy_diagonal(name):
  # Same gradients. The curvature agrees at the last copy: only the output
  # unit's second derivative is nonzero there, so nothing is dropped. Before
  # it the exact one keeps K's off-diagonal blocks (measured: the largest
  # gap is 1.2% (parity) and 38% (2-sequence) of the largest |curvature|).
  (_, grad, curv), got, _ = _compare(name)
  exact = got["exact"]
  np.testing.assert_allclose(exact.grad, grad, rtol=1e-9, atol=1e-15)
  np.testing.assert_allclose(exact.curv[-1], curv[-1], rtol=1e-9, atol=1e-15)
  gap = np.max(np.abs(exact.curv[:-1] - curv[:-1]))
  assert gap > 1e-3 * np.max(np.abs(exact.curv))
