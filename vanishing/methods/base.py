"""What every training method shares: the protocol, stop rules, counters.

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

**The method protocol.** A method is a :class:`Method` value (each module
``vanishing.methods.<name>`` ends with its ``METHOD``; ``vanishing.methods``
lists them in ``REGISTRY``) holding

* ``name``; ``defaults``, its documented hyper-parameters; ``allowed``, the
  :class:`Allowed` values of each (the command line refuses others before
  anything runs); ``static``, the
  names among them that are static choices (an optimizer's name, a
  curvature kind, a population size, a criterion: they pick code or shapes
  and form the hashable :class:`Config`); every other one is a *number*,
  which may be a traced array (swept without recompiling; a Python number
  stays a compile-time constant, as before, and XLA may fold an expression
  of constants, such as ``log(accept0)``, to a last bit other than the
  compiled kernel's);
* ``requires``: the cell structure it reads, a frozenset of the tags of
  ``vanishing.methods.TAGS`` (``linear``, ``activation_derivatives``);
  ``vanishing.methods.check_supported`` refuses an
  unsupported (method, cell) pair before anything is compiled;
* ``init(run) -> (state, proposals)``: the first state (a pytree) and the
  evaluations made before the loop (a tuple of :class:`Proposals`, counted
  in order; may be empty);
* ``step(run, state, tracker) -> (state, proposals)``: one iteration from
  ``state``; ``tracker`` is the read-only :class:`Tracker` left by the
  iterations before (best point so far, evaluations so far: what a key
  ``fold_in(run.key, tracker.evaluations)`` or a search centred on the best
  point reads). ``proposals`` are the K points it evaluated (K static).

``run`` is the :class:`Run` of the trial (key, fit, theta0, budget, config,
numbers). With defaults on the value: ``check(config, numbers)``
(ValueError for a bad choice), ``adjust_budget(budget, config)`` (guessing
has no stall rule), ``reports = "solution"`` (report the first solving
point rather than the best one), ``kinds`` / ``readouts``, the task costs
and readouts it can train (``vanishing.methods.check_task``; default: every
one), ``lanes`` (1 for a method whose vmapped lanes are not
independent bit for bit) and ``fresh`` (whether it may train on a training
set redrawn before every step, ``experiments.trial``'s
``--training_sets=fresh``: True for the methods that step along a
direction computed at the current point on the set they are given, the
gradient, curvature-scaled and discrete-propagation methods; False for
annealing and multi-grid search, whose state holds costs of earlier
evaluations that a new set would make incomparable, and for guessing,
a search for a draw that solves *the* training set).

``vanishing.methods.loop.solve`` owns everything else, once for every
method: the ``lax.while_loop``, the :class:`Tracker`, the budget, stuck,
diverged and solved, and the sequential counting of proposals (:func:`record` for
K = 1, :func:`record_many` for K > 1: a population is counted as if
evaluated one by one, stopping at the first that solves and never past the
budget). A proposal whose ``finite`` flag is False (its gradient or
curvature was not finite) is counted and marks the run diverged; after
counting, ``healthy`` False (the method's own update is not finite) marks it
diverged too, keeping the point just counted. Under ``vmap`` a block of
trials stops when its last trial stops and finished trials are frozen, so no
trial depends on the others. The result is the best point evaluated.
Adding a method is one module and its ``METHOD`` in
``vanishing.methods.REGISTRY``.

A method's state changes that depend on how its proposals were counted (a
box re-centred on the new best point, a walk restarted from it) are made at
the start of the next step, from ``tracker``: after the last step they
would change nothing that is reported.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from vanishing import tasks


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
  """The tasks' rule (``tasks.Task.solved``) at the budget's target cost."""
  return tasks.CLASSIFICATION.solved(cost, error, budget.target_cost)


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


def first_stop(costs: jax.Array, errors: jax.Array, budget: Budget,
               finite: jax.Array | bool = True) -> tuple[jax.Array, jax.Array]:
  """``(ok, first)`` of K evaluations in order: which are finite, and the
  index of the first that stops a sequential run (solves or is not
  finite), K if none does."""
  K = costs.shape[0]
  ok = jnp.isfinite(costs) & finite
  stops = (ok & is_solved(costs, errors, budget)) | ~ok
  return ok, jnp.min(jnp.where(stops, jnp.arange(K), K))


def record_many(tr: Tracker, thetas: jax.Array, costs: jax.Array,
                errors: jax.Array, budget: Budget,
                finite: jax.Array | bool = True) -> Tracker:
  """Counts a batch of K independent evaluations as if made one by one.

  The sequential procedure would stop at the first candidate that solves
  (or diverges), or when the budget runs out: only candidates up to that one
  are counted and can become the best point. ``finite`` (per candidate) as
  in :func:`record`.
  """
  K = costs.shape[0]
  idx = jnp.arange(K)
  ok, first = first_stop(costs, errors, budget, finite)
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


def _no_check(config, numbers) -> None:
  pass


def _same_budget(budget: "Budget", config) -> "Budget":
  return budget


@dataclasses.dataclass(frozen=True, eq=False)
class Method:
  """A training method: what the shared loop (``vanishing.methods.loop``)
  runs. The fields are the method protocol's (module docstring)."""
  name: str
  init: Callable
  step: Callable
  defaults: Mapping[str, Any]
  allowed: Mapping[str, "Allowed"]
  static: frozenset = frozenset()
  requires: frozenset = frozenset()
  kinds: tuple[str, ...] = tasks.KINDS
  readouts: tuple[str, ...] = ("end", "every")
  lanes: int | None = None
  reports: str = "best"
  check: Callable[[Any, dict], None] = _no_check
  adjust_budget: Callable[["Budget", Any], "Budget"] = _same_budget
  fresh: bool = False


