"""Benchmark problems as (task, cell) pairs: the registry and one span's set-up.

``REGISTRY`` maps a problem name to a :class:`Spec`: a task of
``vanishing.tasks.TASKS`` (with its targets and options) and a cell of
``vanishing.cells``, labelled as the pair ``(task, cell)`` (``PAIRS``,
:func:`named`) -- the paper's three problems of Section VI, then the
variants of the random-guessing study, the local-feedback nets, the
remedies and the tasks that followed. Adding a problem is one ``_add`` line.
A problem's random keys derive from its task's label (:func:`task_key`),
not from its place in the registry.

A :class:`Problem` fixes everything static about one problem at one span T:
the sequence generator (``vanishing.tasks``), the network
(``vanishing.cells``), the training and test set sizes and the input noise.
A :class:`Fit` binds a network to one drawn training set and evaluates the
paper's cost and the classification error there; it is what every method in
``vanishing.methods`` optimizes.

Cost (a function evaluation in the paper's unit is one such cost over the
whole training set):

    C(theta) = 1/(2B) sum_b (y_b(theta) - d_b)^2,

with ``y_b`` the network output at sequence b's own end. A sequence is
misclassified when ``y_b`` lies on the other side of the midpoint of the two
targets than ``d_b``.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from vanishing import cells, tasks
from vanishing.tasks import followed

# The parity net (paper: 2 units, 6 weights and a hidden bias, no output
# bias) is built layered with a logistic output and 0/1 targets, as HS2001's
# A1. With no output bias a tanh output with +-targets makes the saturated
# net odd in its inputs while parity is even, and with simultaneous updates
# the output would have to compute XOR(previous parity, bit) alone: of
# 20,000 random draws per training set (4 sets, lengths 10..20) none solved
# parity in any of those three forms, while layered + logistic solved each
# set within 655..2,151 draws (python benchmarks/parity_forms.py).
PARITY_TARGETS = (1.0, 0.0)


@dataclasses.dataclass(frozen=True)
class Spec:
  """A registered problem: a task paired with the cell that learns it.

  Attributes:
    task: the task (with its targets and options).
    cell: builds the cell.
    summary: one line.
    pair: ``(task label, cell label)``: what ``--tasks`` and ``--cells``
      name (``"paper"``: the paper's own net for its task); the task label
      derives the problem's keys (:func:`task_key`).
  """
  task: tasks.Task
  cell: Callable[[], cells.Cell]
  summary: str
  pair: tuple[str, str]


_parity = tasks.get("parity").with_targets(PARITY_TARGETS)
_latch2 = (tasks.get("latch").with_options(first=(1.0, -1.0))
           .with_targets((1.0, -1.0)))
_TASKS = {"latch": tasks.get("latch"), "latch2": _latch2,
          "two_sequence": tasks.get("two_sequence"), "parity": _parity,
          "adding": tasks.get("adding"), "copying": tasks.get("copying"),
          "two_sequence_1997": tasks.get("two_sequence_1997"),
          "adding_1997": tasks.get("adding_1997")}
# name -> problem, in the order of listings. A problem's name is its task's
# label, with ``_<cell>`` unless the cell is the paper's own net.
REGISTRY: dict[str, Spec] = {}


def _add(task: str, cell: str, make: Callable[[], cells.Cell], summary: str,
         name: str | None = None, task_value: tasks.Task | None = None) -> None:
  name = name or (task if cell == "paper" else f"{task}_{cell}")
  REGISTRY[name] = Spec(task_value or _TASKS[task], make, summary,
                        (task, cell))


_add("latch", "paper", cells.latch_net, "the 3-parameter latch (Section VI)")
_add("two_sequence", "paper", cells.two_sequence_net,
     "the 2-sequence problem, 5 units, 25 weights")
_add("parity", "paper", functools.partial(cells.parity_net, "logistic"),
     "parity, 2 units (layered, logistic output), 7 weights")
# The random-guessing study (Hochreiter, Schmidhuber & Bengio 2001); latch1
# is its name for the paper's latch.
_add("latch", "paper", cells.latch_net, "HS2001 latch I: the 3-parameter "
     "latch", name="latch1")
_add("latch2", "paper", cells.latch2_net,
     "HS2001 latch II: first input +-1, 3 weights")
_add("parity", "a1", cells.parity_a1, "HS2001 parity A1, 7 weights")
_add("parity", "a2", cells.parity_a2, "HS2001 parity A2, 53 weights")
_add("parity", "a2_noself", functools.partial(cells.parity_a2,
                                              self_loops=False),
     "HS2001 A2 without hidden self-loops, 43 weights")
# docs/extending.md's worked example: a cell written from scratch on a paper task.
_add("latch2", "elman", functools.partial(cells.Elman, n=4),
     "latch II on a 4-unit Elman net, 29 weights")
# Local-feedback nets (Gori, Bengio & De Mori 1989; Mozer 1989) on the
# paper's three tasks: hidden self-loops only, a feed-forward output.
_add("latch", "local", functools.partial(
    cells.local_feedback_net, 1, class_inputs=True, name="latch_local"),
    "latch, local feedback, 1 hidden + 1 output, 7 weights (the 1-unit "
    "latch: 3)")
_add("two_sequence", "local", functools.partial(
    cells.local_feedback_net, 4, name="two_sequence_local"),
    "2-sequence, local feedback, 4 hidden + 1 output, 17 weights (fully "
    "recurrent: 25)")
_add("parity", "local", functools.partial(
    cells.local_feedback_net, 2, "logistic", name="parity_local"),
    "parity, local feedback, 2 hidden + 1 logistic output, 9 weights (fully "
    "recurrent: 7)")
# The remedies (Hochreiter & Schmidhuber 1997, Cho et al. 2014, Saxe et al.
# 2014, Le et al. 2015) and the plain tanh RNN on latch II (first inputs +-1,
# targets +-1: a gated cell has no trainable class inputs), 2-sequence
# (targets +-0.8, tanh output) and parity (targets 1/0, logistic output),
# every cell with n = 4 hidden units so that they compare at one size
# (parameters: LSTM 101, LSTM without forget gate 77, GRU 77, tanh RNN 29).
GATED = ("lstm", "lstm_noforget", "gru", "rnn_orthogonal", "rnn_identity")
for _task, _output, _what in (("latch2", "tanh", "latch II"),
                              ("two_sequence", "tanh", "2-sequence"),
                              ("parity", "logistic", "parity")):
  for _cell in GATED + (() if _task == "latch2" else ("elman",)):
    _make = functools.partial(cells.CELLS[_cell], n=4, output=_output)
    _add(_task, _cell, _make, f"{_what} on a 4-unit {_cell} ({_output} "
         f"output), {_make().size} weights")
# The tasks that followed the paper (``tasks.followed``): ``adding`` (2
# input channels, a linear output) and ``copying`` (10 one-hot input
# channels, 9 linear outputs: logits of the blank and the 8 symbols).
for _task, _kw in (("adding", dict(inputs=2, output="linear")),
                   ("copying", dict(inputs=followed.CHANNELS,
                                    outputs=followed.OUTPUTS,
                                    output="linear"))):
  for _cell in ("elman",) + GATED:
    _make = functools.partial(cells.CELLS[_cell], n=4, **_kw)
    _add(_task, _cell, _make,
         f"{_task} on a 4-unit {_cell}, {_make().size} weights")
# The diagonal linear recurrences (Orvieto et al. 2023's LRU and the
# minimal real one) on the same tasks, at LINEAR_UNITS states (the LRU:
# complex states and features alike): a linear recurrence stores its past
# in superposition, so it needs more states than a gated cell for the same
# memory (BUILD_NOTES, "Deviations and choices").
LINEAR_UNITS = 16
LINEAR = ("lru", "linear_diag")
for _task, _kw in (("latch2", dict(output="tanh")),
                   ("two_sequence", dict(output="tanh")),
                   ("parity", dict(output="logistic")),
                   ("adding", dict(inputs=2, output="linear")),
                   ("copying", dict(inputs=followed.CHANNELS,
                                    outputs=followed.OUTPUTS,
                                    output="linear"))):
  for _cell in LINEAR:
    _make = functools.partial(cells.CELLS[_cell], n=LINEAR_UNITS, **_kw)
    if _cell == "lru":
      _make = functools.partial(_make, width=LINEAR_UNITS, encoder=True)
    _add(_task, _cell, _make, f"{_task} on a {LINEAR_UNITS}-state {_cell}, "
         f"{_make().size} weights")
# The LSTM paper's experiments 3a and 4 on its own nets (Hochreiter &
# Schmidhuber 1997): 3 blocks of 1 cell (3a, 102 weights) and 2 blocks of
# 2 cells (adding, 93 weights), its gate biases, a logistic output; beside them a
# GRU of 4 units and the identity-initialised tanh RNN with the LSTM's
# hidden-unit count (9 and 8), at about the same weight count.
LSTM_1997_NETS = {
    "two_sequence_1997": dict(
        lstm_1997=functools.partial(cells.LSTM1997, blocks=3, block_size=1,
                                    input_bias=(-1.0, -3.0, -5.0),
                                    output_bias=(-2.0, -4.0, -6.0),
                                    output_unit_bias=False),
        gru=functools.partial(cells.GRU, n=4, output="logistic"),
        rnn_identity=functools.partial(cells.CELLS["rnn_identity"], n=9,
                                       output="logistic")),
    "adding_1997": dict(
        lstm_1997=functools.partial(cells.LSTM1997, blocks=2, block_size=2,
                                    inputs=2, input_bias=(-3.0, -6.0)),
        gru=functools.partial(cells.GRU, n=4, inputs=2, output="logistic"),
        rnn_identity=functools.partial(cells.CELLS["rnn_identity"], n=8,
                                       inputs=2, output="logistic"))}
for _task, _nets in LSTM_1997_NETS.items():
  for _cell, _make in _nets.items():
    _add(_task, _cell, _make, f"HS97's {_task} on a {_cell}, "
         f"{_make().size} weights")
# Parity as a threshold network, the forward pass of the paper's discrete
# error propagation (units y = sign(x)): 0/1 bits, +-1 states from -1,
# targets +1 odd / -1 even, the same 7 weights (docs/compare.md).
_add("parity", "sign", cells.parity_sign_net, "parity, 2 threshold (sign) "
     "units, 0/1 bits, 7 weights", task_value=_parity.with_options(
         coding="01").with_targets((1.0, -1.0)))
# The paper's three problems of Section VI (compare's default).
PROBLEMS = ("latch", "two_sequence", "parity")
# (task, cell) -> the problem's name (the first registered for the pair).
PAIRS: dict[tuple[str, str], str] = {}
for _name, _spec in REGISTRY.items():
  PAIRS.setdefault(_spec.pair, _name)
TASK_LABELS = tuple(dict.fromkeys(t for t, _ in PAIRS))
CELL_LABELS = tuple(dict.fromkeys(c for _, c in PAIRS))


def named(task: str, cell: str) -> str:
  """The problem of ``task`` learnt by ``cell``; ValueError naming the
  cells registered for the task where the pair is not."""
  if (task, cell) not in PAIRS:
    known = [c for t, c in PAIRS if t == task]
    raise ValueError(f"no problem pairs task {task!r} with cell {cell!r}"
                     + (f"; its cells: {', '.join(known)}" if known else
                        f"; tasks: {', '.join(TASK_LABELS)}"))
  return PAIRS[task, cell]


def task_key(seed: int, task: str) -> jax.Array:
  """The root key of the trials of ``task`` (a task label):
  ``fold_in(key(seed), crc32(task) mod 2^31)``, from its name alone, so a
  new problem moves no other problem's numbers and every cell on one task
  sees the same trials."""
  return jax.random.fold_in(jax.random.key(seed),
                            zlib.crc32(task.encode()) & 0x7FFFFFFF)


@dataclasses.dataclass(frozen=True)
class Problem:
  """One benchmark problem at span ``T`` (static, hashable).

  Attributes:
    name: one of ``PROBLEMS``.
    T: span; lengths by the task's law (the paper's tasks: uniform in
      [ceil(T/2), T]; ``tasks.Task.bounds``).
    n_per_class: training sequences per class (half the set, for a task
      without classes).
    test_per_class: test sequences per class.
    noise: input noise law (the paper: uniform on [-0.2, 0.2]).
    N: 2-sequence prefix length (needs ceil(T/2) >= N).
    init_scale: initial parameters uniform in [-init_scale, init_scale].
  """
  name: str
  T: int
  n_per_class: int = 25
  test_per_class: int = 100
  noise: tasks.Noise = tasks.Noise("uniform", 0.2)
  N: int = 3
  init_scale: float = 0.5

  def __post_init__(self):
    if self.name not in REGISTRY:
      raise ValueError(f"unknown problem {self.name!r}; choose from "
                       f"{', '.join(REGISTRY)}")
    if self.T < 2:
      raise ValueError(f"T must be >= 2, got {self.T}")
    task = self.task
    if task.bounds(self.T)[0] < task.min_len:
      need = (f"ceil(T/2) >= {task.min_len_option}" if task.min_len_option
              else f"sequences of >= {task.min_len} steps")
      raise ValueError(f"{self.name} needs {need} = {task.min_len}, got "
                       f"T = {self.T}")
    if self.n_per_class < 1 or self.test_per_class < 1:
      raise ValueError("n_per_class and test_per_class must be >= 1")

  @property
  def net(self) -> cells.Cell:
    return REGISTRY[self.name].cell()

  @property
  def task(self) -> tasks.Task:
    """The registered task, with this problem's prefix length N where the
    task has one."""
    task = REGISTRY[self.name].task
    if "N" in dict(task.options):
      task = task.with_options(N=self.N)
    return task

  def data(self, key: jax.Array, n_per_class: int, span=None
           ) -> tasks.SequenceBatch:
    """A set of ``2 * n_per_class`` sequences of this problem.

    Lengths follow the task's law (``tasks.Task.bounds``: the paper's
    ``ceil(T/2)..T``; ``T`` for a ``fixed`` task). ``span`` (may be traced,
    <= ``T``) replaces ``T`` as the span of the lengths while the arrays keep
    the steps of span ``T``: one compiled sweep then covers every span up
    to ``T``.
    """
    task = self.task
    lo, hi = task.bounds(self.T if span is None
                         else jnp.asarray(span).astype(jnp.int32))
    return task.sample(key, n_per_class, lo, hi, self.noise,
                       task.bounds(self.T)[1])

  def draw(self, key: jax.Array, span=None, inits=(), choice=None
           ) -> tuple["Fit", "Fit", jax.Array]:
    """Training fit, test fit and initial parameters of one trial.

    With ``inits`` (cells of this net's parameter layout that differ only
    in how they initialise it, as the tanh RNN's uniform, orthogonal and
    identity forms), the initial parameters are ``inits[choice]``'s draw
    for a traced ``choice``: one compiled program serves them all, each
    draw bit for bit the cell's own.
    """
    k_train, k_test, k_init = jax.random.split(key, 3)
    net = self.net
    if inits:
      theta0 = jnp.stack([c.init(k_init, self.init_scale) for c in inits])[
          jnp.asarray(choice).astype(jnp.int32)]
    else:
      theta0 = net.init(k_init, self.init_scale)
    return (Fit(net, self.data(k_train, self.n_per_class, span), self.task),
            Fit(net, self.data(k_test, self.test_per_class, span), self.task),
            theta0)


class Eval(NamedTuple):
  cost: jax.Array
  error: jax.Array


@dataclasses.dataclass(frozen=True)
class Fit:
  """A network bound to one set of sequences, scored by the task's rules
  (``tasks.Task``: cost, misclassification; the paper's tasks use the
  paper's, the adding and copying problems their own)."""
  net: cells.Cell
  batch: tasks.SequenceBatch
  task: tasks.Task = tasks.CLASSIFICATION

  @property
  def size(self) -> int:
    """Sequences in the set (presentations per function evaluation)."""
    return self.batch.targets.shape[0]

  def outputs(self, theta: jax.Array) -> jax.Array:
    """Outputs at each sequence's end ``(B,)``, or at every step ``(T, B)``
    for a task whose readout is ``every`` (``(B, K)``, ``(T, B, K)`` for a
    cell with K outputs)."""
    b = self.batch
    return cells.run(self.net, theta, b.inputs, b.lengths, b.classes,
                     every_step=self.task.readout == "every")

  def _mask(self):
    return tasks.mask(self.batch) if self.task.readout == "every" else None

  def cost(self, theta: jax.Array) -> jax.Array:
    """The task's cost (the paper's ``C = 1/(2B) sum_b (y_b - d_b)^2``);
    ``theta`` may be per-step ``(T, P)``."""
    return self.task.loss(self.outputs(theta), self.batch.targets,
                          self._mask())

  def misclassified(self, y: jax.Array) -> jax.Array:
    return self.task.misclassified(y, self.batch.targets)

  def evaluate(self, theta: jax.Array) -> Eval:
    """Cost and classification error (fraction of sequences) at ``theta``."""
    y = self.outputs(theta)
    d, m = self.batch.targets, self._mask()
    return Eval(self.task.loss(y, d, m), self.task.error(y, d, m))
