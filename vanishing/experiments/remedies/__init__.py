"""Beyond 1994: gated cells and the known remedies on the same harness.

For every (task, cell, remedy) and span T, ``trials`` trials of BPTT
(``methods.bptt``, one optimizer for every cell) under compare's stopping
protocol (:mod:`vanishing.methods.base`), on a fixed training set or on
fresh sets (``--training_sets``, ``experiments.trial``).

**Solved means generalised.** A trial is *solved* when no sequence of its
held-out test set (``test_per_class`` per class, never trained on) is
wrong by the task's rule (the LSTM paper's criterion; 256 test sequences
under ``--paper``): training stops by the training-set rule, but a net
that classifies its few training sequences by memorising them is not
solved. Per (task, cell, remedy, T) of the summary (``remedies.csv``):

* ``solved``: trials solved (held out), of ``trials``; ``frequency`` =
  solved / trials, with ``lo``, ``hi`` its 95% Wilson interval (Wilson
  1927, ``statistics.wilson``);
* ``median_sequences``: the median number of training sequences
  (evaluations x training-set size) over the held-out-solved trials (NaN
  where none is);
* ``train_solved``, ``train_frequency``: trials (and their fraction) that
  met the training-set rule, the protocol's stopping rule (no training
  sequence wrong, cost below ``target_cost``; under ``fresh``, on the set
  of the evaluation that met it);
* ``test_cost`` beside ``baseline_cost``, the task's memoryless baseline
  (``cost_ratio`` their ratio), ``test_error`` (mean fraction of test
  sequences wrong) and ``diverged``.

The run records (``remedies_runs.csv``) hold per trial ``solved`` (no test
sequence wrong) and ``train_solved`` (the training-set rule) beside the
errors, costs and evaluations.

* Tasks: the latch (HS2001's variant II form: first input +-1, targets
  +-1, since gated cells have no trainable class inputs), the 2-sequence
  problem (Section VI), the adding problem (Hochreiter & Schmidhuber 1997,
  experiment 4; Arjovsky, Shah & Bengio 2016) and the copying problem
  (Arjovsky et al. 2016), each with its memoryless baseline.
* Cells: the plain tanh RNN (Elman 1990) with uniform, orthogonal (Saxe,
  McClelland & Ganguli 2014) and identity (Le, Jaitly & Hinton 2015)
  recurrent initialisation, LSTM with a forget gate (Hochreiter &
  Schmidhuber 1997; Gers, Schmidhuber & Cummins 2000) and GRU (Cho et al.
  2014), all with 4 hidden units; on request (``--cells``) the diagonal
  linear recurrences, the LRU (Orvieto et al. 2023) and ``linear_diag``,
  with ``problems.LINEAR_UNITS`` states.
* Remedies: ``none``; ``clip``, gradient-norm clipping at ``clip``
  (Pascanu, Mikolov & Bengio 2013); ``curriculum``, ``stages`` stages of
  growing span (the paper's closing suggestion; ``experiments.trial``);
  ``clip_curriculum``, both.

Same trials for every pair: a trial's training set, test set and key come
from ``fold_in(problems.task_key(seed, task), run)`` with ``run = T index x
trials + trial``, whatever the cell and the remedy (the initial parameters
are each cell's own draw from that key), and they are compare's trials of
the same (task, cell). One compiled program and one sweep
per (task, cell) (the tanh RNN's three initialisations are one program, the
initialisation a traced choice: :func:`programs`): the remedies are a
zipped, paired axis of it (the clipping threshold and the number of stages
are traced values of each run; every remedy sees the same keys,
``sweep.run(paired=...)``), so the trials of every remedy, span and
initialisation share the lanes.

``--lyapunov=K`` records each trial's leading K Lyapunov exponents at the
initial and final parameters (``experiments.lyapunov``, inside the same
sweep); ``--gain`` sweeps a factor on every cell's initial recurrent matrix
(a paired axis: the same draws at every gain), and the experiment then
reports held-out success against the initial largest exponent
(``remedies_trainability.csv`` and the figure).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from vanishing import problems, tasks, theory
from vanishing.engine import layout
from vanishing.engine import series
from vanishing.engine.series import Sweeps
from vanishing.experiments import compare, flags, lyapunov
from vanishing.experiments.flags import FlagError
from vanishing.experiments.remedies import replay, replay_report
from vanishing.experiments.remedies.report import (LABELS, figure, summarize,
                                                  summary)
from vanishing.experiments.skeleton import Experiment, Outcome
from vanishing.experiments.trial import Trial, Trials

NAME = "remedies"
SUMMARY = "gated cells and remedies (clipping, curriculum) against T"
TABLES = ("", "runs", "trainability")

TASKS = ("latch2", "two_sequence", "adding", "copying")
CELLS = ("elman", "rnn_orthogonal", "rnn_identity", "lstm", "gru")
# On request (--cells): the diagonal linear recurrences, the LRU (Orvieto et
# al. 2023) and its minimal real form (``problems.LINEAR``). They have no
# recurrent matrix for --gain to scale.
LINEAR = problems.LINEAR
# Options that only the harness reads (a replay trains by plain online SGD
# on its own task and stops by its paper's rule), and only a replay reads.
HARNESS_ONLY = ("tasks", "remedies", "optimizer", "clip", "stages",
                "patience", "target_cost", "n_per_class", "training_sets",
                "lyapunov", "gain")
REPLAY_ONLY = ("N_values", "check_every", "gradient")
REMEDIES = ("none", "clip", "curriculum", "clip_curriculum")
# Adam is the default: at T = 32 it solved more latch and 2-sequence trials
# than heavy-ball momentum at lr 0.5 or 0.1 for every cell (docs/remedies.md);
# clipping matters more under momentum, whose steps scale with the gradient.
OPTIMIZERS = ("adam", "momentum", "sgd")
# Lanes of trials per device: compare's (refilled as trials stop).
BLOCK = compare.BLOCK


def _listed(valid):
  return lambda: valid


def _spans_shown(st) -> str:
  return "per task: " + "; ".join(f"{t} {flags.show(v)}"
                                  for t, v in st.T_by_task)


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of the remedies experiment.

  Attributes:
    tasks, cells, remedies: what is crossed (``TASKS``, ``CELLS``,
      ``REMEDIES``).
    T: spans for every task, or () for each task's own (``T_by_task``).
    T_by_task: ``((task, spans), ...)``.
    trials: how many trials per (task, cell, remedy, T), their sets and
      stopping rule (``Trials``).
    optimizer, lr: BPTT's optimizer (the same for every cell).
    clip: the gradient-norm threshold of the clipping remedies.
    stages: the curriculum's stages.
    lyapunov: exponents recorded per trial (0: none).
    gain: factors on the initial recurrent matrix, swept; () for none.
    seed: root seed.
    chunk: runs per compiled call.
  """
  tasks: tuple[str, ...] = flags.setting(
      flags.names("tasks", _listed(TASKS)), TASKS)
  cells: tuple[str, ...] = flags.setting(flags.names(
      "cells (lstm_1997: the 1997 LSTM, under a replay protocol; lru, "
      "linear_diag: the diagonal linear recurrences)",
      _listed(CELLS + LINEAR + ("lstm_1997",))), CELLS)
  remedies: tuple[str, ...] = flags.setting(
      flags.names("remedies", _listed(REMEDIES)), ("none", "clip", "curriculum"))
  T: tuple[int, ...] = flags.setting(flags.grid(
      "spans T, for every task (unset: the preset's, per task)", integer=True,
      low=2, noun="every T", name="T_values", default_text=_spans_shown), ())
  T_by_task: tuple = (("latch2", (8, 32, 128)), ("two_sequence", (8, 32, 128)),
                      ("adding", (8, 32, 128)), ("copying", (4, 16, 64)),
                      ("two_sequence_1997", (100,)), ("adding_1997", (100,)))
  trials: Trials = flags.nested(Trials(16, budget=300, patience=150,
                                       n_per_class=16, test_per_class=64))
  optimizer: str = flags.setting(flags.choice(
      "BPTT's optimizer (the same for every cell)", OPTIMIZERS), "adam")
  lr: float = flags.setting(flags.real(
      "BPTT's learning rate (one value: the density sweeps' --lr is a grid)",
      low=0, low_open=True, name="learning_rate"), 0.02)
  clip: float = flags.setting(flags.real(
      "gradient-norm threshold of the clipping remedies", low=0,
      low_open=True), 1.0)
  stages: int = flags.setting(flags.integer(
      "stages of the curriculum remedies", low=2), 4)
  protocol: str = "harness"
  N_values: tuple[int, ...] = flags.setting(flags.grid(
      "2-sequence prefix lengths N of the lstm_1997_2seq replay",
      integer=True, low=1, noun="every N"), (3, 1))
  check_every: int = flags.setting(flags.integer(
      "replays: judge a trial after every this many training sequences"),
      100)
  gradient: str = flags.setting(flags.choice(
      "replays: the 1997 LSTM's gradient, truncated as the paper's or full "
      "(BPTT)", ("truncated", "full")), "truncated")
  # Off by default: +12% run, +22% compile time (BUILD_NOTES).
  lyapunov: int = flags.setting(lyapunov.FLAG, 0)
  gain: tuple[float, ...] = flags.setting(flags.grid(
      "factors on every cell's initial recurrent matrix, a paired sweep axis "
      "(the figure: success against the initial exponent)", low=0,
      low_open=True, noun="gains", default_text="none"), ())
  seed: int = 0
  chunk: int | None = flags.setting(flags.CHUNK, None)

  def spans(self, task: str) -> tuple[int, ...]:
    return self.T or dict(self.T_by_task)[task]

  def problem(self, task: str, cell: str) -> problems.Problem:
    return problems.Problem(problems.named(task, cell),
                            max(self.spans(task)), self.trials.n_per_class,
                            self.trials.test_per_class)

  def remedy(self, name: str) -> tuple[float, int]:
    """``(clipping threshold (0: none), stages)`` of remedy ``name``."""
    clip = self.clip if "clip" in name else 0.0
    return clip, self.stages if "curriculum" in name else 1