@dataclasses.dataclass(frozen=True)
class Allowed:
  """The values one hyper-parameter may take: numbers in [low, high] (an end
  left out where ``low_open``/``high_open``; ``integer``: whole numbers),
  or one of ``choices`` (a tuple, or a function giving it, for lists known
  only at run time such as the optimizers).
  """
  low: float | None = None
  high: float | None = None
  low_open: bool = False
  high_open: bool = False
  integer: bool = False
  choices: tuple | Callable[[], Any] | None = None

  def options(self) -> tuple:
    return tuple(self.choices() if callable(self.choices) else self.choices)

  def text(self) -> str:
    """What is allowed, as ``--help`` and errors say it."""
    if self.choices is not None:
      return "one of " + ", ".join(_word(c) for c in self.options())
    kind = "an integer" if self.integer else "a number"
    lo = (None if self.low is None else
          f"{'>' if self.low_open else '>='} {self.low:g}")
    hi = (None if self.high is None else
          f"{'<' if self.high_open else '<='} {self.high:g}")
    return " and ".join([kind + (f" {lo}" if lo else "")] + ([hi] if hi else []))

  def parse(self, text: str) -> Any:
    """``text`` read as an allowed value; ValueError saying what is allowed."""
    text = text.strip()
    if self.choices is not None:
      options = self.options()
      by_text = {_word(c): c for c in options}
      if text.lower() not in by_text:
        raise ValueError(f"must be {self.text()}, got {text!r}")
      return by_text[text.lower()]
    try:
      value = int(text) if self.integer else float(text)
    except ValueError:
      raise ValueError(f"must be {self.text()}, got {text!r}") from None
    if not math.isfinite(value) or (self.low is not None and (
        value < self.low or (self.low_open and value == self.low))) or (
        self.high is not None and (
            value > self.high or (self.high_open and value == self.high))):
      raise ValueError(f"must be {self.text()}, got {text!r}")
    return value


def _word(choice) -> str:
  return str(choice).lower() if isinstance(choice, bool) else str(choice)


POSITIVE = Allowed(low=0, low_open=True)
NONNEGATIVE = Allowed(low=0)
MOMENTUM = Allowed(low=0, high=1, high_open=True)
FRACTION = Allowed(low=0, high=1, low_open=True, high_open=True)
FINITE = Allowed()
BOOLEAN = Allowed(choices=(False, True))


def count(low: int = 1) -> Allowed:
  """Whole numbers >= ``low``."""
  return Allowed(low=low, integer=True)


def one_of(*choices) -> Allowed:
  return Allowed(choices=tuple(choices))


def check_hp(name: str, defaults: Mapping[str, Any],
             hp: Mapping[str, Any] | None) -> dict[str, Any]:
  """``defaults`` updated by ``hp``; an unknown key raises ValueError."""
  hp = dict(hp or {})
  unknown = sorted(set(hp) - set(defaults))
  if unknown:
    raise ValueError(f"{name}: unknown hyper-parameter(s) {', '.join(unknown)}; "
                     f"known: {', '.join(sorted(defaults))}")
  return {**defaults, **hp}


# ---------------------------------------------------------------------------
# The method protocol (its one loop: ``vanishing.methods.loop``).

class Proposals(NamedTuple):
  """K points a step evaluated, in the order a sequential method would have.

  Attributes:
    thetas: ``(K, P)``.
    costs, errors: ``(K,)``.
    finite: ``(K,)`` bools: the point's derivatives (gradient, curvature)
      were finite; False counts the point and marks the run diverged.
    healthy: a bool: the method's update after these points is finite;
      False marks the run diverged after counting them.
  """
  thetas: jax.Array
  costs: jax.Array
  errors: jax.Array
  finite: jax.Array
  healthy: jax.Array


def one(theta: jax.Array, cost: jax.Array, error: jax.Array,
        finite: jax.Array | bool = True, healthy: jax.Array | bool = True
        ) -> Proposals:
  """A single evaluated point (K = 1)."""
  return Proposals(theta[None], cost[None], error[None],
                   jnp.asarray(finite, bool)[None], jnp.asarray(healthy, bool))


def many(thetas: jax.Array, costs: jax.Array, errors: jax.Array) -> Proposals:
  """K independent evaluated points (a population)."""
  return Proposals(thetas, costs, errors, jnp.ones(costs.shape, bool),
                   jnp.ones((), bool))


@dataclasses.dataclass(frozen=True)
class Config:
  """A method's static choices, ``((name, value), ...)``; hashable, so it
  can be a static argument of ``jit`` or part of a cache key."""
  items: tuple[tuple[str, Any], ...] = ()

  def __getitem__(self, name: str) -> Any:
    return dict(self.items)[name]

  def get(self, name: str, default: Any = None) -> Any:
    return dict(self.items).get(name, default)

  def replace(self, **changes) -> "Config":
    return Config(tuple(sorted({**dict(self.items), **changes}.items())))


class Run(NamedTuple):
  """What one trial of a method reads and never changes.

  ``numbers`` holds the numeric hyper-parameters (Python numbers or traced
  arrays), ``config`` the static ones; ``budget`` is the method's own
  (``adjust_budget``).
  """
  key: jax.Array
  fit: Any
  theta0: jax.Array
  budget: Budget
  config: Config
  numbers: dict[str, Any]


def concrete(x: Any) -> bool:
  """Whether ``x`` is a Python number (a check on it can run in Python)."""
  return isinstance(x, (int, float)) and not isinstance(x, bool)
