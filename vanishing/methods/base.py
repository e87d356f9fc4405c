"""What every training method shares: budget, stopping rule, counters.

The protocol of Section V (paper spec, section 3): batch mode; one *function
evaluation* is the cost over the whole training set (a cost-and-gradient
counts as one, as in the paper's epochs); *presentations* are evaluations x
training-set size. A method stops

* **solved** at the first evaluation where the training set is classified
  without error and the cost is below ``target_cost``;
* **stuck** when its best cost has not improved by more than a relative
  ``min_improvement`` in ``patience`` evaluations;
* **diverged** when a cost, gradient or update is not finite (kept as a
  recorded failure with its evaluation count);
* at the **budget** of evaluations.

A method is a module with ``NAME``, ``DEFAULTS`` (its hyper-parameters) and

    solve(key, fit, theta0, budget, hp) -> Result

a pure, traceable function of one trial (vmapped over trials by the caller).
It reports the best point it evaluated. Loops are ``lax.while_loop``s: under
``vmap`` a block of trials stops when its last trial stops, and finished
trials are frozen, so no trial depends on the others.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp


class Budget(NamedTuple):
  """Static stopping settings shared by every method."""
  evaluations: int = 20000
  patience: int = 2000
  target_cost: float = 0.01
  min_improvement: float = 1e-4


class Result(NamedTuple):
  """Outcome of one trial of one method, at the best point evaluated.

  ``evaluations`` counts every cost evaluation up to the stop (for a solved
  run, up to and including the one that solved it).
  """
  theta: jax.Array
  cost: jax.Array
  error: jax.Array
  evaluations: jax.Array
  solved: jax.Array
  stuck: jax.Array
  diverged: jax.Array


class Tracker(NamedTuple):
  """Counters and the best point so far, carried through a method's loop."""
  evaluations: jax.Array
  best_theta: jax.Array
  best_cost: jax.Array
  best_error: jax.Array
  improved_at: jax.Array
  solved: jax.Array
  diverged: jax.Array


def start(theta: jax.Array) -> Tracker:
  """A tracker before any evaluation."""
  f = lambda v: jnp.asarray(v, jnp.float32)
  return Tracker(jnp.zeros((), jnp.int32), theta, f(jnp.inf), f(1.0),
                 jnp.zeros((), jnp.int32), jnp.zeros((), bool),
                 jnp.zeros((), bool))


def is_solved(cost: jax.Array, error: jax.Array, budget: Budget) -> jax.Array:
  return (error == 0) & (cost < budget.target_cost)


def record(tr: Tracker, theta: jax.Array, cost: jax.Array, error: jax.Array,
           budget: Budget, finite: jax.Array | bool = True) -> Tracker:
  """Counts one evaluation of ``theta`` and updates the best point.

  ``finite=False`` (a gradient or update that is not finite) marks the run
  diverged, as does a non-finite cost.
  """
  ok = jnp.isfinite(cost) & finite
  better = ok & (cost < tr.best_cost)
  real = better & (cost < tr.best_cost * (1 - budget.min_improvement))
  n = tr.evaluations + 1
  pick = lambda new, old: jnp.where(better, new, old)
  return Tracker(
      evaluations=n,
      best_theta=pick(theta, tr.best_theta),
      best_cost=pick(cost, tr.best_cost),
      best_error=pick(error, tr.best_error),
      improved_at=jnp.where(real | (n == 1), n, tr.improved_at),
      solved=tr.solved | (ok & is_solved(cost, error, budget)),
      diverged=tr.diverged | ~ok)


def record_many(tr: Tracker, thetas: jax.Array, costs: jax.Array,
                errors: jax.Array, budget: Budget) -> Tracker:
  """Counts a batch of K independent evaluations as if made one by one.

  The sequential procedure would stop at the first candidate that solves
  (or diverges), or when the budget runs out: only candidates up to that one
  are counted and can become the best point.
  """
  K = costs.shape[0]
  idx = jnp.arange(K)
  ok = jnp.isfinite(costs)
  stops = (ok & is_solved(costs, errors, budget)) | ~ok
  first = jnp.min(jnp.where(stops, idx, K))
  left = budget.evaluations - tr.evaluations
  counted = (idx <= first) & (idx < left)
  c = jnp.where(counted & ok, costs, jnp.inf)
  i = jnp.argmin(c)
  better = c[i] < tr.best_cost
  real = better & (c[i] < tr.best_cost * (1 - budget.min_improvement))
  n = tr.evaluations + jnp.sum(counted).astype(jnp.int32)
  hit = (first < K) & (first < left)
  pick = lambda new, old: jnp.where(better, new, old)
  return Tracker(
      evaluations=n,
      best_theta=pick(thetas[i], tr.best_theta),
      best_cost=pick(c[i], tr.best_cost),
      best_error=pick(errors[i], tr.best_error),
      improved_at=jnp.where(real, tr.evaluations + i + 1, tr.improved_at),
      solved=tr.solved | (hit & ok[first % K]),
      diverged=tr.diverged | (hit & ~ok[first % K]))


def stuck(tr: Tracker, budget: Budget) -> jax.Array:
  return tr.evaluations - tr.improved_at >= budget.patience


def running(tr: Tracker, budget: Budget) -> jax.Array:
  """True while the method should go on evaluating."""
  return ~(tr.solved | tr.diverged | stuck(tr, budget)
           | (tr.evaluations >= budget.evaluations))


def finish(tr: Tracker, budget: Budget) -> Result:
  return Result(tr.best_theta, tr.best_cost, tr.best_error, tr.evaluations,
                tr.solved, stuck(tr, budget) & ~tr.solved & ~tr.diverged,
                tr.diverged & ~tr.solved)


def check_hp(name: str, defaults: Mapping[str, Any],
             hp: Mapping[str, Any] | None) -> dict[str, Any]:
  """``defaults`` updated by ``hp``; an unknown key raises ValueError."""
  hp = dict(hp or {})
  unknown = sorted(set(hp) - set(defaults))
  if unknown:
    raise ValueError(f"{name}: unknown hyper-parameter(s) {', '.join(unknown)}; "
                     f"known: {', '.join(sorted(defaults))}")
  return {**defaults, **hp}
