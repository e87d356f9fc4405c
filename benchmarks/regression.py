"""Reproduction regression: pinned per-run outcomes of fixed-seed experiments.

Runs small, fixed-seed configurations of every experiment (each method on
each problem, the density and length sweeps, the theory, random guessing)
and compares them with ``benchmarks/reference.json``:

    python benchmarks/regression.py            # check (exit 1 if anything moved)
    python benchmarks/regression.py --update   # rewrite the reference

**What may move.** With the same seed on the same platform every number is
reproduced bit for bit. What a same-seed rerun must tolerate elsewhere is a
last-bit difference (another CPU, XLA version or compiled program) that
chaotic training amplifies into a different outcome for a few fragile runs,
not a new sample. The bands are therefore *measured*: ``--update`` runs every
stochastic check twice, once as pinned and once at another block width (the
runs vmapped together: 128 instead of 512 lanes for density and length, 1
instead of 32 for compare, 2 instead of 1 for guessing), which changes the
compiled reductions and nothing else -- a pure last-bit perturbation. From
the per-run differences ``d_i`` between the two (a flipped outcome is
``d_i = +-1``) and the a-priori range ``R`` of the per-run quantity, a mean
over ``n`` runs (a rate is the mean of outcome bits, ``R = 1``) gets the band

    band = max(4 sqrt(sum_i d_i^2), 2 R) / n,

four standard deviations of a sum of independent per-run perturbations of
the measured size, and never less than two runs moving across their whole
range. Each group of runs also pins ``changed_runs``, the number of runs
whose outcome differs from the reference run by run (a new sample or a new
key derivation moves few rates but flips many runs), allowed up to
``2 F + 4 sqrt(F) + 2`` for the ``F`` runs the perturbation flipped.
Closed-form and deterministic values keep a relative band of 1e-6.

The reference stores every group's per-run outcomes and values, so a failure
can be traced to runs, and ``tests/benchmarks/test_regression.py`` shows on the stored
reference that a 5-point shift of any density cell or length point and a 2x
change of a guessing mean each fail.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

REFERENCE = Path(__file__).with_name("reference.json")


class Quantity(NamedTuple):
  name: str
  value: float
  band: float
  why: str


class Group(NamedTuple):
  """The runs of one pinned configuration.

  ``outcome``: per-run bits (converged, solved); ``rate``: the name of their
  mean; ``values``: per-run quantity name -> (values, a-priori range width).
  """
  name: str
  rate: str
  outcome: np.ndarray
  values: dict


def exact(name: str, value: float) -> Quantity:
  return Quantity(name, float(value), max(1e-6 * abs(value), 1e-12),
                  "deterministic, relative 1e-6")


def group_means(g: Group) -> dict[str, tuple[np.ndarray, float]]:
  """Every mean a group pins: its outcome rate and its per-run values."""
  return {g.rate: (np.asarray(g.outcome, np.float64), 1.0),
          **{k: (np.asarray(v, np.float64), r) for k, (v, r) in g.values.items()}}


def calibrated(g: Group, other: Group) -> list[Quantity]:
  """The group's means with bands from the perturbed replicate ``other``,
  and its ``changed_runs`` allowance."""
  out = []
  for key, (x, R) in group_means(g).items():
    y, _ = group_means(other)[key]
    n = len(x)
    band = max(4 * math.sqrt(float(np.sum((x - y) ** 2))), 2 * R) / n
    out.append(Quantity(f"{g.name}.{key}", float(x.mean()), band,
                        f"calibrated: {int(np.sum(x != y))} of {n} runs "
                        "moved at another block width"))
  F = int(np.sum(g.outcome != other.outcome))
  allowed = math.ceil(2 * F + 4 * math.sqrt(F) + 2)
  out.append(Quantity(f"{g.name}.changed_runs", 0.0, float(allowed),
                      f"calibrated: {F} of {len(g.outcome)} outcomes flipped "
                      "at another block width"))
  return out


def measured_numbers(g: Group, ref_runs: dict | None) -> dict[str, float]:
  """The group's means and, against the stored runs, ``changed_runs``."""
  out = {f"{g.name}.{k}": float(x.mean()) for k, (x, _) in group_means(g).items()}
  if ref_runs is not None:
    ref = group_from_json(g.name, ref_runs).outcome
    mine = np.asarray(g.outcome, bool)
    out[f"{g.name}.changed_runs"] = (float(np.sum(ref != mine))
                                     if len(ref) == len(mine) else math.inf)
  return out


