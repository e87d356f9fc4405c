"""One trial of a method on a problem: draw, train, test; and a curriculum.

A :class:`Trial` at span ``swept["T"]`` draws its training set, test set
and initial parameters from its key (``problems.Problem.draw``), trains with
the method's loop until the protocol of :mod:`vanishing.methods.base` stops
it, and scores the result on the test set. It is written as the method's
loop (``loop.begin`` / ``running`` / ``advance`` / ``end``) so that the
sweep engine refills a lane as soon as its trial stops
(``vanishing.engine.runs.Steps``); ``steps()`` is that run function, and calling it
on one key is the whole trial. ``compare`` and the experiments built on its
protocol (``rtrl``, ``remedies``) run it.

**Hyper-parameters from the sweep.** ``swept_hp`` names numeric
hyper-parameters of the method read from the swept values (a sweep axis
``clip`` is bptt's clipping threshold), so several settings of a method
share one compiled program.

**Curriculum** (the paper's closing suggestion, Section VII: train on short
sequences first). With ``curriculum=True`` the swept value ``stages`` = K
splits training into K stages of growing span,

    T_k = max(2 m, ceil(T (k + 1) / K)),  k = 0..K-2,    T_{K-1} = T,

(m: the task's shortest sequence, so that a stage's lengths ceil(T_k/2)..T_k
are legal). Stage k trains on a set of the problem drawn at span T_k from
``fold_in(fold_in(key, 2), k)``; the last stage's set is the trial's own
training set, the one a trial without curriculum trains on. The method's
state (parameters, optimizer) carries over. A stage before the last ends
when its set is solved, when it is stuck, or when it has spent its share of
the budget, ``evaluations // K`` (so a trial that never solves a short stage
still trains on the full span at the end); the next stage then starts with the
tracker's best point, stall clock and solved flag reset, and the
evaluations keep counting against the one budget. A trial is solved only
when the last stage is, and stops as the method's loop does on the last
stage (solved, stuck, diverged or out of budget) or on a divergence.
K = 1 is training without curriculum, bit for bit.

**Training sets** (``Trials.training_sets``, ``--training_sets``).
``fixed`` (the paper's batch protocol, the default): the training set is
drawn once per trial (per stage) and every evaluation reads it. ``fresh``
(online, as the LSTM paper's experiments: each epoch's sequences are newly
drawn, never reused): before evaluation ``e`` (the method's init reads the
set of ``e = 0``) the training set is redrawn, ``n_per_class`` sequences
per class at the current span (the stage's ``T_k`` under a curriculum),
from

    fold_in(fold_in(key, 3), e),

so a trial's sets differ between evaluations and are reproducible from the
seed; the tracker judges "solved" (no sequence wrong, cost below target),
the best point and the stall clock on the set each step just saw. Only the
methods whose ``base.Method.fresh`` is True may (:func:`check_training_sets`):
the rest keep costs of earlier evaluations, or search for a point that
solves one set. ``fixed`` runs the code it ran before the option, bit for
bit. The test set is always the trial's own, never trained on.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from vanishing import methods, problems
from vanishing.engine.runs import Steps
from vanishing.experiments import flags, lyapunov
from vanishing.methods import base, loop


TRAINING_SETS = ("fixed", "fresh")


def check_training_sets(training_sets: str, method_names) -> None:
  """FlagError (``--training_sets``) where ``fresh`` is asked of a method
  that cannot train on a new set per step (``base.Method.fresh``)."""
  if training_sets != "fresh":
    return
  refused = [m for m in method_names if not methods.get(m).fresh]
  if refused:
    raise flags.FlagError("training_sets", f"fresh needs methods that step "
                          f"along the set they are given; not "
                          f"{', '.join(refused)} (they keep costs of earlier "
                          f"sets or search for one that solves a set)")


@dataclasses.dataclass(frozen=True)
class Trials:
  """The trials of an experiment on compare's protocol (``compare``,
  ``remedies``, ``rtrl``): how many, on which sets, stopped when.

  Attributes:
    count: trials per configuration and span (``--trials``).
    budget, patience, target_cost: the stopping rule (``base.Budget``).
    n_per_class, test_per_class: training and test sequences per class.
    training_sets: ``fixed`` (drawn once per trial) or ``fresh`` (redrawn
      before every evaluation; module docstring).
  """
  count: int = flags.setting(flags.integer(
      "trials per configuration and span", name="trials"), 24)
  budget: int = flags.setting(flags.integer(
      "function evaluations per trial (full-batch: epochs)"), 2000)
  patience: int = flags.setting(flags.integer(
      "stop as stuck after this many evaluations without improvement"), 500)
  target_cost: float = flags.setting(flags.real(
      "solved when no training sequence is wrong and the cost is below "
      "this", low=0, low_open=True), 0.01)
  n_per_class: int = flags.setting(flags.N_PER_CLASS, 25)
  test_per_class: int = flags.setting(flags.TEST_PER_CLASS, 100)
  training_sets: str = flags.setting(flags.choice(
      "training sets: fixed, drawn once per trial, or fresh, redrawn before "
      "every evaluation (online; gradient methods only)", TRAINING_SETS),
      "fixed")

  def stopping(self) -> base.Budget:
    return base.Budget(self.budget, self.patience, self.target_cost)


def stage_span(T, k, K, shortest: int):
  """``T_k`` (module docstring) for traced ``T``, ``k``, ``K``."""
  grown = jnp.maximum(2 * shortest, -(-(T * (k + 1)) // K))
  return jnp.where(k >= K - 1, T, jnp.minimum(grown, T)).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class Trial:
  """One trial at span ``swept["T"]`` (module docstring).

  Attributes:
    problem: the problem (its largest span: the arrays' length).
    method: a method name of ``vanishing.methods.NAMES``.
    budget: the stopping protocol.
    hp: hyper-parameter overrides, ``((name, value), ...)``.
    swept_hp: names of numeric hyper-parameters read from the swept values.
    curriculum: train in ``swept["stages"]`` stages of growing span.
    inits: cells of the problem's parameter layout that differ only in
      their initialisation; ``swept["init"]`` picks one per trial
      (``problems.Problem.draw``).
    fresh: redraw the training set before every evaluation (module
      docstring); ValueError for a method whose ``fresh`` is False.
    lyapunov: record the leading ``lyapunov`` exponents of the net on its
      test sequences at the initial and final parameters
      (``experiments.lyapunov``; 0: none). A swept ``gain`` multiplies the
      initial recurrent matrix (``lyapunov.scale_recurrent``).
  """
  problem: problems.Problem
  method: str
  budget: base.Budget
  hp: tuple = ()
  swept_hp: tuple[str, ...] = ()
  curriculum: bool = False
  inits: tuple = ()
  fresh: bool = False
  lyapunov: int = 0

  def __post_init__(self):
    if self.fresh and not methods.get(self.method).fresh:
      raise ValueError(f"{self.method} cannot train on fresh training sets "
                       f"(base.Method.fresh)")

  def _run(self, c) -> base.Run:
    fit = problems.Fit(self.problem.net, c["train"], self.problem.task)
    return loop.setup(methods.get(self.method), jax.random.fold_in(c["key"], 1),
                      fit, c["theta0"], self.budget,
                      {**dict(self.hp), **c.get("hp", {})})

  def _stage_set(self, c, k):
    """The training set of stage ``k`` (the trial's own at the last)."""
    span = stage_span(c["T"], k, c["stages"], self.problem.task.min_len)
    key = jax.random.fold_in(jax.random.fold_in(c["key"], 2), k)
    drawn = self.problem.data(key, self.problem.n_per_class, span)
    last = k >= c["stages"] - 1
    return jax.tree_util.tree_map(lambda a, b: jnp.where(last, a, b),
                                  c["full_train"], drawn)

  def _fresh_set(self, c, evaluations):
    """The training set of evaluation ``evaluations`` under ``fresh``:
    drawn from ``fold_in(fold_in(key, 3), evaluations)`` at the current
    stage's span."""
    span = (stage_span(c["T"], c["stage"], c["stages"],
                       self.problem.task.min_len)
            if self.curriculum else c["T"])
    key = jax.random.fold_in(jax.random.fold_in(c["key"], 3), evaluations)
    return self.problem.data(key, self.problem.n_per_class, span)

  def begin(self, key: jax.Array, swept) -> dict:
    fit, test, theta0 = self.problem.draw(key, swept["T"], self.inits,
                                          swept.get("init"))
    if "gain" in swept:
      theta0 = lyapunov.scale_recurrent(self.problem.net, theta0, swept["gain"])
    c = {"key": key, "train": fit.batch, "test": test.batch, "theta0": theta0}
    if self.lyapunov:
      c["lyapunov_init"] = lyapunov.exponents(self.problem.net, theta0,
                                              test.batch, self.lyapunov)
    if self.swept_hp:
      c["hp"] = {k: swept[k] for k in self.swept_hp}
    if self.curriculum:
      c.update(full_train=fit.batch, T=jnp.asarray(swept["T"], jnp.int32),
               stages=jnp.asarray(swept["stages"], jnp.int32),
               stage=jnp.zeros((), jnp.int32), since=jnp.zeros((), jnp.int32))
      c["train"] = self._stage_set(c, c["stage"])
    if self.fresh:
      c["T"] = jnp.asarray(swept["T"], jnp.int32)
      c["train"] = self._fresh_set(c, 0)
    return {**c, "loop": loop.begin(methods.get(self.method), self._run(c))}

  def _moving(self, c) -> jax.Array:
    """A stage before the last is solved, stuck or has spent its share of
    the budget: the next one starts."""
    tr = c["loop"][1]
    share = self.budget.evaluations // c["stages"]
    done = (tr.solved | base.stuck(tr, self.budget)
            | (tr.evaluations - c["since"] >= share))
    return done & (c["stage"] < c["stages"] - 1) & ~tr.diverged

  def running(self, c) -> jax.Array:
    go = loop.running(self._run(c), c["loop"])
    return go | self._moving(c) if self.curriculum else go

  def _advance(self, c) -> dict:
    if self.fresh:
      c = {**c, "train": self._fresh_set(c, c["loop"][1].evaluations)}
    return {**c, "loop": loop.advance(methods.get(self.method), self._run(c),
                                      c["loop"])}

  def _next_stage(self, c) -> dict:
    state, tr, found = c["loop"]
    k = c["stage"] + 1
    tr = tr._replace(best_cost=jnp.full_like(tr.best_cost, jnp.inf),
                     best_error=jnp.ones_like(tr.best_error),
                     solved=jnp.zeros_like(tr.solved),
                     improved_at=tr.evaluations)
    return {**c, "stage": k, "since": tr.evaluations,
            "train": self._stage_set(c, k), "loop": (state, tr, found)}

  def step(self, c) -> dict:
    if not self.curriculum:
      return self._advance(c)
    return jax.lax.cond(self._moving(c), self._next_stage, self._advance, c)

  def end(self, c) -> dict[str, jax.Array]:
    r, _ = loop.end(self._run(c), c["loop"])
    test_eval = problems.Fit(self.problem.net, c["test"],
                             self.problem.task).evaluate(r.theta)
    out = {"final_error": r.error, "test_error": test_eval.error,
           "cost": r.cost, "test_cost": test_eval.cost,
           "evaluations": r.evaluations, "solved": r.solved, "stuck": r.stuck,
           "diverged": r.diverged}
    if self.curriculum:
      out["stage"] = c["stage"]
    if self.lyapunov:
      out.update(lyapunov.columns("lyapunov_init", c["lyapunov_init"]))
      out.update(lyapunov.columns("lyapunov_final", lyapunov.exponents(
          self.problem.net, r.theta, c["test"], self.lyapunov)))
    return out

  def steps(self) -> Steps:
    return Steps(self.begin, self.running, self.step, self.end)
