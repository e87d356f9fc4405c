"""Training methods compared on latch, 2-sequence and parity: Section VI, Table I.

For each problem, each method and each span T of a grid, many trials. A
trial draws a training set (``n_per_class`` sequences per class, lengths
uniform in [ceil(T/2), T], input noise), a test set of the same law and the
initial parameters (uniform in [-0.5, 0.5]); the method trains until the
protocol of :mod:`vanishing.methods.base` stops it. Reported per (problem,
method, T): the final classification error on the training and test sets,
the cost, function evaluations and sequence presentations, and how many
trials were solved, stuck or diverged.

All methods see the same trials: a trial's data and initial parameters come
from ``fold_in(root, run)`` with ``root = problems.task_key(seed, task)``
(from the task's label: every cell on a task sees the same data) and
``run = T index x trials + trial``, and do not depend on the method. Each (problem,
method) is one compiled sweep over T x trials: every T is padded to the
largest T of the grid (sequences keep their own lengths; the padding steps
leave the state unchanged), so a grid compiles once per method and problem.
A trial is written as its method's loop (:class:`Trial`, in ``trial.py``, a
``vanishing.engine.runs.Steps``), so the engine gives each of ``BLOCK`` lanes the
next trial as soon as its own stops, instead of running every block of
trials as long as its slowest one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from vanishing import methods, problems, statistics, tasks
from vanishing.engine import series
from vanishing.engine.series import Sweeps
from vanishing.experiments import flags
from vanishing.experiments.compare.report import figure, markdown, quote_lines
from vanishing.experiments.flags import FlagError
from vanishing.experiments.skeleton import Experiment, Outcome
from vanishing.experiments.trial import Trial, Trials, check_training_sets
from vanishing.tasks import NOISE_KINDS

NAME = "compare"
SUMMARY = "training methods on latch, 2-sequence and parity (Table I)"
TABLES = ("", "runs")  # compare.csv, compare_runs.csv

# Lanes of trials per device on a CPU (the width sets the numerics, see
# sweep.BLOCK; a GPU's is its own, vanishing.engine.layout). A trial's cost per
# lane hardly depends on the width, so fewer lanes waste less on trials
# that stopped; 8 refilled lanes ran the default compare fastest of the
# widths measured (benchmarks/methods_speed.py --compare; the figures in
# docs/performance.md).
BLOCK = 8

def _hparams(flag: str, text: str) -> tuple:
  """``--hparams=method.name=value,...`` as ``((method, name, value), ...)``,
  each value checked against its method's ``ALLOWED``."""
  if not text.strip():
    return ()
  out = []
  for item in text.split(","):
    lhs, eq, value = item.partition("=")
    method, dot, name = lhs.strip().partition(".")
    if not (eq and dot and name and value.strip()):
      raise FlagError(flag, f"expected method.name=value, got {item!r}")
    if method not in methods.available():
      raise FlagError(flag, f"unknown method {method!r}; choose from "
                      f"{', '.join(methods.available())}")
    allowed = methods.get(method).allowed
    if name not in allowed:
      raise FlagError(flag, f"{method} has no {name!r}; known: "
                      f"{', '.join(sorted(allowed))}")
    try:
      v = allowed[name].parse(value)
    except ValueError as e:
      raise FlagError(flag, f"{method}.{name} {e}") from None
    out.append((method, name, v))
  return tuple(out)


