"""Function evaluations per second of every training method.

For each method (any name in ``vanishing.methods.available()``) and problem,
``--trials`` independent trials of ``--evaluations`` function evaluations at
span ``--T``, vmapped and jitted as the ``compare`` experiment runs them:
each trial draws its training set and initial point, then ``solve`` runs
with its default hyper-parameters and ``base.Budget(evaluations=N,
patience=N)``, so only a solved trial stops early. ``--hp METHOD.KEY=VALUE``
(repeatable) overrides one hyper-parameter of one method.

    python benchmarks/methods_speed.py [--T 50] [--trials 64]
        [--evaluations 200] [--methods bptt,pseudo_newton]
        [--problems parity,two_sequence] [--hp pseudo_newton.curvature=exact]

evaluations/s = evaluations counted over all trials (``Result.evaluations``)
/ run seconds, compile time apart (timed by ahead-of-time lowering and
compilation). What one evaluation costs differs between methods (a cost
alone, or with its gradient, or with gradient and curvature): this is the
wall-clock price of the paper's unit on this machine.

``--compare`` times instead the sweeps of ``python -m vanishing compare``
(its default settings, every (problem, method), the stopping protocol on),
before and after in one process: *before*, the engine ``vmap``-ing the
one-trial function over blocks of ``--before_block`` trials, each block
running until its slowest trial stops; *after*, the engine as ``compare``
runs it (``compare.Trial.steps()``: lanes refilled as trials stop,
``compare.BLOCK`` lanes, or the method's own ``LANES``). Both on every device; ``--json FILE`` writes the
rows.

    python benchmarks/methods_speed.py --compare [--trials 24]
        [--problems latch,parity] [--methods bptt,discrete] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

import jax
import numpy as np

from vanishing import methods, problems
from vanishing.methods import base


TRIALS_DEFAULT = 64
PROBLEMS_DEFAULT = "parity,two_sequence"


def parse_hp(items: list[str]) -> dict[str, dict]:
  """``["m.key=value", ...]`` -> ``{m: {key: value}}`` (int, float or str)."""
  out: dict[str, dict] = {}
  for item in items:
    target, _, value = item.partition("=")
    name, _, key = target.partition(".")
    if not (name and key and value):
      raise SystemExit(f"--hp wants METHOD.KEY=VALUE, got {item!r}")
    for kind in (int, float, str):
      try:
        parsed = kind(value)
        break
      except ValueError:
        continue
    out.setdefault(name, {})[key] = parsed
  return out


def measure(name: str, problem: problems.Problem, trials: int,
            evaluations: int, seed: int = 0, hp: dict | None = None) -> dict:
  """Compile and run seconds, evaluations counted and solved fraction."""
  m = methods.get(name)
  budget = base.Budget(evaluations=evaluations, patience=evaluations)

  def trial(key):
    fit, _, theta0 = problem.draw(key)
    r = m.solve(jax.random.fold_in(key, 1), fit, theta0, budget, hp)
    return r.evaluations, r.solved, r.diverged

  keys = jax.random.split(jax.random.key(seed), trials)
  t0 = time.perf_counter()
  compiled = jax.jit(jax.vmap(trial)).lower(keys).compile()
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  evals, solved, diverged = jax.block_until_ready(compiled(keys))
  run_s = time.perf_counter() - t0
  total = int(np.sum(evals))
  return {"compile_s": compile_s, "run_s": run_s, "evaluations": total,
          "rate": total / run_s, "solved": float(np.mean(solved)),
          "diverged": float(np.mean(diverged))}


def compare_sweeps(trials: int | None, problem_names: list[str],
                   method_names: list[str], before_block: int,
                   path: str | None) -> None:
  """Run seconds of compare's sweeps, vmapped blocks against refilled lanes."""
  from vanishing.engine import sweep
  from vanishing.experiments import compare
  st = compare.DEFAULT
  if trials:
    st = dataclasses.replace(st, trials=dataclasses.replace(st.trials,
                                                            count=trials))
  t = st.trials
  print(f"compare sweeps, {t.count} trials per T, budget {t.budget}, "
        f"patience {t.patience}; before: vmap over {before_block} trials; "
        f"after: {compare.BLOCK} refilled lanes; {jax.device_count()} devices")
  print(f"{'problem':<14}{'method':<22}{'before s':>9}{'after s':>9}"
        f"{'ratio':>7}{'evals before':>13}{'evals after':>12}", flush=True)
  rows, total = [], [0.0, 0.0]
  for pname in problem_names:
    problem = st.problem(pname)
    axes = {"T": np.asarray(st.spans(pname), np.float64)}
    for mname in method_names:
      steps = compare.Trial(problem, mname, t.stopping()).steps()
      one = lambda k, s, steps=steps: steps(k, s)  # a plain RunFn: vmapped
      key = compare.root_key(st, pname)
      old = sweep.run(one, axes, t.count, key, block=before_block)
      new = sweep.run(steps, axes, t.count, key,
                      block=methods.lanes(mname, compare.BLOCK))
      row = {"problem": pname, "method": mname, "before_s": old.run_s,
             "after_s": new.run_s, "ratio": old.run_s / new.run_s,
             "before_compile_s": old.compile_s,
             "after_compile_s": new.compile_s,
             "evaluations_before": int(old.records["evaluations"].sum()),
             "evaluations_after": int(new.records["evaluations"].sum())}
      rows.append(row)
      total[0] += old.run_s
      total[1] += new.run_s
      print(f"{pname:<14}{mname:<22}{old.run_s:>9.2f}{new.run_s:>9.2f}"
            f"{row['ratio']:>7.2f}{row['evaluations_before']:>13d}"
            f"{row['evaluations_after']:>12d}", flush=True)
  print(f"{'all':<36}{total[0]:>9.1f}{total[1]:>9.1f}"
        f"{total[0] / total[1]:>7.2f}")
  if path:
    with open(path, "w") as f:
      json.dump({"rows": rows, "before_s": total[0], "after_s": total[1],
                 "ratio": total[0] / total[1],
                 "devices": jax.device_count()}, f, indent=1)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--T", type=int, default=50)
  ap.add_argument("--trials", type=int, default=TRIALS_DEFAULT)
  ap.add_argument("--evaluations", type=int, default=200)
  ap.add_argument("--methods", default=",".join(methods.available()),
                  help="comma-separated; default: every available method")
  ap.add_argument("--problems", default=PROBLEMS_DEFAULT)
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--hp", action="append", default=[],
                  help="METHOD.KEY=VALUE, e.g. pseudo_newton.curvature=exact")
  ap.add_argument("--compare", action="store_true",
                  help="time compare's sweeps before/after (see above)")
  ap.add_argument("--before_block", type=int, default=32)
  ap.add_argument("--json", default=None, help="--compare: write rows here")
  args = ap.parse_args()
  hps = parse_hp(args.hp)
  names = [s for s in args.methods.split(",") if s]
  for name in names:
    methods.get(name)  # fail early on an unknown name
  if args.compare:
    probs = (args.problems.split(",") if args.problems != PROBLEMS_DEFAULT
             else list(problems.PROBLEMS))
    compare_sweeps(args.trials if args.trials != TRIALS_DEFAULT else None,
                   probs, names, args.before_block, args.json)
    return
  print(f"device: {jax.devices()[0].device_kind}; T = {args.T}, "
        f"{args.trials} trials x {args.evaluations} evaluations budget"
        + (f"; hp {hps}" if hps else ""))
  print(f"{'method':<22}{'problem':<14}{'compile s':>10}{'run s':>9}"
        f"{'evals':>9}{'evals/s':>11}{'solved':>8}{'diverged':>9}")
  for pname in args.problems.split(","):
    problem = problems.Problem(pname, args.T)
    for name in names:
      try:
        r = measure(name, problem, args.trials, args.evaluations, args.seed,
                    hps.get(name))
      except Exception as e:  # a method under construction: report, go on
        print(f"{name:<22}{pname:<14} failed: {type(e).__name__}: {e}",
              flush=True)
        continue
      print(f"{name:<22}{pname:<14}{r['compile_s']:>10.1f}{r['run_s']:>9.2f}"
            f"{r['evaluations']:>9d}{r['rate']:>11.4g}{r['solved']:>8.2f}"
            f"{r['diverged']:>9.2f}", flush=True)


if __name__ == "__main__":
  main()
