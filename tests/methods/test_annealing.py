from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing.methods import annealing


METHOD = annealing


def test_accept_probability_is_metropolis():
  p = annealing.accept_probability(jnp.asarray([-1.0, 0.0, 0.1, 0.3]), 0.05)
  np.testing.assert_allclose(p, [1.0, 1.0, np.exp(-2.0), np.exp(-6.0)],
                             rtol=1e-6)


def test_adapt_step_grows_above_06_and_shrinks_below_04():
  v = jnp.full((4,), 2.0)
  out = annealing.adapt_step(v, jnp.asarray([0.9, 0.1, 0.5, 1.0]), 2.0)
  # 1 + 2 (0.9 - 0.6) / 0.4 = 2.5; 1 + 2 (0.4 - 0.1) / 0.4 = 2.5; 1 + 2 = 3.
  np.testing.assert_allclose(out, [5.0, 0.8, 2.0, 6.0], rtol=1e-6)
  capped = annealing.adapt_step(v, jnp.asarray([1.0] * 4), 2.0, vmax=4.0)
  np.testing.assert_allclose(capped, 4.0)


@pytest.mark.parametrize("v0", [1e-3, 100.0])
def test_acceptance_ratio_moves_toward_half(v0, quad, never):
  # Steps far too small (almost every move accepted) or far too large
  # (almost every move rejected) are corrected by the adaptation.
  hp = {"t0": 0.05, "v0": v0}
  run = lambda k: annealing.anneal(k, quad, jnp.zeros(4), never, hp,
                                   history=10)[1]
  ratios = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(1), 8))
  r = np.asarray(ratios).mean(axis=2)  # (trial, adaptation)
  assert np.all(np.isfinite(r))  # 10 adaptations happened in every trial
  start = np.mean(np.abs(r[:, 0] - 0.5))
  end = np.mean(np.abs(r[:, -2:] - 0.5))
  assert start > 0.4 and end < 0.2


def test_improves_on_a_quadratic(quad, never):
  # Faster cooling than Corana's (one stage = 5 * 20 * 4 = 400 evaluations),
  # so that 3000 evaluations span 7 temperature stages.
  budget = never._replace(evaluations=3000)
  r = annealing.solve(jax.random.key(2), quad, jnp.zeros(4), budget,
                      {"nt": 5, "rt": 0.5})
  assert float(r.cost) < 0.05 * float(quad.cost(jnp.zeros(4)))


def test_solves_an_easy_latch_in_most_trials(latch_runs, latch_budget):
  assert np.mean(latch_runs.solved) >= 0.75
  solved = np.asarray(latch_runs.solved)
  assert np.all(np.asarray(latch_runs.cost)[solved] < latch_budget.target_cost)
  assert np.all(np.asarray(latch_runs.error)[solved] == 0)


def test_evaluations_stay_within_the_budget(latch_runs, latch_budget):
  assert np.all(np.asarray(latch_runs.evaluations) <= latch_budget.evaluations)
  assert np.all(np.asarray(latch_runs.evaluations) >= 1)


@pytest.mark.parametrize("n", [5, 300])
def test_a_run_that_never_stops_uses_exactly_the_budget(n, quad, never):
  # 5 is less than the automatic temperature's probe moves (1 + 10).
  budget = never._replace(evaluations=n)
  r = annealing.solve(jax.random.key(3), quad, jnp.zeros(4), budget)
  assert int(r.evaluations) == n
  assert not bool(r.solved) and not bool(r.stuck)


def test_same_key_same_run_other_key_other_run(quad, never):
  f = jax.jit(lambda k: annealing.solve(k, quad, jnp.zeros(4), never))
  a, b, c = f(jax.random.key(4)), f(jax.random.key(4)), f(jax.random.key(5))
  np.testing.assert_array_equal(a.theta, b.theta)
  assert int(a.evaluations) == int(b.evaluations)
  assert not np.array_equal(np.asarray(a.theta), np.asarray(c.theta))


def test_vmapped_trials_match_single_runs(quad, never):
  keys = jax.random.split(jax.random.key(6), 3)
  budget = never._replace(evaluations=200)
  f = lambda k: annealing.solve(k, quad, jnp.zeros(4), budget)
  batch = jax.jit(jax.vmap(f))(keys)
  one = jax.jit(f)(keys[1])
  # Same draws and decisions; XLA may round the batched arithmetic apart.
  np.testing.assert_allclose(batch.theta[1], one.theta, rtol=1e-5)
  assert int(batch.evaluations[1]) == int(one.evaluations)


def test_unknown_hyper_parameter_raises(quad, never):
  with pytest.raises(ValueError, match="annealing"):
    annealing.solve(jax.random.key(0), quad, jnp.zeros(4), never, {"T0": 1.0})
