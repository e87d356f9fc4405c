"""Random weight guessing (Hochreiter, Schmidhuber & Bengio 2001).

The baseline every long-lag benchmark should be run against ("use guessing
as a first test of a benchmark problem's difficulty"):

    REPEAT  draw every free parameter i.i.d. uniform on [low, high]
    UNTIL   the training set is solved by the drawn weights.

A *trial* is one weight draw, evaluated on the whole training set (one
function evaluation in the protocol of ``base``). Candidate j of a search
(j = 0, 1, 2, ... its global index) is

    theta_j = U[low, high]^P  drawn from  fold_in(key, j),

so the stream of candidates depends on the key only. Each ``step`` of the
method protocol (``base``) evaluates ``batch`` = K candidates at a time
(vmapped); the shared loop (``loop.solve``) counts them with
``base.record_many``: as the sequential procedure would, it
stops at the first candidate that solves and never counts past the budget,
so ``evaluations`` = (index of the first solving candidate) + 1, whatever K
(K only sets how much work is done past that candidate and thrown away).

"Solves" is one of three per-sequence criteria (``hp["criterion"]``):

* ``protocol``: the suite's common rule (``base.is_solved``): no training
  sequence misclassified (midpoint of the two targets) and cost below
  ``budget.target_cost``;
* ``tolerance``: HS2001's rule for parity: every training output ends
  within ``tolerance`` of its target, ``|y_b - d_b| < tolerance``;
* ``midpoint``: every training sequence on its target's side of the
  midpoint, with no cost condition ("classified correctly").

The unit update order is the net's own (``cells.Net.order``; see
:func:`outputs`).

Stopping as *stuck* (``budget.patience``) does not apply: independent draws
have no trajectory to stall, so only a solution or the budget stops a search.
The starting point ``theta0`` of the common signature is ignored.
"""

from __future__ import annotations

import functools
import jax
import jax.numpy as jnp

from vanishing import cells, problems, tasks
from vanishing.methods import base, loop

NAME = "guessing"
# HS2001 draw every weight from [-100, 100]. batch: candidates evaluated
# together; on the 2-core CPU 32 candidates x 100 sequences of length 600
# fill the vector units (benchmarks/guessing_speed.py); it never changes a
# result.
DEFAULTS = {"low": -100.0, "high": 100.0, "batch": 32,
            "criterion": "protocol", "tolerance": 0.1}
CRITERIA = ("protocol", "tolerance", "midpoint")
STATIC = frozenset({"batch", "criterion"})
ALLOWED = {"low": base.FINITE, "high": base.FINITE, "batch": base.count(1),
           "criterion": base.one_of(*CRITERIA), "tolerance": base.POSITIVE}
# Any cell: candidates run through ``cells.forward_many`` (a Net's own
# lane layout, others ``vmap`` of the generic forward pass).
REQUIRES = frozenset()
# Computes its own outputs at each sequence's end (methods.check_task).
READOUTS = ("end",)
# Scores candidates by the paper's squared error and the targets' midpoint
# (``failures``): the paper's two-class tasks only (methods.check_task).
KINDS = ("classification",)
# For a solved search, the solving candidate (not the lowest cost seen).
REPORTS = "solution"


def candidates(key: jax.Array, start: jax.Array | int, count: int, size: int,
               low: float, high: float) -> jax.Array:
  """Candidates ``start .. start + count - 1`` of the stream, ``(count, size)``.

  Candidate j is ``uniform(fold_in(key, j), (size,), low, high)``.
  """
  idx = jnp.asarray(start, jnp.int32) + jnp.arange(count, dtype=jnp.int32)
  draw = lambda j: jax.random.uniform(jax.random.fold_in(key, j), (size,),
                                      jnp.float32, low, high)
  return jax.vmap(draw)(idx)


def failures(y: jax.Array, targets: jax.Array, criterion: str,
             tolerance: float) -> jax.Array:
  """Per-sequence failures ``(..., B)`` of outputs ``y`` under ``criterion``.

  ``tolerance``: ``|y - d| >= tolerance``; ``midpoint`` and ``protocol``:
  on the wrong side of the midpoint of the two targets (as
  ``problems.Fit.misclassified``).
  """
  if criterion == "tolerance":
    return ~(jnp.abs(y - targets) < tolerance)
  if criterion in ("midpoint", "protocol"):
    return tasks.CLASSIFICATION.misclassified(y, targets)
  raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


def check(config, numbers) -> None:
  """Static choices, and the numbers where they are Python numbers."""
  crit, K = config["criterion"], config["batch"]
  low, high, tol = numbers["low"], numbers["high"], numbers["tolerance"]
  if crit not in CRITERIA:
    raise ValueError(f"{NAME}: criterion must be one of {CRITERIA}, got {crit!r}")
  if base.concrete(low) and base.concrete(high) and not low < high:
    raise ValueError(f"{NAME}: needs low < high, got {low}, {high}")
  if K < 1:
    raise ValueError(f"{NAME}: batch must be >= 1, got {K}")
  if crit == "tolerance" and base.concrete(tol) and not tol > 0:
    raise ValueError(f"{NAME}: tolerance must be > 0, got {tol}")


def adjust_budget(budget: base.Budget, config) -> base.Budget:
  """No stall rule (independent draws have no trajectory to stall); only
  the ``protocol`` criterion has a cost condition."""
  b = budget._replace(patience=budget.evaluations + 1)
  if config["criterion"] != "protocol":
    b = b._replace(target_cost=float("inf"))
  return b


def init(run):
  """No state but the candidate stream's key (in ``run``); nothing counted."""
  return (), ()


def step(run, state, tracker: base.Tracker):
  """The next ``batch`` candidates of the stream, evaluated together."""
  hp, net, batch = run.numbers, run.fit.net, run.fit.batch
  thetas = candidates(run.key, tracker.evaluations, run.config["batch"],
                      net.size, hp["low"], hp["high"])
  y = cells.forward_many(net, thetas, batch.inputs, batch.lengths,
                         batch.classes)
  d = batch.targets
  costs = 0.5 * jnp.mean((y - d) ** 2, axis=-1)
  errors = jnp.mean(failures(y, d, run.config["criterion"], hp["tolerance"]),
                    axis=-1)
  return state, base.many(thetas, costs, errors)


def search(key: jax.Array, net: cells.Net, batch: tasks.SequenceBatch,
           budget: base.Budget, hp=None) -> base.Result:
  """Random weight guessing on one training set; see the module docstring.

  Args:
    key: the stream of candidates (candidate j from ``fold_in(key, j)``).
    net: the architecture; all ``net.size`` free parameters are drawn.
    batch: the training set.
    budget: ``evaluations`` caps the trials; ``target_cost`` is used by the
      ``protocol`` criterion only; ``patience`` is not applied.
    hp: overrides of ``DEFAULTS``.

  Returns:
    A ``base.Result``: ``evaluations`` is the number of trials (index of the
    solving candidate + 1, or the budget); for a solved search ``theta`` is
    the solving candidate, otherwise the lowest-cost candidate seen; ``error``
    is the fraction of training sequences failing the criterion (for
    ``protocol``: misclassified); ``stuck`` is always False.
  """
  return solve(key, problems.Fit(net, batch),
               jnp.zeros((net.size,), jnp.float32), budget, hp)


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES,
                     kinds=KINDS, readouts=READOUTS, reports=REPORTS,
                     check=check, adjust_budget=adjust_budget)
# The common signature; ``theta0`` only fills the best point until a
# candidate is counted (every candidate is a fresh draw of all parameters).
solve = functools.partial(loop.solve, METHOD)
