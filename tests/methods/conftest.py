"""Shared fixtures of the method tests: a toy cost and an easy latch."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import pytest

from vanishing import problems, tasks
from vanishing.methods import base


class Quadratic(NamedTuple):
  """A convex toy cost 1/2 |theta - centre|^2; error 1 above ``threshold``.

  Has what the derivative-free methods need of a fit: ``cost`` and
  ``evaluate``.
  """
  centre: jax.Array
  threshold: float = 0.01

  def cost(self, theta):
    return 0.5 * jnp.sum((theta - self.centre) ** 2)

  def evaluate(self, theta):
    c = self.cost(theta)
    return problems.Eval(c, (c > self.threshold).astype(jnp.float32))


EASY_LATCH = problems.Problem("latch", T=3, noise=tasks.Noise("none", 0.0))


@pytest.fixture
def quad() -> Quadratic:
  return Quadratic(jnp.asarray([1.0, -2.0, 0.5, 3.0]))


@pytest.fixture
def never() -> base.Budget:
  """1000 evaluations and no target that can be met."""
  return base.Budget(evaluations=1000, patience=10**6, target_cost=-1.0)


@pytest.fixture(scope="module")
def latch_budget() -> base.Budget:
  return base.Budget(evaluations=3000, patience=2000)


@pytest.fixture(scope="module")
def latch_runs(request, latch_budget):
  """16 trials of the test module's ``METHOD`` on a noise-free T = 3 latch."""
  method = request.module.METHOD

  def trial(key):
    fit, _, th0 = EASY_LATCH.draw(key)
    return method.solve(jax.random.fold_in(key, 1), fit, th0, latch_budget)
  return jax.jit(jax.vmap(trial))(jax.random.split(jax.random.key(0), 16))