def runs_json(g: Group) -> dict:
  return {"rate": g.rate,
          "outcome": "".join("1" if b else "0" for b in np.asarray(g.outcome, bool)),
          "values": {k: [round(float(x), 9) for x in np.asarray(v)]
                     for k, (v, _) in g.values.items()},
          "ranges": {k: r for k, (_, r) in g.values.items()}}


def group_from_json(name: str, runs: dict) -> Group:
  """A group rebuilt from the reference (for tests that inject shifts)."""
  return Group(name, runs["rate"], np.array([c == "1" for c in runs["outcome"]]),
               {k: (np.asarray(v, np.float64), runs["ranges"][k])
                for k, v in runs["values"].items()})


# --- The checks: each returns (groups, exact quantities) ----------------------
# ``perturb`` asks for the calibration replicate at another block width.

def density_checks(perturb=False):
  """Convergence density at six cells of the default protocol, 512 trials."""
  from vanishing.experiments.latch import density
  st = dataclasses.replace(density.DEFAULT, w0=(0.5, 1.5, 3.0), s=(0.0, 0.5),
                           trials=512)
  sweeps = _sibling("regression_trials").perturbed(perturb, 128)
  _, res = density.run(st, sweeps)
  return _latch_groups("density", res.records, ("w0", "s"), st.config.epochs), []


def length_checks(perturb=False):
  """Frequency of convergence at three lengths, 512 trials (one block each)."""
  from vanishing.experiments.latch import length
  st = dataclasses.replace(length.DEFAULT, T=(5, 15, 30), trials=512)
  sweeps = _sibling("regression_trials").perturbed(perturb, 128)
  _, records, _ = length.run(st, sweeps)
  rec = _concat(list(records))
  return _latch_groups("length", rec, ("T",), st.config.epochs,
                       rate="frequency"), []


def _latch_groups(exp, rec, keys, epochs, rate="density"):
  cells = dict.fromkeys(zip(*(rec[k].tolist() for k in keys)))
  out = []
  for cell in cells:
    sel = np.all([rec[k] == v for k, v in zip(keys, cell)], axis=0)
    conv = np.asarray(rec["converged"][sel], bool)
    epoch = np.where(conv, rec["epoch"][sel], epochs)
    label = ",".join(f"{k}={v:g}" for k, v in zip(keys, cell))
    out.append(Group(f"{exp}[{label}]", rate, conv,
                     {"epochs_to_converge": (epoch, float(epochs))}))
  return out


def theory_checks(perturb=False):
  """Attractors, contraction and escape thresholds (closed forms), and the
  measured decay rate of the state Jacobian."""
  from vanishing import theory
  from vanishing.experiments.latch import gradients
  w = np.array([1.25, 1.5, 2.0, 3.0])
  out = []
  for wi, a, m, h in zip(w, theory.attractor(w),
                         theory.contraction_at_attractor(w),
                         theory.escape_threshold(w)):
    out += [exact(f"theory[w={wi:g}].attractor", a),
            exact(f"theory[w={wi:g}].contraction", m),
            exact(f"theory[w={wi:g}].escape_threshold", h)]
  table, _, _ = gradients.decay(gradients.DEFAULT)
  out += [exact(f"gradients[w={wi:g}].measured_rate", r)
          for wi, r in zip(table["w"], table["measured_rate"])]
  return [], out


