"""Random weight guessing on long-lag problems (Hochreiter, Schmidhuber &
Bengio 2001; spec section 6).

"Use guessing as a first test of a benchmark problem's difficulty": draw all
weights i.i.d. uniform in [-100, 100] until the training set is solved; a
*trial* is one weight draw. Each run has its own training set, test set (the
same size) and stream of draws; its result is the number of trials to
solution (``vanishing.methods.guessing``), or *censored* when ``max_trials``
draws never solved it. The found weights are then scored on the test set.

Variants: :mod:`vanishing.experiments.guessing.variants`.

Success criteria: parity, HS2001's "absolute error at the end < 0.1" on
every training sequence; latch, every training sequence classified
correctly (the target's side of 0), ``Settings.latch_criterion``. Latch I
cannot meet the 0.1 rule: weights of order 100 saturate its unit at +-1,
0.2 from the targets +-0.8, and the variance-0.2 noise on the last input
alone moves tanh's argument by sd 0.45 against a window 0.6 wide.

Lengths: uniform in ``length_range`` (HS2001's 500..600 for parity) for
every variant; the specification gives no latch lengths, so the latch runs
use the same range. Parity runs with and without uniform input noise on
[-0.2, 0.2] (``input_noise``); the latch variants always have their
Gaussian noise.

Activations start at 0 for every sequence. The output unit reads the hidden
units' states of the same step (``Settings.order = "layered"``; see
``vanishing.methods.guessing.outputs``): with simultaneous updates no
saturated A1 net computes parity (0 of 160,000 draws solved it, against
all 8 runs within 1,621 draws layered).

Unit functions (``Settings.hidden_fn``, ``a2_output_self``): parity's hidden
units are logistic, as in Hochreiter & Schmidhuber's NIPS 1996 paper (section
1, people.idsia.ch/~juergen/nipslstm/node1.html: "All activation functions
are logistic sigmoid in [0.0,1.0]"; HS2001 do not say); A2's output has no
self-weight (HS2001: "the output unit sees all other units"); latch: tanh.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells, tasks
from vanishing.engine import layout
from vanishing.engine import series
from vanishing.engine.series import Sweeps
from vanishing.experiments import flags
from vanishing.experiments.guessing.report import (SUMMARY_COLUMNS, figure,
                                                   markdown, summarize,
                                                   summary_text)
from vanishing.experiments.guessing.variants import (HIDDEN_FNS, PUBLISHED,
                                                     VARIANTS, data, net)
from vanishing.experiments.skeleton import Experiment, Outcome
from vanishing.methods import base, guessing

NAME = "guessing"
SUMMARY = "random weight guessing on latch and parity (Hochreiter et al. 2001)"
TABLES = ("", "runs")  # guessing.csv, guessing_runs.csv

INPUT_NOISES = ("none", "uniform", "both")
# ``all``: every configuration; ``published``: those with a published mean.
SUBSETS = ("all", "published")
LATCH_CRITERIA = ("midpoint", "tolerance")
# Stable ids for the per-configuration keys (never reorder; append only).
_NOISE_IDS = {"none": 0, "uniform": 1, "gaussian": 2}

# Runs vmapped together. A block's while loop lasts until its slowest run
# stops (trials to solution are roughly geometric, so the maximum of a block
# grows with its width), while the candidate batch (Settings.batch x 100
# sequences) already fills the CPU's vector units: one run per block wastes
# nothing. Results depend on neither the block nor the chunk.
BLOCK = 1
# At most CHUNK runs per compiled call and per chunk file: a progress line
# and a resume point every few runs (Settings.chunk / --chunk overrides it).
CHUNK = 8


def chunk_size(settings: "Settings") -> int:
  """Runs per chunk: ``settings.chunk``, else the fewest chunks of at most
  ``CHUNK`` runs, equal in size, so little padding is computed (the last
  chunk is padded with copies of the last run: 10 runs in chunks of 8
  computed 16, in chunks of 5 exactly 10)."""
  if settings.chunk:
    return settings.chunk
  n = -(-settings.runs // CHUNK)
  return -(-settings.runs // n)


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of the guessing experiment (also the chunk stores' manifest).

  Attributes:
    variants: entries of ``VARIANTS``.
    runs: independent runs per configuration (own data, own draws).
    max_trials: weight draws per run before it is reported as censored.
    weight_range: ``(low, high)`` of the uniform weight draws.
    input_noise: parity input noise: ``none``, ``uniform`` (on
      [-parity_noise, parity_noise]) or ``both`` (two configurations). The
      latch variants always have Gaussian noise of variance ``latch_noise``.
    length_range: ``(min, max)`` sequence lengths, uniform on the integers,
      for every variant.
    n_per_class: training sequences per class.
    test_per_class: test sequences per class.
    seed: root seed.
    chunk: runs per compiled call (None: ``chunk_size``); never changes
      results.
    batch: candidates evaluated together; never changes results.
    tolerance: the success tolerance, ``|y - d| < tolerance``.
    latch_criterion: ``midpoint`` (classified correctly) or ``tolerance``
      for the latch variants; parity always uses ``tolerance``.
    order: ``layered`` or ``simultaneous`` unit updates.
    latch_noise: Gaussian noise variance of the latch variants.
    parity_noise: half-width of the parity variants' uniform noise.
    block: runs vmapped together; results do not depend on it.
    subset: ``all`` configurations, or only those with a ``published``
      mean (``guessing_variants.PUBLISHED``).
    hidden_fn: the parity nets' hidden unit function, ``logistic`` (the
      NIPS 1996 paper: "All activation functions are logistic sigmoid in
      [0.0,1.0]"; HS2001 do not say) or ``tanh``.
    a2_output_self: whether A2's output unit has a free self-weight
      (HS2001: "the output unit sees all other units": off).
  """
  variants: tuple[str, ...] = flags.setting(
      flags.names("nets and problems", lambda: VARIANTS), VARIANTS)
  runs: int = flags.setting(flags.integer(
      "independent runs per configuration"), 10)
  max_trials: int = flags.setting(flags.integer(
      "weight draws per run before the run is reported as censored"), 5_000)
  weight_range: tuple[float, float] = flags.setting(flags.pair(
      "range of the uniform weight draws", integer=False, form="'low,high'",
      check=lambda v: v[0] < v[1], need="low < high"), (-100.0, 100.0))
  input_noise: str = flags.setting(flags.choice(
      "parity input noise: none, uniform or both (two configurations)",
      INPUT_NOISES), "both")
  length_range: tuple[int, int] = flags.setting(flags.pair(
      "sequence lengths, uniform on the integers", integer=True,
      form="integers 'min,max'", check=lambda v: 1 <= v[0] <= v[1],
      need="1 <= min <= max"), (500, 600))
  n_per_class: int = flags.setting(flags.N_PER_CLASS, 50)
  test_per_class: int = flags.setting(flags.TEST_PER_CLASS, 50)
  seed: int = 0
  chunk: int | None = flags.setting(dataclasses.replace(
      flags.CHUNK, default_text=f"unset (at most {CHUNK} runs, in equal "
      "chunks)"), None)
  batch: int = 32
  tolerance: float = 0.1
  latch_criterion: str = "midpoint"
  order: str = "layered"
  latch_noise: float = flags.setting(flags.real(
      "variance of the latch variants' Gaussian noise (HS2001: 0.2)",
      low=0.0), 0.2)
  parity_noise: float = flags.setting(flags.real(
      "half-width of the parity variants' uniform input noise", low=0.0), 0.2)
  block: int = BLOCK
  subset: str = flags.setting(flags.choice(
      "all configurations, or only those with a published mean (the "
      "1.5-minute part of --paper)", SUBSETS), "all")
  hidden_fn: str = flags.setting(flags.choice(
      "the parity nets' hidden unit function (NIPS 1996: all units "
      "logistic; HS2001 silent)", HIDDEN_FNS), "logistic")
  a2_output_self: bool = flags.setting(flags.boolean(
      "give A2's output unit a free self-weight (HS2001: the output 'sees "
      "all other units')"), False)

  def __post_init__(self):
    bad = [v for v in self.variants if v not in VARIANTS]
    if bad or not self.variants:
      raise ValueError(f"variants must be among {VARIANTS}, got {self.variants}")
    if self.input_noise not in INPUT_NOISES:
      raise ValueError(f"input_noise must be one of {INPUT_NOISES}")
    if self.latch_criterion not in LATCH_CRITERIA:
      raise ValueError(f"latch_criterion must be one of {LATCH_CRITERIA}")
    if self.subset not in SUBSETS:
      raise ValueError(f"subset must be one of {SUBSETS}")
    if not (self.latch_noise >= 0 and self.parity_noise >= 0):
      raise ValueError("latch_noise and parity_noise must be >= 0")
    if self.hidden_fn not in HIDDEN_FNS:
      raise ValueError(f"hidden_fn must be one of {HIDDEN_FNS}")
    if self.order not in cells.ORDERS:
      raise ValueError(f"order must be one of {cells.ORDERS}")
    if not self.weight_range[0] < self.weight_range[1]:
      raise ValueError(f"weight_range needs low < high, got {self.weight_range}")
    if not 1 <= self.length_range[0] <= self.length_range[1]:
      raise ValueError(f"length_range needs 1 <= min <= max, got {self.length_range}")
    for f in ("runs", "max_trials", "n_per_class", "test_per_class", "batch",
              "block"):
      if getattr(self, f) < 1:
        raise ValueError(f"{f} must be >= 1, got {getattr(self, f)}")

  def configurations(self) -> list[tuple[str, str]]:
    """``(variant, noise kind)`` of every sweep, in table order."""
    parity = {"none": ("none",), "uniform": ("uniform",),
              "both": ("none", "uniform")}[self.input_noise]
    every = [(v, n) for v in self.variants
             for n in (("gaussian",) if v.startswith("latch") else parity)]
    if self.subset == "published":
      every = [c for c in every if c in PUBLISHED]
    return every