DEFAULT = Settings()
# The LSTM paper's experiment 3 (Hochreiter & Schmidhuber 1997): the
# 2-sequence problem at minimal lags 100 and 1,000 (lengths T/2..T), judged
# on 256 test sequences (``solved``: none misclassified); more trials
# and epochs: for a GPU or a cluster.
PAPER = Settings(remedies=REMEDIES,
                 T_by_task=(("latch2", (10, 100, 1000)),
                            ("two_sequence", (20, 200, 2000)),
                            ("adding", (10, 100, 1000)),
                            ("copying", (10, 100, 1000))),
                 trials=Trials(64, budget=5000, patience=2000,
                               n_per_class=16, test_per_class=128))
# The LSTM paper's experiments 3a and 4 on its own protocol (``replay``):
# its nets, 10 trials, learning rates 1.0 and 0.5, fresh sequences, its
# stops; T = 100 runs in minutes on a CPU, T = 1000 (2-sequence) and 500,
# 1000 (adding) are GPU settings (``--T_values``; docs/remedies.md has
# their estimated times).
_REPLAY_CELLS = ("lstm_1997", "gru", "rnn_identity")
LSTM_1997_2SEQ = Settings(
    protocol="lstm_1997_2seq", tasks=("two_sequence_1997",),
    cells=_REPLAY_CELLS, trials=Trials(10, budget=200000, test_per_class=128),
    lr=1.0)
