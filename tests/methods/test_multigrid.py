from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import problems
from vanishing.methods import base, multigrid


METHOD = multigrid


@pytest.mark.parametrize("k", [1, 8])
def test_improves_on_a_quadratic(k, quad, never):
  r = multigrid.solve(jax.random.key(2), quad, jnp.zeros(4), never, {"k": k})
  assert float(r.cost) < 0.01 * float(quad.cost(jnp.zeros(4)))


def test_shrinking_box_refines_the_best_point(quad, never):
  # Without shrinking the box keeps its half-width 2: the best of 1000
  # uniform draws stays far coarser than the shrinking search.
  f = lambda hp: multigrid.solve(jax.random.key(2), quad, jnp.zeros(4), never,
                                 hp).cost
  assert float(f({"shrink": 0.9})) < 0.1 * float(f({"shrink": 1.0}))


def test_solves_an_easy_latch_in_most_trials(latch_runs, latch_budget):
  assert np.mean(latch_runs.solved) >= 0.6
  solved = np.asarray(latch_runs.solved)
  assert np.all(np.asarray(latch_runs.cost)[solved] < latch_budget.target_cost)
  assert np.all(np.asarray(latch_runs.error)[solved] == 0)


def test_evaluations_stay_within_the_budget(latch_runs, latch_budget):
  assert np.all(np.asarray(latch_runs.evaluations) <= latch_budget.evaluations)
  assert np.all(np.asarray(latch_runs.evaluations) >= 1)


@pytest.mark.parametrize("k", [1, 8])
def test_a_run_that_never_stops_uses_exactly_the_budget(k, quad, never):
  # 301 = 1 + 37 rounds of 8 + 4: the last round is cut by the budget.
  budget = never._replace(evaluations=301)
  r = multigrid.solve(jax.random.key(3), quad, jnp.zeros(4), budget, {"k": k})
  assert int(r.evaluations) == 301
  assert not bool(r.solved) and not bool(r.stuck)


class AllButOrigin(NamedTuple):
  """Cost 0 everywhere; every point but the origin is classified right."""

  def evaluate(self, theta):
    return problems.Eval(jnp.zeros(()), jnp.all(theta == 0).astype(jnp.float32))


def test_counts_up_to_the_candidate_that_solves():
  # theta0 = 0 does not solve, every candidate does: the run stops at the
  # first candidate even when a round draws 8.
  r = multigrid.solve(jax.random.key(0), AllButOrigin(), jnp.zeros(4),
                      base.Budget(evaluations=100), {"k": 8})
  assert bool(r.solved) and int(r.evaluations) == 2


def test_same_key_same_run_other_key_other_run(quad, never):
  f = jax.jit(lambda k: multigrid.solve(k, quad, jnp.zeros(4), never))
  a, b, c = f(jax.random.key(4)), f(jax.random.key(4)), f(jax.random.key(5))
  np.testing.assert_array_equal(a.theta, b.theta)
  assert int(a.evaluations) == int(b.evaluations)
  assert not np.array_equal(np.asarray(a.theta), np.asarray(c.theta))


def test_vmapped_trials_match_single_runs(quad, never):
  keys = jax.random.split(jax.random.key(6), 3)
  budget = never._replace(evaluations=200)
  f = lambda k: multigrid.solve(k, quad, jnp.zeros(4), budget)
  batch = jax.jit(jax.vmap(f))(keys)
  one = jax.jit(f)(keys[1])
  # Same draws and decisions; XLA may round the batched arithmetic apart.
  np.testing.assert_allclose(batch.theta[1], one.theta, rtol=1e-5)
  assert int(batch.evaluations[1]) == int(one.evaluations)


def test_bad_hyper_parameters_raise(quad, never):
  with pytest.raises(ValueError, match="multigrid"):
    multigrid.solve(jax.random.key(0), quad, jnp.zeros(4), never, {"width": 1.0})
  with pytest.raises(ValueError, match="k must be"):
    multigrid.solve(jax.random.key(0), quad, jnp.zeros(4), never, {"k": 0})
