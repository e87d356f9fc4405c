"""Forward propagation (RTRL) and local-feedback nets beside BPTT.

The paper's landscape of recurrent training (slides 2-3): back-propagation
through time; forward propagation (real-time recurrent learning, Williams &
Zipser 1989), "computationally more expensive but local in time, can be
applied for online learning"; and local-feedback networks (Gori, Bengio &
De Mori 1989; Mozer 1989), "computational requirement proportional to
number of weights. However, has limited storage capabilities". Three
measurements, one table each:

* ``rtrl_gradcheck.csv``: RTRL's gradient against BPTT's (``jax.grad``) in
  float64 on one drawn training set of every problem's net, the largest
  relative difference ``max_i |g_rtrl - g_bptt|_i / max_i |g_bptt|_i``;
* ``rtrl_cost.csv``: seconds per sequence step and compiled temporary bytes
  of one gradient of 1,000 sequences of ``cost_T`` steps, against the number of
  units n: BPTT, generic RTRL and its approximations SnAp-1 and UORO on the
  fully recurrent net (``cells.full_net(n)``, n^2 weights), RTRL's local
  recursion on the local-feedback net of n units (4n - 3 weights); the
  exponents of least-squares lines of log(seconds) and log(bytes) on log(n)
  over ``fit_from`` <= n;
* ``rtrl.csv``: success frequency (Wilson 95%) and evaluations against T,
  compare's protocol and trials (``compare.run``): BPTT, batch and online
  RTRL on the fully recurrent nets of latch, 2-sequence and parity, and both
  RTRL modes on the local-feedback nets of the same problems (the
  2-sequence one with as many units as the fully recurrent net: its
  "limited storage" shows there); the approximations (``approximations``:
  SnAp-1 and UORO by default) on the fully recurrent latch and 2-sequence
  nets (``APPROX_PROBLEMS``; parity is solved by no method beyond T = 4 at
  this budget, so it would add time and no contrast).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells, problems, tasks
from vanishing.engine.series import Sweeps
from vanishing.experiments import compare, flags
from vanishing.experiments.rtrl.report import figure, summary
from vanishing.experiments.skeleton import Experiment, Outcome
from vanishing.experiments.trial import Trials
from vanishing.methods import rtrl as rtrl_method
from vanishing.methods import snap1, uoro

NAME = "rtrl"
SUMMARY = "RTRL (batch, online) and local-feedback nets beside BPTT"
TABLES = ("", "gradcheck", "cost", "runs")

FULL = ("latch", "two_sequence", "parity")
LOCAL = ("latch_local", "two_sequence_local", "parity_local")
COST_METHODS = ("bptt", "rtrl", "rtrl_local", "snap1", "uoro")
# The forward-mode approximations of RTRL (``methods.snap1``,
# ``methods.uoro``) and the fully recurrent nets of the success table they
# train.
APPROXIMATIONS = ("snap1", "uoro")
APPROX_PROBLEMS = ("latch", "two_sequence")
# Sequences per class of the cost table: at the training sets' 25 per class
# every gradient up to n = 32 took the same ~0.5 us per step (dispatch, not
# arithmetic), so no exponent could be read off.
COST_PER_CLASS = 500


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of the RTRL experiment.

  Attributes:
    T: spans of the success table (``compare``'s, per problem: 2-sequence
      spans below 2N are undecidable and dropped).
    trials: compare's trials for ``rtrl.csv`` (``Trials``).
    seed: root seed.
    grad_T: spans of the gradient check.
    units: unit counts n of the cost table.
    cost_T: sequence length of the cost table.
    fit_from: smallest n of the exponent fits.
    chunk: compare's runs per compiled call.
    problems: the problems of the gradient check and the success table
      (of ``FULL`` and ``LOCAL``).
    approximations: the RTRL approximations (of ``APPROXIMATIONS``) in the
      success table, on the problems of ``APPROX_PROBLEMS``.
  """
  T: tuple[int, ...] = flags.setting(flags.grid(
      "spans T of the success table", integer=True, low=2, noun="every T",
      name="T_values"), (4, 8, 16))
  trials: Trials = flags.nested(Trials(16, budget=500, patience=200))
  seed: int = 0
  grad_T: tuple[int, ...] = (4, 16)
  units: tuple[int, ...] = flags.setting(flags.grid(
      "unit counts n of the cost table", integer=True, low=2,
      noun="every n"), (2, 4, 8, 16, 32))
  cost_T: int = flags.setting(flags.integer(
      "sequence length of the cost table", low=2), 20)
  fit_from: int = 8
  chunk: int | None = flags.setting(flags.CHUNK, None)
  problems: tuple[str, ...] = FULL + LOCAL
  approximations: tuple[str, ...] = flags.setting(flags.names(
      "RTRL approximations in the success table (on the fully recurrent "
      "latch and 2-sequence nets)", lambda: APPROXIMATIONS), APPROXIMATIONS)

  def compare_settings(self, problem_names, method_names) -> compare.Settings:
    spans = tuple((p, tuple(t for t in self.T if tasks.half_length(t) >= 3))
                  for p in problem_names if p.startswith("two_sequence"))
    return compare.Settings(problems=tuple(problem_names),
                            methods=tuple(method_names), T=self.T,
                            T_by_problem=spans, trials=self.trials,
                            seed=self.seed, chunk=self.chunk)