LSTM_1997_ADDING = Settings(
    protocol="lstm_1997_adding", tasks=("adding_1997",),
    cells=_REPLAY_CELLS, trials=Trials(10, budget=300000, test_per_class=128),
    lr=0.5)
TESTING = Settings(tasks=("latch2", "adding"), cells=("elman", "rnn_identity"),
                   remedies=("none", "clip", "curriculum"),
                   T_by_task=(("latch2", (4, 8)), ("adding", (4, 8))),
                   trials=Trials(3, budget=30, patience=30, n_per_class=4,
                                 test_per_class=8), stages=2, lyapunov=1)


def root_key(settings: Settings, task: str) -> jax.Array:
  """The trials' root key, from the task's label (``problems.task_key``:
  compare's trials of the same (task, cell) are these)."""
  return problems.task_key(settings.seed, task)


def run(settings: Settings, sweeps: Sweeps = Sweeps()):
  """Every (task, cell, remedy) sweep: ``(table, records, timing)``, or
  None for a shard."""
  hp = (("lr", settings.lr), ("optimizer", settings.optimizer))

  def planned():
    for task in settings.tasks:
      for group in programs(settings, task):
        problem = settings.problem(task, group[0])
        inits = (tuple(settings.problem(task, c).net for c in group)
                 if len(group) > 1 else ())
        trial = Trial(problem, "bptt", settings.trials.stopping(), hp,
                      swept_hp=("clip",), curriculum=True, inits=inits,
                      fresh=settings.trials.training_sets == "fresh",
                      lyapunov=settings.lyapunov)
        clip, stages = zip(*map(settings.remedy, settings.remedies))
        axes = {"remedy": {"remedy_id": np.arange(len(settings.remedies)),
                           "clip": np.asarray(clip),
                           "stages": np.asarray(stages)},
                "T": np.asarray(settings.spans(task), np.float64)}
        if inits:
          axes = {"cell": {"init": np.arange(len(group))}, **axes}
        paired = ("cell", "remedy") if inits else ("remedy",)
        if settings.gain:
          axes["gain"] = np.asarray(settings.gain, np.float64)
          paired += ("gain",)
        yield series.Sweep(
            (task, group), f"{task}-{'-'.join(group)}", trial.steps(), axes,
            settings.trials.count, root_key(settings, task),
            {"chunk": settings.chunk, "block": layout.Block(BLOCK),
             "paired": paired})

  done = sweeps.series(planned())
  if done is None:
    return None
  parts = {}
  for (task, group), res in done[0]:
    keys = ("remedy_id", "T", "trial", "solved", "evaluations", "final_error",
            "test_error", "cost", "test_cost", "stage", "diverged") + (
                ("init",) if len(group) > 1 else ()) + _extra_keys(settings)
    rec = res.gather(keys)
    which = rec.pop("init", np.zeros(len(rec["T"]))).astype(int)
    for i, cell in enumerate(group):
      part = {k: v[which == i] for k, v in rec.items()}
      n = len(part["T"])
      names = np.asarray(settings.remedies)[part.pop("remedy_id").astype(int)]
      part = {"task": np.full(n, task), "cell": np.full(n, cell),
              "remedy": names, **part}
      part["T"] = part["T"].astype(np.int64)
      part["train_solved"] = part.pop("solved")
      part["solved"] = part["test_error"] == 0  # held out: module docstring
      part["sequences"] = part["evaluations"].astype(np.int64) * (
          2 * settings.trials.n_per_class)
      parts[task, cell] = part
  ordered = [parts[t, c] for t in settings.tasks for c in settings.cells]
  records = {k: np.concatenate([p[k] for p in ordered]) for k in ordered[0]}
  return summarize(records, settings), records, done[1]


