"""Simulated annealing for continuous variables (Corana et al. 1987).

Corana, Marchesi, Martini & Ridella, "Minimizing multimodal functions of
continuous variables with the simulated annealing algorithm", ACM TOMS
13(3):262-280, 1987; the Section V alternative of Bengio, Simard & Frasconi
(1994) that alone reached zero error on parity.

One coordinate h at a time (h = 0..P-1 is one *cycle*), a trial point

    x'_h = x_h + u v_h,   u ~ U(-1, 1),

is evaluated (one function evaluation) and accepted by the Metropolis rule:
always when dC = C(x') - C(x) <= 0, otherwise with probability
exp(-dC / temp). After ``ns`` cycles each step length is adapted from its
acceptance ratio r_i = accepted_i / ns, to keep r_i near 1/2:

    r_i > 0.6:  v_i <- v_i (1 + c (r_i - 0.6) / 0.4)
    r_i < 0.4:  v_i <- v_i / (1 + c (0.4 - r_i) / 0.4)

After ``nt`` step adaptations the temperature is lowered, temp <- rt temp,
and the walk restarts from the best point evaluated so far. Corana's
constants: ns = 20, nt = max(100, 5P), c = 2, rt = 0.85; one temperature
stage is therefore ns * nt * P evaluations (6,000 for the 3-parameter latch).

Choices Corana leaves to the user (or that replace his bounded domain and
his termination test, which the shared protocol of ``base`` takes over):

* ``t0 = 0`` (default): the initial temperature is set so that an uphill
  move of the mean size |dC| of ``probes`` random single-coordinate moves
  from theta0 (coordinate uniform, step u v0) is accepted with probability
  ``accept0``: t0 = mean|dC| / ln(1 / accept0). The probe moves are counted
  as evaluations. ``t0 > 0`` fixes the temperature instead.
* ``v0``: initial step length of every coordinate.
* ``vmax``: steps are capped at ``vmax`` (Corana's steps are bounded by his
  search box; without the cap a plateau, where every move is accepted, grows
  them by 1 + c per adaptation without limit).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from vanishing.methods import base, loop

NAME = "annealing"
DEFAULTS = {
    "ns": 20,        # cycles between step adaptations (Corana)
    "nt": 0,         # adaptations per temperature; 0 = Corana's max(100, 5P)
    "c": 2.0,        # step-adaptation gain (Corana's c_i = 2)
    "rt": 0.85,      # temperature reduction factor (Corana)
    "t0": 0.0,       # initial temperature; 0 = set from the probe moves
    "probes": 10,    # random moves that set t0 when t0 = 0 (counted)
    "accept0": 0.8,  # with t0 = 0: exp(-mean|dC| / t0) = accept0
    "v0": 1.0,       # initial step length, every coordinate
    "vmax": 10.0,    # cap on the step lengths
}
# t0 picks the procedure (probes or not) and probes their number.
STATIC = frozenset({"t0", "probes"})
ALLOWED = {"ns": base.count(1), "nt": base.count(0), "c": base.NONNEGATIVE,
           "rt": base.FRACTION, "t0": base.NONNEGATIVE,
           "probes": base.count(1), "accept0": base.FRACTION,
           "v0": base.POSITIVE, "vmax": base.POSITIVE}
# Only ``fit.evaluate``: any cell.
REQUIRES = frozenset()

# Floor on the automatic initial temperature (a flat start gives mean |dC| 0).
_T_MIN = 1e-6


def accept_probability(dc: jax.Array, temp: jax.Array) -> jax.Array:
  """Metropolis: 1 for dc <= 0, exp(-dc / temp) for an uphill move."""
  return jnp.where(dc <= 0, 1.0, jnp.exp(-jnp.maximum(dc, 0) / temp))


def adapt_step(v: jax.Array, ratio: jax.Array, c: float | jax.Array,
               vmax: float | jax.Array = jnp.inf) -> jax.Array:
  """Corana's step adaptation from the acceptance ratios ``ratio`` (per
  coordinate): grow above 0.6, shrink below 0.4, keep in between."""
  grow = 1 + c * (ratio - 0.6) / 0.4
  shrink = 1 + c * (0.4 - ratio) / 0.4
  v = jnp.where(ratio > 0.6, v * grow, jnp.where(ratio < 0.4, v / shrink, v))
  return jnp.minimum(v, vmax)


class _State(NamedTuple):
  x: jax.Array          # current point of the walk
  cost: jax.Array       # C(x)
  v: jax.Array          # step lengths (P,)
  temp: jax.Array
  accepted: jax.Array   # accepted moves per coordinate since the adaptation
  h: jax.Array          # coordinate of the next move
  cycle: jax.Array      # cycles since the last adaptation
  stage: jax.Array      # adaptations at this temperature
  adaptations: jax.Array  # adaptations in all
  ratios: jax.Array     # (history, P) acceptance ratios of each adaptation
  cool: jax.Array       # the last step cooled: resume at the best point


def _move(key: jax.Array, x: jax.Array, h: jax.Array, v: jax.Array
          ) -> jax.Array:
  u = jax.random.uniform(key, minval=-1.0, maxval=1.0)
  return x.at[h].add(u * v[h])


def init(run):
  """Evaluation 0 at theta0; with ``t0 = 0`` the ``probes`` random moves
  that set the initial temperature (counted)."""
  hp, theta0 = run.numbers, run.theta0
  P = theta0.shape[0]
  e0 = run.fit.evaluate(theta0)
  counted = (base.one(theta0, e0.cost, e0.error),)
  v = jnp.full((P,), hp["v0"], jnp.float32)
  if run.config["t0"] > 0:
    temp = jnp.asarray(run.config["t0"], jnp.float32)
  else:
    def probe(i):
      k_h, k_u = jax.random.split(jax.random.fold_in(run.key, i))
      h = jax.random.randint(k_h, (), 0, P)
      return _move(k_u, theta0, h, v)
    thetas = jax.vmap(probe)(jnp.arange(1, run.config["probes"] + 1))
    es = jax.vmap(run.fit.evaluate)(thetas)
    counted += (base.many(thetas, es.cost, es.error),)
    dc = jnp.abs(es.cost - e0.cost)
    mean_dc = jnp.mean(jnp.where(jnp.isfinite(dc), dc, 0.0))
    temp = jnp.maximum(mean_dc / -jnp.log(hp["accept0"]), _T_MIN)
  zero = jnp.zeros((), jnp.int32)
  history = run.config.get("history", 0)
  return _State(theta0, e0.cost, v, temp, jnp.zeros((P,), jnp.int32), zero,
                zero, zero, zero, jnp.full((history, P), jnp.nan, jnp.float32),
                jnp.zeros((), bool)), counted


def step(run, s: _State, tracker: base.Tracker):
  """One Metropolis move of coordinate ``h`` (one evaluation), then the
  cycle, step-adaptation and temperature bookkeeping."""
  hp = run.numbers
  P = s.x.shape[0]
  ns = jnp.asarray(hp["ns"]).astype(jnp.int32)
  nt = jnp.asarray(hp["nt"]).astype(jnp.int32)
  nt = jnp.where(nt > 0, nt, max(100, 5 * P))
  # Corana: after the temperature step the walk resumes at the best point.
  x = jnp.where(s.cool, tracker.best_theta, s.x)
  cost = jnp.where(s.cool, tracker.best_cost, s.cost)
  k_u, k_a = jax.random.split(jax.random.fold_in(run.key, tracker.evaluations))
  xn = _move(k_u, x, s.h, s.v)
  e = run.fit.evaluate(xn)
  take = (jax.random.uniform(k_a) < accept_probability(e.cost - cost, s.temp)
          ) & jnp.isfinite(e.cost)
  x = jnp.where(take, xn, x)
  cost = jnp.where(take, e.cost, cost)
  accepted = s.accepted.at[s.h].add(take.astype(jnp.int32))

  h = s.h + 1
  wrapped = h == P
  h = jnp.where(wrapped, 0, h)
  cycle = s.cycle + wrapped
  adapt = cycle == ns
  ratio = accepted / ns
  v = jnp.where(adapt, adapt_step(s.v, ratio, hp["c"], hp["vmax"]), s.v)
  ratios = s.ratios
  if ratios.shape[0]:
    ratios = jnp.where(adapt, ratios.at[s.adaptations].set(ratio, mode="drop"),
                       ratios)
  accepted = jnp.where(adapt, 0, accepted)
  cycle = jnp.where(adapt, 0, cycle)
  stage = s.stage + adapt
  cool = stage == nt
  return _State(
      x=x, cost=cost, v=v, temp=jnp.where(cool, s.temp * hp["rt"], s.temp),
      accepted=accepted, h=h, cycle=cycle, stage=jnp.where(cool, 0, stage),
      adaptations=s.adaptations + adapt, ratios=ratios, cool=cool
  ), base.one(xn, e.cost, e.error)


def anneal(key: jax.Array, fit, theta0: jax.Array, budget: base.Budget,
           hp=None, history: int = 0) -> tuple[base.Result, jax.Array]:
  """:func:`solve`, also returning the acceptance ratios of the first
  ``history`` step adaptations, ``(history, P)`` (NaN where none took
  place). Evaluation i draws from ``fold_in(key, i)``; evaluation 0 is
  theta0 itself."""
  run = loop.setup(METHOD, key, fit, theta0, budget, hp)
  run = run._replace(config=run.config.replace(history=int(history)))
  r, s = loop.loop(METHOD, run)
  return r, s.ratios


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES)
solve = functools.partial(loop.solve, METHOD)