DEFAULT = Settings()
PAPER = Settings(T=(10, 20, 40, 80),
                 trials=Trials(100, budget=20000, patience=5000),
                 grad_T=(10, 50), units=(2, 4, 8, 16, 32, 64), cost_T=50)
# One problem of each kind (5 compiled sweeps, not 15; tests/methods/
# test_rtrl.py checks the gradient on every net).
TESTING = Settings(T=(8,), trials=Trials(2, budget=20, patience=20),
                   grad_T=(8,), units=(2, 4), cost_T=5, fit_from=2,
                   problems=("latch", "parity_local"))


# ---------------------------------------------------------------------------
# The gradient check.

def gradcheck(settings: Settings) -> dict[str, np.ndarray]:
  """Max relative difference of RTRL's and BPTT's gradients, float64."""
  rows = []
  with jax.enable_x64(True):
    for pname in settings.problems:
      for T in settings.grad_T:
        if tasks.half_length(T) < problems.REGISTRY[pname].task.min_len:
          continue
        prob = problems.Problem(pname, T)
        key = jax.random.fold_in(jax.random.key(settings.seed), T)
        fit, _, theta = prob.draw(key)
        fit = dataclasses.replace(fit, batch=jax.tree_util.tree_map(
            lambda x: x.astype(jnp.float64)
            if jnp.issubdtype(x.dtype, jnp.floating) else x, fit.batch))
        theta = theta.astype(jnp.float64)
        bind = lambda b: problems.Fit(fit.net, b, fit.task)
        _, _, g = jax.jit(lambda b, th: rtrl_method.gradient(bind(b), th))(
            fit.batch, theta)
        want = jax.jit(lambda b, th: jax.grad(bind(b).cost)(th))(fit.batch,
                                                                theta)
        diff = float(jnp.max(jnp.abs(g - want)) / jnp.max(jnp.abs(want)))
        rows.append({"problem": pname, "cell": fit.net.name, "T": T,
                     "weights": int(theta.shape[0]),
                     "recursion": ("local" if rtrl_method.is_local(fit.net)
                                   else "generic"),
                     "max_rel_diff": diff})
  return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}


# ---------------------------------------------------------------------------
# The cost against n.

def _cost_case(method: str, n: int, T: int, seed: int):
  """``(gradient function, fit, theta)`` of one cost measurement."""
  net = (cells.local_feedback_net(n - 1) if method == "rtrl_local"
         else cells.full_net(n, name=f"full{n}"))
  prob = problems.Problem("two_sequence", T)
  batch = prob.data(jax.random.key(seed), COST_PER_CLASS)
  fit = problems.Fit(net, batch, prob.task)
  theta = net.init(jax.random.key(seed + 1), 0.5)
  bind = lambda b: problems.Fit(net, b, prob.task)
  if method == "bptt":
    f = lambda b, th: jax.value_and_grad(bind(b).cost)(th)
  elif method == "snap1":
    f = lambda b, th: snap1.gradient(bind(b), th)
  elif method == "uoro":
    key = jax.random.key(seed + 2)
    f = lambda b, th: uoro.gradient(bind(b), th, key)
  else:
    f = lambda b, th: rtrl_method.gradient(bind(b), th)
  return f, fit, theta