def _extra_keys(settings: Settings) -> tuple[str, ...]:
  """The records' gain and Lyapunov columns, where asked for."""
  k = settings.lyapunov
  return (("gain",) if settings.gain else ()) + lyapunov.names(
      "lyapunov_init", k) + lyapunov.names("lyapunov_final", k)


def programs(settings: Settings, task: str) -> list[tuple[str, ...]]:
  """The cells of ``task`` grouped by compiled program: cells whose nets
  differ only in their initialisation (the tanh RNN's uniform, orthogonal
  and identity forms) share one, their inits a traced choice; every other
  cell is a program of its own."""
  groups: dict = {}
  for cell in settings.cells:
    net = settings.problem(task, cell).net
    layout_only = (dataclasses.replace(net, recurrent_init="uniform", name="")
                   if hasattr(net, "recurrent_init") else (cell,))
    groups.setdefault(layout_only, []).append(cell)
  return [tuple(g) for g in groups.values()]


def execute(settings: Settings, sweeps: Sweeps = Sweeps()) -> Outcome | None:
  """Runs every sweep with progress lines; the table, figure and summary
  (a replay's own: ``replay_report``)."""
  if settings.protocol != "harness":
    return replay_report.execute(settings, sweeps.labelled(
        lambda t: f"{NAME} {t}"))
  out = run(settings, sweeps.labelled(lambda t: f"{NAME} {t}"))
  if out is None:
    return None
  table, records, (compile_s, run_s) = out
  meta = {"compile_s": compile_s, "run_s": run_s,
          "runs": int(table["trials"].sum()),
          "parameters": {problems.named(t, c): settings.problem(t, c).net.size
                         for t in settings.tasks for c in settings.cells}}
  tables, fig = {"": table, "runs": records}, None
  if settings.lyapunov:
    tables["trainability"] = lyapunov.trainability(
        {**records, "success": records["test_error"] == 0},
        ("task", "cell", "remedy", "T"))
  if settings.gain:
    fig = lyapunov.figure(
        tables["trainability"], ("task", "remedy", "T"), "cell", LABELS,
        f"Held-out success against the initial exponent (gains "
        f"{flags.show(settings.gain)}, {settings.trials.count} trials each)")
  return Outcome(tables, fig or figure(table),
                 summary(table, settings, compile_s, run_s), meta)