def lyapunov_checks(perturb=False):
  """The latch's Lyapunov exponent against its closed form log M'(a_bar):
  ``theory.lyapunov_exponents`` in float64 on the attractor (w > 1), and
  the density sweep's per-run ``lyapunov_init`` (float32) at w0 <= 1 with
  no input (the state stays at a* = 0: log w0, to float32's rounding).
  Pinned: each exponent, and the float64 one's gap to the closed form."""
  import jax
  from vanishing import cells, theory
  from vanishing.experiments.latch import density
  out = []
  for w in (1.25, 1.5, 2.0, 3.0):
    a = float(theory.attractor(w))
    with jax.enable_x64(True):
      lam = float(theory.lyapunov_exponents(cells.latch_net(), [w, a, -a],
                                            np.zeros(40))[0])
    gap = lam - float(np.log(theory.contraction_at_attractor(w)))
    out += [exact(f"lyapunov[w={w:g}].exponent", lam),
            exact(f"lyapunov[w={w:g}].closed_form_gap", gap)]
  st = dataclasses.replace(
      density.TESTING, w0=(0.5, 0.75), s=(0.0,), trials=2, lyapunov=1,
      config=dataclasses.replace(density.TESTING.config, h_init=0.0,
                                 epochs=1))
  rec = density.run(st)[1].gather(("w0", "lyapunov_init"))
  for w0 in st.w0:
    out.append(exact(f"lyapunov[density,w0={w0:g}].exponent",
                     float(rec["lyapunov_init"][rec["w0"] == w0][0])))
  return [], out


def compare_checks(perturb=False):
  """Every method on every problem at two spans (benchmarks/
  regression_trials.py): fraction solved, final error and evaluations."""
  return [Group(*g) for g in _sibling("regression_trials").compare_runs(
      perturb)], []


