"""The LSTM paper replayed on its own protocol: online learning, its stops.

Hochreiter & Schmidhuber 1997, "Long short-term memory", Neural
Computation 9:1735-1780, experiments 3a (Bengio et al.'s 2-sequence
problem) and 4 (the adding problem), on the tasks of
``vanishing.tasks.lstm1997`` and the nets of ``problems.LSTM_1997_NETS``
(the paper's LSTM, and a GRU and an identity-initialised tanh RNN, which it
could not have run, under the same protocol).

**Protocol** (the paper's; the deviations are named and are flags or in
BUILD_NOTES.md). Every training sequence is drawn fresh and seen once:
sequence ``k`` of a trial comes from ``fold_in(train_key, k)`` (a pair of
one sequence per class, of which one is picked with probability 1/2, so
each class has probability 1/2). After each sequence one plain gradient
step on its squared error ``E = (y - d)^2 / 2``, ``theta -= lr dE/dtheta``
(the paper's learning rate: 1.0 for 3a, 0.5 for adding), with the 1997
LSTM's gradient truncated as the paper's (``LSTM1997.truncated``; the
GRU and the tanh RNN take their full gradient; ``--gradient=full`` gives
the LSTM BPTT's full one too). Every ``check_every`` sequences the
trial is judged:

* experiment 3a: on a fixed test set of 256 sequences (``test_per_class``
  of each class) drawn at the start. ST1: no test sequence misclassified
  (``|y - d| >= 0.2``); ST2: ST1 and the mean absolute test error below
  0.01. The trial stops at ST2 (the sequences at its first ST1 are kept);
* experiment 4: on its training stream: the ``RECENT`` = 2,000 most recent
  training sequences all processed correctly (``|y - d| < 0.04``, judged
  on the output before their own update) and their mean absolute error
  below 0.01.

A trial that meets neither within ``budget`` sequences, or whose
parameters stop being finite (``diverged``), is recorded as unsolved. A
stopped trial is scored on ``FINAL`` = 2,560 further fresh sequences (the
paper's "# wrong"). The counts, ``sequences_st1`` and ``sequences_stop``,
are multiples of ``check_every`` (the paper checks after every sequence;
the counts it prints are means over 10 trials of 27,000 sequences and
more, so a check every 100 adds at most 100 to each).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import problems, statistics, tasks
from vanishing.engine import layout, series
from vanishing.engine.runs import Steps
from vanishing.engine.series import Sweeps
from vanishing.experiments.flags import FlagError
from vanishing.tasks import SequenceBatch

# The protocols replayed: remedies' ``--protocol`` -> (task, paper's rule).
PROTOCOLS = {"lstm_1997_2seq": "two_sequence_1997",
             "lstm_1997_adding": "adding_1997"}
# Experiment 4's stop: this many most recent training sequences right.
RECENT = 2000
# ST2's and experiment 4's mean absolute error.
MEAN_ERROR = 0.01
# The further test of a stopped trial (the paper's "# wrong" out of 2,560).
FINAL = 2560
# Lanes of trials per device on a CPU (one trial per lane, refilled).
BLOCK = 8


def pick_one(batch: SequenceBatch, i: jax.Array) -> SequenceBatch:
  """Sequence ``i`` (traced) of a batch, as a batch of one."""
  def take(a, axis):
    return jax.lax.dynamic_slice_in_dim(a, i, 1, axis=axis)
  return SequenceBatch(take(batch.inputs, 1), take(batch.targets, 0),
                       take(batch.lengths, 0), take(batch.classes, 0))


class Online:
  """One trial of the online protocol (module docstring) as the engine's
  ``Steps``: ``begin`` draws the initial parameters and the test set, each
  ``step`` trains on ``check_every`` fresh sequences and judges."""

  def __init__(self, problem: problems.Problem, lr: float, budget: int,
               check_every: int, truncated: bool = True):
    self.problem, self.lr = problem, lr
    self.budget, self.check_every = budget, check_every
    self.net, self.task = problem.net, problem.task
    # The net the gradient is taken through: the 1997 LSTM's truncated one.
    self.learner = (dataclasses.replace(self.net, truncated=True)
                    if truncated and hasattr(self.net, "truncated")
                    else self.net)
    self.stream = problem.task.name == "adding_1997"   # experiment 4's rule

  def begin(self, key: jax.Array, swept) -> dict:
    k_init, k_test, k_train, k_final = jax.random.split(key, 4)
    span = jnp.asarray(swept["T"]).astype(jnp.int32)
    theta = self.net.init(k_init, self.problem.init_scale)
    test = self.problem.data(k_test, self.problem.test_per_class, span)
    i32 = jnp.zeros((), jnp.int32)
    return {"theta": theta, "span": span, "test": test, "train": k_train,
            "final": k_final, "seen": i32, "st1": i32 - 1, "stop": i32 - 1,
            "streak": i32, "recent": jnp.ones((RECENT,), theta.dtype),
            "diverged": jnp.zeros((), bool)}

  def _learn(self, c, k):
    """One fresh sequence: its output before the update, one SGD step."""
    k_pick, k_seq = jax.random.split(jax.random.fold_in(c["train"], k))
    pair = self.problem.data(k_seq, 1, c["span"])
    one = pick_one(pair, jax.random.bernoulli(k_pick).astype(jnp.int32))
    fit = problems.Fit(self.learner, one, self.task)

    def loss(theta):
      y = fit.outputs(theta)
      return self.task.loss(y, one.targets), y

    (_, y), g = jax.value_and_grad(loss, has_aux=True)(c["theta"])
    right = ~self.task.misclassified(y, one.targets)[0]
    err = jnp.abs(y - one.targets)[0]
    return {**c, "theta": c["theta"] - self.lr * g,
            "streak": jnp.where(right, c["streak"] + 1, 0),
            "recent": c["recent"].at[k % RECENT].set(err)}

  def step(self, c) -> dict:
    c = jax.lax.fori_loop(0, self.check_every,
                          lambda j, c: self._learn(c, c["seen"] + j), c)
    seen = c["seen"] + self.check_every
    y = problems.Fit(self.net, c["test"], self.task).outputs(c["theta"])
    d = c["test"].targets
    st1 = ~jnp.any(self.task.misclassified(y, d))
    if self.stream:
      done = (c["streak"] >= RECENT) & (jnp.mean(c["recent"]) < MEAN_ERROR)
    else:
      done = st1 & (jnp.mean(jnp.abs(y - d)) < MEAN_ERROR)
    return {**c, "seen": seen,
            "st1": jnp.where((c["st1"] < 0) & st1, seen, c["st1"]),
            "stop": jnp.where(done, seen, c["stop"]),
            "diverged": ~jnp.all(jnp.isfinite(c["theta"]))}

  def running(self, c) -> jax.Array:
    return (c["stop"] < 0) & (c["seen"] < self.budget) & ~c["diverged"]

  def end(self, c) -> dict[str, jax.Array]:
    final = self.problem.data(c["final"], FINAL // 2, c["span"])
    y = problems.Fit(self.net, final, self.task).outputs(c["theta"])
    return {"solved": c["stop"] >= 0, "sequences_st1": c["st1"],
            "sequences_stop": c["stop"], "sequences": c["seen"],
            "final_wrong": jnp.sum(self.task.misclassified(y, final.targets)),
            "final_abs_error": jnp.mean(jnp.abs(y - final.targets)),
            "diverged": c["diverged"]}

  def steps(self) -> Steps:
    return Steps(self.begin, self.running, self.step, self.end)


def problem(settings, cell: str, N: int | None) -> problems.Problem:
  """The replayed problem of ``cell`` (its largest span; prefix ``N`` for
  the 2-sequence problem), initial parameters uniform on [-0.1, 0.1]."""
  task = PROTOCOLS[settings.protocol]
  return problems.Problem(problems.named(task, cell), max(settings.spans(task)),
                          1, settings.trials.test_per_class,
                          N=N if N is not None else 3, init_scale=0.1)


def prefixes(settings) -> tuple:
  """The 2-sequence prefix lengths N replayed (None: not the 2-sequence)."""
  return (settings.N_values if settings.protocol == "lstm_1997_2seq"
          else (None,))


def run(settings, sweeps: Sweeps = Sweeps()):
  """Every (cell, N) sweep over the spans: ``(table, records, timing)``,
  or None for a shard."""
  task = PROTOCOLS[settings.protocol]

  def planned():
    for cell in settings.cells:
      for N in prefixes(settings):
        trial = Online(problem(settings, cell, N), settings.lr,
                       settings.trials.budget, settings.check_every,
                       settings.gradient == "truncated")
        tag = f"{task}-{cell}" + (f"-N{N}" if N is not None else "")
        yield series.Sweep(
            (cell, N), tag, trial.steps(),
            {"T": np.asarray(settings.spans(task), np.float64)},
            settings.trials.count, problems.task_key(settings.seed, task),
            {"chunk": settings.chunk, "block": layout.Block(BLOCK)})

  done = sweeps.series(planned())
  if done is None:
    return None
  parts = []
  for (cell, N), res in done[0]:
    rec = res.gather(("T", "trial", "solved", "sequences_st1",
                      "sequences_stop", "sequences", "final_wrong",
                      "final_abs_error", "diverged"))
    n = len(rec["T"])
    parts.append({"task": np.full(n, task), "cell": np.full(n, cell),
                  "N": np.full(n, -1 if N is None else N),
                  **{k: (v.astype(np.int64) if k != "final_abs_error" else v)
                     for k, v in rec.items()}})
  records = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
  return summarize(records), records, done[1]


def _mean_se(x: np.ndarray) -> tuple[float, float]:
  if len(x) == 0:
    return np.nan, np.nan
  return float(np.mean(x)), statistics.se(x) if len(x) > 1 else np.nan


def summarize(rec) -> dict[str, np.ndarray]:
  """One row per (task, cell, T, N): the solved rate with its Wilson
  interval, and the mean sequences to ST1 and to the paper's stop over the
  trials that reached them, with their standard errors."""
  rows = []
  for (task, cell, T, N), sel in statistics.groups(rec, ("task", "cell", "T",
                                                         "N")):
    n = int(sel.sum())
    solved = rec["solved"][sel].astype(bool)
    rate, _, lo, hi = statistics.wilson(solved.sum(), n)
    st1 = rec["sequences_st1"][sel]
    stop = rec["sequences_stop"][sel]
    m1, se1 = _mean_se(st1[st1 >= 0].astype(np.float64))
    ms, ses = _mean_se(stop[stop >= 0].astype(np.float64))
    # A trial that never stopped took more than the sequences it ran: the
    # mean with those counted at their budget is a floor of the true mean.
    ran = rec["sequences"][sel].astype(np.float64)
    f1, fse1 = _mean_se(np.where(st1 >= 0, st1, ran))
    fs, fses = _mean_se(np.where(stop >= 0, stop, ran))
    rows.append({"task": task, "cell": cell, "T": int(T), "N": int(N),
                 "trials": n, "solved": int(solved.sum()),
                 "frequency": float(rate), "lo": float(lo), "hi": float(hi),
                 "st1_mean": m1, "st1_se": se1,
                 "st1_censored": int(np.sum(st1 < 0)),
                 "stop_mean": ms, "stop_se": ses,
                 "stop_censored": int(np.sum(stop < 0)),
                 "st1_floor": f1, "st1_floor_se": fse1,
                 "stop_floor": fs, "stop_floor_se": fses,
                 "final_wrong": (float(np.mean(rec["final_wrong"][sel][solved]))
                                 if solved.any() else np.nan),
                 "diverged": int(rec["diverged"][sel].sum())})
  return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}


def from_flags(given, protocol: str, harness_only: tuple[str, ...]):
  """remedies' settings for the replay ``protocol`` (its preset): none of
  the harness's options (``harness_only``), the replay's own cells, spans
  its task can draw; FlagError otherwise."""
  task = PROTOCOLS[protocol]
  for name in harness_only:
    if given.given(name):
      raise FlagError(name, f"not with --preset={protocol} (the replay "
                      "trains by online SGD on its own task, stopped by its "
                      "paper's rule)")
  known = tuple(problems.LSTM_1997_NETS[task])
  for cell in given.value("cells"):
    if cell not in known:
      raise FlagError("cells", f"{protocol} replays {', '.join(known)}; "
                      f"got {cell!r}")
  if given.given("T_values"):
    low = tasks.get(task).min_len
    if task == "two_sequence_1997":
      low = max(given.value("N_values"))
    if min(given.value("T_values")) < max(low, 4):
      raise FlagError("T_values", f"{protocol} needs T >= {max(low, 4)}, "
                      f"got T = {min(given.value('T_values'))}")
  return given.settings({})
