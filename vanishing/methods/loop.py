"""The one loop of every method (the protocol of ``base``).

:func:`solve` runs one trial of a method (a ``base.Method``): it checks
and splits the hyper-parameters (:func:`split_hp`), calls the method's ``init`` and then its
``step`` inside one ``lax.while_loop``, counts every proposal
(:func:`count`) and stops by the rules of ``base``: solved, stuck,
diverged or out of budget.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from vanishing.methods import base
from vanishing.methods.base import (Budget, Config, Proposals, Result, Run,
                                    Tracker)


def split_hp(method, hp: Mapping[str, Any] | None
             ) -> tuple[Config, dict[str, Any]]:
  """``method.defaults`` updated by ``hp``, as (static :class:`Config`, numbers).

  ValueError naming the method and its known keys for an unknown key, and
  for a static choice given as an array (it picks code, not a value).
  """
  hp = base.check_hp(method.name, method.defaults, hp)
  static = method.static
  for k in sorted(static):
    if isinstance(hp[k], jax.Array):
      raise ValueError(f"{method.name}: {k} is a static choice and cannot "
                       f"be an array (numbers: "
                       f"{', '.join(sorted(set(hp) - static)) or 'none'})")
  config = Config(tuple(sorted((k, v) for k, v in hp.items() if k in static)))
  numbers = {k: v for k, v in hp.items() if k not in static}
  method.check(config, numbers)
  return config, numbers


def setup(method, key, fit, theta0, budget: Budget, hp=None) -> Run:
  """The :class:`Run` of one trial (checks the hyper-parameters)."""
  config, numbers = split_hp(method, hp)
  return Run(key, fit, theta0, method.adjust_budget(budget, config), config,
             numbers)


def count(tr: Tracker, p: Proposals, budget: Budget) -> Tracker:
  """``tr`` after the proposals ``p``: :func:`record` for K = 1,
  :func:`record_many` for K > 1, then ``p.healthy``."""
  if p.costs.shape[0] == 1:
    tr = base.record(tr, p.thetas[0], p.costs[0], p.errors[0], budget,
                     p.finite[0])
  else:
    tr = base.record_many(tr, p.thetas, p.costs, p.errors, budget, p.finite)
  return tr._replace(diverged=tr.diverged | ~p.healthy)


class Found(NamedTuple):
  """The first solving point (``reports = "solution"``)."""
  theta: jax.Array
  cost: jax.Array
  error: jax.Array


def _note(found: Found | None, before: Tracker, after: Tracker,
          p: Proposals, budget: Budget) -> Found | None:
  """``found`` updated with the proposal that solved, if one just did."""
  if found is None:
    return None
  _, first = base.first_stop(p.costs, p.errors, budget, p.finite)
  i = first % p.costs.shape[0]
  new = after.solved & ~before.solved
  pick = lambda a, old: jnp.where(new, a[i], old)
  return Found(pick(p.thetas, found.theta), pick(p.costs, found.cost),
               pick(p.errors, found.error))


def begin(method, run: Run) -> tuple[Any, Tracker, Found | None]:
  """The loop's carry before its first step: ``(state, tracker, found)``,
  the evaluations of ``method.init`` counted (only while running)."""
  b = run.budget
  state, first = method.init(run)
  tr = base.start(run.theta0)
  zero = jnp.zeros((), jnp.float32)
  found = (Found(run.theta0, zero, zero)
           if method.reports == "solution" else None)
  for p in first:
    go = base.running(tr, b)
    new = count(tr, p, b)
    tr, found = jax.tree_util.tree_map(lambda n, o: jnp.where(go, n, o),
                                       (new, _note(found, tr, new, p, b)),
                                       (tr, found))
  return state, tr, found


def running(run: Run, carry) -> jax.Array:
  """Whether the loop goes on from ``carry`` (the rules of ``base``)."""
  return base.running(carry[1], run.budget)


def advance(method, run: Run, carry):
  """One iteration: the method's step and the count of its proposals."""
  state, tr, found = carry
  state, p = method.step(run, state, tr)
  new = count(tr, p, run.budget)
  return state, new, _note(found, tr, new, p, run.budget)


def end(run: Run, carry) -> tuple[Result, Any]:
  """``(Result, final state)`` from the carry left when the loop stops."""
  state, tr, found = carry
  r = base.finish(tr, run.budget)
  if found is not None:
    s = tr.solved
    r = r._replace(theta=jnp.where(s, found.theta, r.theta),
                   cost=jnp.where(s, found.cost, r.cost),
                   error=jnp.where(s, found.error, r.error))
  return r, state


def loop(method, run: Run) -> tuple[Result, Any]:
  """The shared loop on one trial: ``(Result, final state)``: :func:`begin`,
  :func:`advance` while :func:`running`, :func:`end` (the sweep engine
  calls those four itself to refill lanes, ``vanishing.engine.runs.Steps``)."""
  carry = jax.lax.while_loop(lambda c: running(run, c),
                             lambda c: advance(method, run, c),
                             begin(method, run))
  return end(run, carry)


def solve(method, key: jax.Array, fit, theta0: jax.Array, budget: Budget,
          hp: Mapping[str, Any] | None = None) -> Result:
  """One trial of ``method`` (a ``base.Method``) on
  ``fit`` from ``theta0`` until the protocol stops it; pure and traceable
  (vmapped over trials by the caller).

  Args:
    method: a ``base.Method`` (``vanishing.methods.get(name)`` by name).
    key: PRNG key of the trial (deterministic methods ignore it).
    fit: the training set: ``evaluate(theta) -> Eval(cost, error)``; the
      methods that read the cell's structure use ``fit.net`` and
      ``fit.batch`` (a ``vanishing.problems.Fit``).
    theta0: initial parameters ``(P,)``.
    budget: a :class:`Budget`.
    hp: overrides of the method's ``defaults``.
  """
  return loop(method, setup(method, key, fit, theta0, budget, hp))[0]