def _sibling(name: str):
  """The module ``benchmarks/<name>.py`` (this file also runs as a script
  and is loaded by path in tests/benchmarks/test_regression.py)."""
  import importlib.util
  spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(
      f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def guessing_checks(perturb=False):
  """Random weight guessing (benchmarks/regression_guessing.py): solved
  fraction and mean log10 draws per short-sequence configuration, 40 runs;
  and the reconciled paper-scale means, banded by their sampling error
  (not measured for the perturbed replicate, whose exact numbers are unused)."""
  rg = _sibling("regression_guessing")
  groups = [Group(name, "solved", solved, {"log10_trials": (x, R)})
            for name, solved, x, R in rg.testing_runs(perturb)]
  return groups, [] if perturb else [Quantity(*q) for q in rg.reconciled()]


def remedies_checks(perturb=False):
  """Solved fraction, evaluations and test cost per (task, cell, remedy, T)
  (benchmarks/regression_trials.py)."""
  return [Group(*g) for g in _sibling("regression_trials").remedies_runs(
      perturb)], []


def linear_checks(perturb=False):
  """The LRU and linear_diag on adding and copying: solved fraction,
  evaluations and test cost per (task, cell, T)
  (benchmarks/regression_trials.py)."""
  rt = _sibling("regression_trials")
  return [Group(*g) for g in rt.remedies_runs(
      perturb, rt.linear_settings, "linear", rt.LINEAR_COST_RANGE)], []


def replay_checks(perturb=False):
  """The LSTM paper's replay: sequences to ST1 and to the stop per trial
  (benchmarks/regression_trials.py)."""
  return [Group(*g) for g in _sibling("regression_trials").replay_runs(
      perturb)], []


def _concat(parts) -> dict[str, np.ndarray]:
  return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


CHECKS: dict[str, Callable] = {
    "density": density_checks, "length": length_checks,
    "theory": theory_checks, "compare": compare_checks,
    "guessing": guessing_checks, "remedies": remedies_checks,
    "lyapunov": lyapunov_checks, "replay": replay_checks,
    "linear": linear_checks,
}


def run_checks(only=None, perturb=False, log=print):
  """``(groups, exact quantities)`` of the chosen checks."""
  groups, exacts = [], []
  for name, check in CHECKS.items():
    if only and name not in only:
      continue
    t0 = time.perf_counter()
    g, e = check(perturb)
    log(f"{name}{' (perturbed)' if perturb else ''}: {len(g)} groups, "
        f"{len(e)} exact numbers in {time.perf_counter() - t0:.1f} s")
    groups += g
    exacts += e
  return groups, exacts


def measure(reference: dict, only=None, log=print) -> dict[str, float]:
  """Every pinned number of the chosen checks, measured now."""
  groups, exacts = run_checks(only, log=log)
  out = {q.name: q.value for q in exacts}
  for g in groups:
    out.update(measured_numbers(g, reference.get("runs", {}).get(g.name)))
  return out


def build_reference(groups, exacts, perturbed) -> dict:
  """The reference: numbers with calibrated bands and per-run outcomes."""
  other = {g.name: g for g in perturbed}
  numbers = [q for g in groups for q in calibrated(g, other[g.name])] + exacts
  return {"numbers": {q.name: {"value": q.value, "band": q.band, "why": q.why}
                      for q in numbers},
          "runs": {g.name: runs_json(g) for g in groups}}


def check_of(name: str) -> str:
  """The check that measures the number or group ``name``."""
  prefix = name.split("[")[0]
  return "theory" if prefix == "gradients" else prefix


def dumps(ref: dict) -> str:
  """The reference as JSON: one line per number and per group of runs."""
  line = lambda k, v: f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
  parts = [",\n".join(line(k, ref[part][k]) for k in sorted(ref[part]))
           for part in ("numbers", "runs")]
  return ('{\n "numbers": {\n' + parts[0] + '\n },\n "runs": {\n' + parts[1]
          + "\n }\n}\n")


def compare_to(reference: dict, measured: dict[str, float],
               only=None) -> list[str]:
  """One message per number that moved beyond its band, appeared or went."""
  problems = []
  for name, ref in reference["numbers"].items():
    if only and check_of(name) not in only:
      continue
    if name not in measured:
      problems.append(f"{name}: in the reference but no longer measured")
      continue
    new = measured[name]
    diff = new - ref["value"]
    if not abs(diff) <= ref["band"]:
      problems.append(f"{name}: moved from {ref['value']:.6g} to {new:.6g} "
                      f"(by {diff:+.3g}; band +-{ref['band']:.3g}, "
                      f"{ref['why']})")
  for name in measured:
    if name not in reference["numbers"]:
      problems.append(f"{name}: new, not in the reference (run with --update)")
  return problems


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--update", action="store_true",
                  help="rewrite the reference (runs every check twice)")
  ap.add_argument("--only", default=None,
                  help=f"comma list of checks ({', '.join(CHECKS)})")
  ap.add_argument("--reference", type=Path, default=REFERENCE)
  ap.add_argument("--measured", type=Path, default=None,
                  help="write the measured numbers to this JSON file "
                       "instead of checking them (tests/conftest.py)")
  args = ap.parse_args(argv)
  only = None
  if args.only:
    only = [c.strip() for c in args.only.split(",")]
    bad = [c for c in only if c not in CHECKS]
    if bad:
      ap.error(f"--only: unknown {', '.join(bad)}; choose from {', '.join(CHECKS)}")
  if args.update:
    groups, exacts = run_checks(only)
    perturbed, _ = run_checks(only, perturb=True)
    new = build_reference(groups, exacts, perturbed)
    ref = {"numbers": {}, "runs": {}}
    if only and args.reference.exists():
      old = json.loads(args.reference.read_text())
      keep = lambda k: check_of(k) not in only
      ref = {part: {k: v for k, v in old[part].items() if keep(k)}
             for part in ("numbers", "runs")}
    for part in ref:
      ref[part].update(new[part])
    from vanishing.engine import results
    results.write_text(args.reference, dumps(ref))
    print(f"wrote {len(ref['numbers'])} numbers and {len(ref['runs'])} groups "
          f"of runs to {args.reference}")
    return 0
  if not args.reference.exists():
    print(f"no reference at {args.reference}; run with --update", file=sys.stderr)
    return 1
  reference = json.loads(args.reference.read_text())
  measured = measure(reference, only)
  if args.measured:
    from vanishing.engine import results
    results.write_text(args.measured, json.dumps(measured))
    return 0
  problems = compare_to(reference, measured, only)
  for line in problems:
    print(line, file=sys.stderr)
  print(f"{len(measured) - len(problems)} of {len(measured)} numbers within "
        f"their bands" if problems else
        f"all {len(measured)} numbers within their bands")
  return 1 if problems else 0


if __name__ == "__main__":
  sys.exit(main())