# ---------------------------------------------------------------------------
# Flags.

def from_flags(given: flags.Given) -> Settings:
  """Explicit spans must suit every task (2-sequence: T/2 >= N); a replay
  protocol takes its own task and cells and none of the harness's options
  (``HARNESS_ONLY``)."""
  protocol = given.preset.protocol
  if protocol != "harness":
    return replay.from_flags(given, protocol, HARNESS_ONLY)
  for name in REPLAY_ONLY:
    if given.given(name):
      raise FlagError(name, "only with a replay (--preset=lstm_1997_2seq or "
                      "lstm_1997_adding)")
  if "lstm_1997" in given.value("cells"):
    raise FlagError("cells", "lstm_1997 trains under a replay protocol only "
                    "(--preset=lstm_1997_2seq or lstm_1997_adding)")
  if given.given("T_values"):
    T = given.value("T_values")
    for task in given.value("tasks"):
      need = problems.REGISTRY[problems.named(task, CELLS[0])].task.min_len
      if tasks.half_length(min(T)) < need:
        raise FlagError("T_values", f"{task} needs T/2 >= {need} (its "
                        f"prefix), got T = {min(T)}")
  linear = [c for c in given.value("cells") if c in LINEAR]
  if given.given("gain") and linear:
    raise FlagError("gain", f"{linear[0]} has no recurrent matrix to scale "
                    "(its decays are drawn on a ring)")
  k = given.value("lyapunov")
  if given.given("gain") and not k:
    raise FlagError("gain", "needs --lyapunov >= 1 (the figure bins the "
                    "trials by their initial exponent)")
  for task in given.value("tasks"):
    for cell in given.value("cells"):
      m = theory.state_size(
          problems.REGISTRY[problems.named(task, cell)].cell())
      if k > m:
        raise FlagError("lyapunov", f"must be <= {m}, the recurrent state of "
                        f"{cell} on {task}, got {k}")
  return given.settings({})


EXPERIMENT = Experiment(
    NAME, SUMMARY, Settings,
    {"default": DEFAULT, "paper": PAPER, "testing": TESTING,
     "lstm_1997_2seq": LSTM_1997_2SEQ, "lstm_1997_adding": LSTM_1997_ADDING},
    execute, TABLES, from_flags)