def _slopes(table, column: str, fit_from: int) -> dict[str, float]:
  """Per method, the slope of log(``column``) on log(n) over n >=
  ``fit_from`` (least squares; methods with fewer than two positive
  values left out)."""
  fits = {}
  for method in dict.fromkeys(table["method"]):
    sel = ((table["method"] == method) & (table["n"] >= fit_from)
           & (table[column] > 0))
    if sel.sum() >= 2:
      fits[method] = float(np.polyfit(np.log(table["n"][sel]),
                                      np.log(table[column][sel]), 1)[0])
  return fits


def cost(settings: Settings, repeats: int = 3) -> tuple[dict, dict, dict]:
  """Seconds per sequence step and temporary bytes against n:
  ``(table, time exponents, memory exponents)``."""
  rows = []
  for method in COST_METHODS:
    for n in settings.units:
      f, fit, theta = _cost_case(method, n, settings.cost_T, settings.seed)
      compiled = jax.jit(f).lower(fit.batch, theta).compile()
      jax.block_until_ready(compiled(fit.batch, theta))
      best = np.inf
      for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(fit.batch, theta))
        best = min(best, time.perf_counter() - t0)
      mem = compiled.memory_analysis()
      steps = fit.batch.inputs.shape[1] * settings.cost_T
      rows.append({"n": n, "method": method, "weights": int(theta.shape[0]),
                   "seconds_per_step": best / steps,
                   "peak_bytes": int(getattr(mem, "temp_size_in_bytes", 0))})
  table = {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
  fits = _slopes(table, "seconds_per_step", settings.fit_from)
  memory = _slopes(table, "peak_bytes", settings.fit_from)
  table["exponent"] = np.asarray([fits.get(m, np.nan) for m in table["method"]])
  table["memory_exponent"] = np.asarray([memory.get(m, np.nan)
                                         for m in table["method"]])
  return table, fits, memory


# ---------------------------------------------------------------------------
# Success against T, and the whole experiment.

def success(settings: Settings, sweeps: Sweeps = Sweeps()):
  """``compare.run`` of the fully recurrent and the local-feedback nets:
  ``(table, records, timing)``, or None for a shard."""
  parts = []
  for kind, names in ((FULL, ("bptt", "rtrl", "rtrl_online")),
                      (LOCAL, ("rtrl", "rtrl_online")),
                      (APPROX_PROBLEMS, settings.approximations)):
    chosen = [p for p in settings.problems if p in kind]
    if chosen and names:
      parts.append(compare.run(settings.compare_settings(chosen, names),
                               sweeps))
  if any(p is None for p in parts):
    return None
  join = lambda i: {k: np.concatenate([p[i][k] for p in parts])
                    for k in parts[0][i]}
  return (join(0), join(1), (sum(p[2][0] for p in parts),
                             sum(p[2][1] for p in parts)))


def execute(settings: Settings, sweeps: Sweeps = Sweeps()) -> Outcome | None:
  """The three tables, the figure and a summary."""
  t0 = time.perf_counter()
  out = success(settings, sweeps.labelled(lambda t: f"{NAME} {t}"))
  if out is None:
    return None
  table, records, (compile_s, run_s) = out
  check = gradcheck(settings)
  costs, fits, memory = cost(settings)
  meta = {"compile_s": compile_s, "run_s": run_s,
          "seconds": time.perf_counter() - t0, "exponents": fits,
          "memory_exponents": memory,
          "max_rel_diff": float(np.max(check["max_rel_diff"])),
          "sweep": {"chunk": settings.chunk}}
  return Outcome({"": table, "gradcheck": check, "cost": costs,
                  "runs": records}, figure(table, costs, fits, memory),
                 summary(table, check, costs, fits, memory, compile_s, run_s),
                 meta)


EXPERIMENT = Experiment(
    NAME, SUMMARY, Settings,
    {"default": DEFAULT, "paper": PAPER, "testing": TESTING}, execute, TABLES)
