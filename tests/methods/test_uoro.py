"""UORO: unbiased (its mean over many sign draws is RTRL's gradient) and
reproducible (the signs come from explicit keys)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import methods, problems
from vanishing.methods import base, rtrl, uoro

DRAWS = 2000
# Standard errors of the mean allowed per component; measured max |z| over
# the components: 1.7 (two_sequence, 25), 0.4 (parity, 7), 2.2
# (two_sequence_elman, 29).
Z = 4.5


def _fit64(name, key=1):
  fit, _, theta = problems.Problem(name, 6, n_per_class=3,
                                   N=2).draw(jax.random.key(key))
  batch = jax.tree_util.tree_map(
      lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x,
      fit.batch)
  return problems.Fit(fit.net, batch, fit.task), 2.0 * theta.astype(
      jnp.float64)


@pytest.mark.parametrize("name", ["two_sequence", "two_sequence_elman"])
def test_the_mean_over_draws_is_the_rtrl_gradient(name):
  with jax.enable_x64(True):
    fit, theta = _fit64(name)
    keys = jax.random.split(jax.random.key(0), DRAWS)
    g = np.asarray(jax.jit(jax.vmap(
        lambda k: uoro.gradient(fit, theta, k)[2]))(keys))
    want = np.asarray(rtrl.gradient_generic(fit, theta)[2])
  mean, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(DRAWS)
  # A component no draw varies (a zero gradient) must be exact.
  fixed = se == 0
  np.testing.assert_allclose(mean[fixed], want[fixed], atol=1e-12)
  z = np.abs(mean - want)[~fixed] / se[~fixed]
  assert z.max() <= Z, z.max()
  # Not a trivially exact estimator: single draws differ from the mean.
  assert np.max(np.abs(g[0] - want)) > 1e-3 * np.max(np.abs(want))


def test_same_key_same_gradient_and_cost_is_exact():
  fit, _, theta = problems.Problem("two_sequence", 6, n_per_class=3,
                                   N=2).draw(jax.random.key(1))
  f = jax.jit(lambda k: uoro.gradient(fit, theta, k))
  a, b, c = f(jax.random.key(3)), f(jax.random.key(3)), f(jax.random.key(4))
  np.testing.assert_array_equal(a[2], b[2])
  assert not np.array_equal(np.asarray(a[2]), np.asarray(c[2]))
  np.testing.assert_allclose(a[0], fit.cost(theta), rtol=1e-6)
  assert float(a[1]) == pytest.approx(float(fit.evaluate(theta).error))


def test_runs_reproduce_and_keys_matter():
  pr = problems.Problem("latch", 6, n_per_class=4, test_per_class=1)
  budget = base.Budget(evaluations=60, patience=60)

  def one(key, run_key):
    fit, _, th = pr.draw(key)
    return methods.solve("uoro", run_key, fit, th, budget)
  f = jax.jit(one)
  k = jax.random.key(0)
  a, b = f(k, jax.random.key(5)), f(k, jax.random.key(5))
  c = f(k, jax.random.key(6))
  np.testing.assert_array_equal(a.theta, b.theta)
  assert not np.array_equal(np.asarray(a.theta), np.asarray(c.theta))