# 10 runs, censored at 5,000 draws (minutes; docs/guessing.md).
DEFAULT = Settings()
# HS2001's scale: 40 runs per configuration ("mean of 40 simulations"),
# censored at 200,000 draws, about 5 times the largest published mean
# (A1 with noise, 41,400), so a mean is an estimate. ``--paper --subset
# published`` runs the six configurations with a published mean; A2 and A2
# without self-connections *with* noise (no published number) take most of
# the rest (none censored; times in docs/guessing.md).
PAPER = Settings(runs=40, max_trials=200_000)
# Seconds, for the tests: short sequences, a few runs.
TESTING = Settings(variants=("latch1", "parity_a1"), runs=4, max_trials=200,
                   input_noise="uniform", length_range=(8, 12), n_per_class=5,
                   test_per_class=5, batch=16)


# ---------------------------------------------------------------------------
# One run.

@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Static settings of one run (hashable; closed over by the sweep)."""
  variant: str
  noise_kind: str
  lengths: tuple[int, int]
  n_per_class: int
  test_per_class: int
  max_trials: int
  low: float
  high: float
  batch: int
  tolerance: float
  criterion: str
  order: str
  hidden_fn: str = "logistic"
  a2_output_self: bool = False


def run_config(settings: Settings, variant: str, noise_kind: str) -> RunConfig:
  crit = ("tolerance" if variant.startswith("parity")
          else settings.latch_criterion)
  return RunConfig(variant, noise_kind, tuple(settings.length_range),
                   settings.n_per_class, settings.test_per_class,
                   settings.max_trials, float(settings.weight_range[0]),
                   float(settings.weight_range[1]), settings.batch,
                   settings.tolerance, crit, settings.order,
                   settings.hidden_fn, settings.a2_output_self)


def run_net(cfg: RunConfig) -> cells.Net:
  """The net a run of ``cfg`` guesses the weights of."""
  return net(cfg.variant, cfg.order, cfg.hidden_fn, cfg.a2_output_self)


def run_one(key: jax.Array, swept: Mapping[str, jax.Array], cfg: RunConfig
            ) -> dict[str, jax.Array]:
  """One run: guess until the training set is solved, score the test set.

  ``swept["noise"]`` is the noise scale. Returns scalars: ``solved``,
  ``trials`` (draws made: index of the solving draw + 1, or ``max_trials``),
  ``train_cost`` (of the found weights; of the best draw if censored),
  ``test_error_tol`` (fraction of test sequences with ``|y - d| >=
  tolerance``) and ``test_error_mid`` (on the wrong side of the targets'
  midpoint); both test errors are NaN for a censored run.
  """
  k_train, k_test, k_search = jax.random.split(key, 3)
  noise = tasks.Noise(cfg.noise_kind, swept["noise"])
  nt = run_net(cfg)
  train = data(cfg.variant, k_train, cfg.n_per_class, cfg.lengths, noise)
  test = data(cfg.variant, k_test, cfg.test_per_class, cfg.lengths, noise)
  hp = {"low": cfg.low, "high": cfg.high, "batch": cfg.batch,
        "criterion": cfg.criterion, "tolerance": cfg.tolerance}
  r = guessing.search(k_search, nt, train, base.Budget(evaluations=cfg.max_trials),
                      hp)
  y = cells.forward_many(nt, r.theta[None], test.inputs, test.lengths,
                         test.classes)[0]
  score = lambda crit: jnp.where(r.solved, jnp.mean(guessing.failures(
      y, test.targets, crit, cfg.tolerance)), jnp.nan)
  return {"solved": r.solved, "trials": r.evaluations, "train_cost": r.cost,
          "test_error_tol": score("tolerance"),
          "test_error_mid": score("midpoint")}


def tag(variant: str, noise_kind: str) -> str:
  """The name of a configuration's sweep (its chunk store's subdirectory)."""
  return f"{variant}_{noise_kind}"


def _noise_scale(settings: Settings, kind: str) -> float:
  return {"none": 0.0, "uniform": settings.parity_noise,
          "gaussian": settings.latch_noise}[kind]


# ---------------------------------------------------------------------------
# Running.

def run(settings: Settings, sweeps: Sweeps = Sweeps()):
  """One sweep per (variant, noise) configuration.

  Returns ``(table, records, timing)``: the summary columns, an iterator of
  per-run record pieces (with ``variant`` and ``input_noise`` columns), and
  the summed timings; None on a process other than 0 of a multi-process
  sweep. Configuration (v, n) draws from ``fold_in(fold_in(key(seed),
  index of v in VARIANTS), id of n)``, so adding or removing a
  configuration leaves the others unchanged.
  """
  root = jax.random.key(settings.seed)

  def planned():
    for variant, kind in settings.configurations():
      cfg = run_config(settings, variant, kind)
      key = jax.random.fold_in(jax.random.fold_in(
          root, VARIANTS.index(variant)), _NOISE_IDS[kind])
      yield series.Sweep(
          (variant, kind, cfg), tag(variant, kind),
          functools.partial(run_one, cfg=cfg),
          {"noise": np.asarray([_noise_scale(settings, kind)])},
          settings.runs, key,
          {"chunk": chunk_size(settings),
           "block": layout.Block(settings.block)})

  done = sweeps.series(planned())
  if done is None:
    return None
  rows, results = [], []
  for (variant, kind, cfg), res in done[0]:
    keys = ("solved", "trials", "test_error_tol", "test_error_mid")
    parts = [{k: np.asarray(p[k]) for k in keys} for p in res.iter_chunks()]
    rec = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    rows.append(summarize(variant, kind, run_net(cfg).size, cfg.criterion,
                          rec))
    results.append((variant, kind, res))
  table = {c: np.asarray([r[c] for r in rows]) for c in SUMMARY_COLUMNS}
  return table, _records(results), done[1]


RUN_COLUMNS = ("variant", "input_noise", "run", "noise", "solved", "trials",
               "train_cost", "test_error_tol", "test_error_mid")


def _records(results) -> Iterator[dict[str, np.ndarray]]:
  for variant, kind, res in results:
    for part in res.iter_chunks():
      n = len(part["run"])
      extra = {"variant": np.full(n, variant), "input_noise": np.full(n, kind)}
      yield {c: extra[c] if c in extra else np.asarray(part[c])
             for c in RUN_COLUMNS}


def execute(settings: Settings, sweeps: Sweeps = Sweeps()) -> Outcome | None:
  """Runs every configuration with progress lines; builds the outputs."""
  out = run(settings, sweeps.labelled(lambda t: f"{NAME} {t}"))
  if out is None:
    return None
  table, records, timing = out
  pieces = list(records)  # one int/float row per run: small
  solved_trials = {}
  for p in pieces:
    key = (str(p["variant"][0]), str(p["input_noise"][0])) if len(p["run"]) else None
    if key is not None:
      t = p["trials"][np.asarray(p["solved"], bool)]
      solved_trials[key] = np.concatenate([solved_trials.get(key, []), t])
  for v, n in zip(table["variant"], table["input_noise"]):
    solved_trials.setdefault((str(v), str(n)), np.zeros(0))
  meta = {"configurations": len(table["variant"]),
          "runs": int(table["runs"].sum()),
          "compile_s": timing.compile_s, "run_s": timing.run_s,
          "sweep": {"chunk": chunk_size(settings)}}
  return Outcome({"": table, "runs": iter(pieces)},
                 figure(table, solved_trials, settings),
                 summary_text(table, settings, timing), meta,
                 markdown=markdown(table, settings))


# ---------------------------------------------------------------------------
# Flags.

EXPERIMENT = Experiment(
    NAME, SUMMARY, Settings,
    {"default": DEFAULT, "paper": PAPER, "testing": TESTING}, execute, TABLES)