def _spans_shown(st) -> str:
  return flags.show(st.T) + "".join(f" ({p}: {flags.show(t)})"
                                    for p, t in st.T_by_problem)


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of the comparison (everything that decides its numbers).

  Attributes:
    tasks, cells: the problems are every registered pair of ``tasks`` x
      ``cells`` (``vanishing.problems.PAIRS``; the paper's three tasks on
      its own nets by default)...
    problems: ... unless problems are named here (``problems.REGISTRY``).
    methods: method names (``vanishing.methods.NAMES``).
    T: spans, integers >= 2, for every problem not in ``T_by_problem``.
    T_by_problem: ``((problem, spans), ...)``: a problem's own spans.
    trials: how many trials, their sets and stopping rule (``Trials``).
    seed: root seed.
    hparams: method hyper-parameter overrides, ``((method, name, value),
      ...)``.
    noise_kind, noise_scale: input noise law (``tasks.Noise``).
    N: 2-sequence prefix length.
    curriculum: stages of growing span (``experiments.trial``); 1: none.
    chunk: runs per compiled call (memory bound; never changes results).
    preset: the named preset the settings started from (``--preset``;
      empty: default or paper).
    quotes: keys of ``compare_report.PAPER_QUOTES`` this setting is compared
      with in a section of its own (mean evaluations to solution per method
      and T, pooled over T; ``compare_report.quote_sections``).
  """
  tasks: tuple[str, ...] = flags.setting(flags.names(
      "tasks, each with every cell of --cells it is registered with",
      lambda: problems.TASK_LABELS), problems.PROBLEMS)
  cells: tuple[str, ...] = flags.setting(flags.names(
      "cells (paper: the paper's own net of each task)",
      lambda: problems.CELL_LABELS), ("paper",))
  problems: tuple[str, ...] = flags.setting(flags.names(
      "problems by name instead of --tasks x --cells",
      lambda: tuple(problems.REGISTRY), allowed="a list of registered "
      "problems: a task's name for the paper's net (latch), else "
      "task_cell (latch2_elman, parity_local, ...)"), ())
  methods: tuple[str, ...] = flags.setting(
      flags.names("training methods", methods.available), methods.PAPER_NAMES)
  T: tuple[int, ...] = flags.setting(flags.grid(
      "spans T, for every problem (unset: the preset's, per problem)",
      integer=True, low=2, noun="every T", name="T_values",
      default_text=_spans_shown), (4, 8, 16, 32))
  T_by_problem: tuple = (("two_sequence", (8, 16, 32)),)
  trials: Trials = flags.nested(Trials())
  seed: int = 0
  hparams: tuple = flags.setting(flags.Flag(
      kind=str, help="method hyper-parameters", allowed="method.name=value,"
      "... (each method's DEFAULTS and ALLOWED)", parse=_hparams,
      metavar="LIST"), ())
  noise_kind: str = flags.setting(
      flags.choice("input noise law", NOISE_KINDS), "uniform")
  noise_scale: float = flags.setting(flags.real(
      "uniform noise half-width or gaussian variance", low=0, high=1), 0.2)
  N: int = 3
  curriculum: int = flags.setting(flags.integer(
      "train in this many stages of growing span (a stage ends solved, "
      "stuck or at its share of the budget; 1: no curriculum)"), 1)
  chunk: int | None = flags.setting(flags.CHUNK, None)
  preset: str = ""
  quotes: tuple = ()

  def problem_names(self) -> tuple[str, ...]:
    """The problems run, in order: ``problems``, else every registered
    pair of ``tasks`` x ``cells``."""
    return self.problems or tuple(
        problems.PAIRS[t, c] for t in self.tasks for c in self.cells
        if (t, c) in problems.PAIRS)

  def spans(self, problem: str) -> tuple[int, ...]:
    """The spans T run for ``problem``: its own, else those of its task's
    name (two_sequence's spans serve 2-sequence problems on other cells)."""
    own = dict(self.T_by_problem)
    return own.get(problem, own.get(problems.REGISTRY[problem].task.name,
                                    self.T))

  def problem(self, name: str) -> problems.Problem:
    return problems.Problem(
        name, max(self.spans(name)), self.trials.n_per_class,
        self.trials.test_per_class,
        tasks.Noise(self.noise_kind, self.noise_scale), self.N)

  def hp(self, method: str) -> dict[str, Any]:
    return {k: v for m, k, v in self.hparams if m == method}


# Spans double from 4, where BPTT still solves a third of the parity and
# latch trials, to 32. The 2-sequence net's output hears the input one step
# late, so a sequence no longer than the prefix (N = 3) can be undecidable
# (every method stalled near 0.09 error at T = 5, lengths 3..5): its spans
# start at 8, lengths 4..8. Minutes on a laptop (docs/compare.md).
DEFAULT = Settings()
# The paper's scale: spans 10..100, 100 trials per cell and a budget above
# the paper's 810,000 evaluations of annealing on parity. Days on 2 CPU
# cores: each (problem, method) runs 800 trials of at least the patience
# (50,000 evaluations), >= 4e7 evaluations, at 800-11,000 evaluations/s at
# T = 100 (benchmarks/methods_speed.py); meant for --devices and
# multi-process sweeps.
PAPER = Settings(T=(10, 20, 30, 40, 50, 60, 80, 100), T_by_problem=(),
                 trials=Trials(100, budget=1000000, patience=50000))
TESTING = Settings(tasks=("latch", "parity"), methods=("bptt",), T=(4, 8),
                   T_by_problem=(("parity", (8,)),),
                   trials=Trials(4, budget=60, patience=60))
# The latch as HS2001 (guessing2001/node3.html) describes the 1994 latch
# behind its "1600 trials": Gaussian noise of variance 0.2 on every element
# but the first; the paper's spans 10..100 and methods; solved as HS2001's
# "every training sequence classified correctly" (any error-free point has
# cost < 0.32 with targets +-0.8, so target_cost 0.5 asks nothing more).
# BUILD_NOTES.md, "Deviations and choices", has each choice's effect.
LATCH_1994 = Settings(tasks=("latch",), T=(10, 20, 40, 60, 100),
                      T_by_problem=(), trials=Trials(
                          48, budget=10000, patience=2000, target_cost=0.5),
                      noise_kind="gaussian",
                      quotes=(("latch", None),))
# Parity where the paper quotes discrete error propagation (HS2001,
# node4.html: "about 54000 trials to achieve final classification error of
# 0.05", lengths 25..50, uniform noise 0.2, one hidden and one output unit):
# T = 50, the threshold net the paper's method trains (parity_sign) beside
# the tanh net (parity), random guessing as the baseline; the quoted 54,000
# evaluations as the budget, stuck after 5,000. docs/compare.md, "Discrete
# error propagation at the paper's parity setting".
PARITY_1994 = Settings(tasks=("parity",), cells=("sign", "paper"),
                       methods=("discrete", "guessing"), T=(50,),
                       T_by_problem=(), trials=Trials(32, budget=54000,
                                                      patience=5000),
                       quotes=(("parity", "discrete"),))
# The named presets beside default, paper and testing (--preset=NAME; other
# flags still override them).
PRESETS: dict[str, Settings] = {
    "latch_1994": LATCH_1994,
    "parity_1994": PARITY_1994,
}


def root_key(settings: Settings, problem: str) -> jax.Array:
  """The trials' root key: from the problem's task label
  (``problems.task_key``), so every cell on a task sees the same trials."""
  return problems.task_key(settings.seed, problems.REGISTRY[problem].pair[0])


def tag(problem: str, method: str) -> str:
  return f"{problem}-{method}"


def run(settings: Settings, sweeps: Sweeps = Sweeps()):
  """Runs every (problem, method) sweep; returns ``(table, runs, timing)``.

  ``sweeps`` runs them (one per (problem, method), tagged
  ``problem-method``).

  Returns None on a process other than 0 of a multi-process sweep.
  """
  budget = settings.trials.stopping()
  for pname in settings.problem_names():  # refuse a (method, cell) pair early
    for mname in settings.methods:
      methods.check_supported(mname, settings.problem(pname).net)
      methods.check_task(mname, settings.problem(pname).task)

  def planned():
    for pname in settings.problem_names():
      problem = settings.problem(pname)
      for mname in settings.methods:
        staged = settings.curriculum > 1
        fn = Trial(problem, mname, budget, tuple(settings.hp(mname).items()),
                   curriculum=staged,
                   fresh=settings.trials.training_sets == "fresh").steps()
        axes = {"T": np.asarray(settings.spans(pname), np.float64)}
        if staged:
          axes["stages"] = np.asarray([settings.curriculum], np.float64)
        yield series.Sweep(
            (pname, mname), tag(pname, mname), fn, axes,
            settings.trials.count, root_key(settings, pname),
            {"chunk": settings.chunk,
             "block": methods.block(mname, BLOCK)})

  done = sweeps.series(planned())
  if done is None:
    return None
  runs = []
  for (pname, mname), res in done[0]:
    rec = res.gather()
    n = len(rec["run"])
    rec = {"problem": np.full(n, pname), "method": np.full(n, mname),
           "T": rec["T"].astype(np.int64), "trial": rec["trial"],
           **{k: rec[k] for k in ("final_error", "test_error", "cost",
                                  "test_cost", "evaluations", "solved",
                                  "stuck", "diverged")}}
    rec["presentations"] = rec["evaluations"].astype(np.int64) * (
        2 * settings.trials.n_per_class)
    runs.append(rec)
  records = {k: np.concatenate([r[k] for r in runs]) for k in runs[0]}
  return summarize(records), records, done[1]


def summarize(rec: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """One row per (problem, method, T): means, spreads and counts."""
  rows = []
  for (p, m, T), sel in statistics.groups(rec, ("problem", "method", "T")):
    ev = rec["evaluations"][sel].astype(np.float64)
    solved = rec["solved"][sel].astype(bool)
    n = int(sel.sum())
    rate, _, lo, hi = statistics.wilson(solved.sum(), n)
    err, terr = rec["final_error"][sel], rec["test_error"][sel]
    rows.append({"problem": p, "method": m, "T": int(T), "trials": n,
                 "final_error": err.mean(), "final_error_sd": statistics.sd(err),
                 "test_error": terr.mean(), "test_error_sd": statistics.sd(terr),
                 "cost": rec["cost"][sel].mean(), "evaluations": ev.mean(),
                 "evaluations_sd": statistics.sd(ev),
                 "evaluations_median": np.median(ev),
                 "presentations": rec["presentations"][sel].mean(),
                 "solved": int(solved.sum()), "solved_rate": float(rate),
                 "solved_lo": float(lo), "solved_hi": float(hi),
                 "evaluations_solved": (ev[solved].mean() if solved.any()
                 else np.nan),
                 "stuck": int(rec["stuck"][sel].sum()),
                 "diverged": int(rec["diverged"][sel].sum())})
  return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}


def execute(settings: Settings, sweeps: Sweeps = Sweeps()) -> Outcome | None:
  """Runs the comparison with progress lines; tables, figure and report."""
  out = run(settings, sweeps.labelled(lambda t: f"{NAME} {t}"))
  if out is None:
    return None
  table, records, (compile_s, run_s) = out
  names = settings.problem_names()
  runs = sum(len(settings.spans(p)) for p in names)
  w = max([13] + [len(p) for p in names])  # the problem column
  lines = [f"{NAME}: {len(names)} problems x {len(settings.methods)}"
           f" methods, {runs} (problem, T) cells x {settings.trials.count} trials "
           f"(compile {compile_s:.1f} s, run {run_s:.1f} s)",
           f"{'problem':{w}s} {'method':21s} {'T':>4s} {'error':>6s} "
           f"{'test':>6s} {'evals':>9s} {'solved':>7s} {'stuck':>5s} {'div':>4s}"]
  for i in range(len(table["T"])):
    lines.append(
        f"{table['problem'][i]:{w}s} {table['method'][i]:21s} {table['T'][i]:4d} "
        f"{table['final_error'][i]:6.3f} {table['test_error'][i]:6.3f} "
        f"{table['evaluations'][i]:9.0f} {table['solved_rate'][i]:7.2f} "
        f"{table['stuck'][i]:5d} {table['diverged'][i]:4d}")
  lines += quote_lines(records, settings)
  meta = {"compile_s": compile_s, "run_s": run_s,
          "runs": int(table["trials"].sum()),
          "sweep": {"chunk": settings.chunk},
          "hparams": {m: {**methods.get(m).defaults, **settings.hp(m)}
                      for m in settings.methods}}
  return Outcome({"": table, "runs": records}, figure(table),
                 "\n".join(lines), meta, markdown(table, settings, records))


def _check_pairs(task_labels, cell_labels) -> None:
  """FlagError naming a task (or cell) that pairs with none of the cells
  (or tasks) given."""
  for flag, mine, other, side in (("tasks", task_labels, cell_labels, 0),
                                  ("cells", cell_labels, task_labels, 1)):
    for label in mine:
      partners = [p[1 - side] for p in problems.PAIRS if p[side] == label]
      if not set(partners) & set(other):
        raise FlagError(flag, f"{label} is registered with "
                        f"{', '.join(partners)} only, none of --"
                        f"{'cells' if side == 0 else 'tasks'}")


def from_flags(given: flags.Given) -> Settings:
  """``--problems`` or ``--tasks``/``--cells``, each task and cell in a
  registered pair; every (method, problem) pair supported; explicit spans
  apply to every problem; two_sequence needs spans whose sequences outlast
  its prefix. A named preset is recorded (``preset``) for the report."""
  changes: dict[str, Any] = {
      "methods": tuple(m for m in given.value("methods")
                       if m in methods.available()),
      "preset": given.preset_name if given.preset_name in PRESETS else ""}
  crossed = given.given("tasks") or given.given("cells")
  if crossed and given.given("problems"):
    raise FlagError("problems", "not with --tasks or --cells (either names "
                    "the problems); give one of them")
  if crossed:
    changes["problems"] = ()
    _check_pairs(given.value("tasks"), given.value("cells"))
  names = given.settings(changes).problem_names()
  for pname in names:
    spec = problems.REGISTRY[pname]
    cell = spec.cell()
    for mname in changes["methods"]:
      try:
        methods.check_supported(mname, cell)
        methods.check_task(mname, spec.task)
      except ValueError as e:
        raise FlagError("methods", f"{e} (problem {pname})") from None
  check_training_sets(given.value("training_sets"), changes["methods"])
  if given.given("T_values"):
    T, N = given.value("T_values"), given.preset.N
    for pname in names:  # the 2-sequence task, any cell
      if (problems.REGISTRY[pname].task.min_len_option == "N"
          and tasks.half_length(min(T)) < N):
        raise FlagError("T_values", f"{pname} needs T/2 >= N = {N} (its "
                        f"prefix), got T = {min(T)}")
    changes["T_by_problem"] = ()
  return given.settings(changes)


EXPERIMENT = Experiment(
    NAME, SUMMARY, Settings,
    {"default": DEFAULT, "paper": PAPER, "testing": TESTING, **PRESETS},
    execute, TABLES, from_flags)
