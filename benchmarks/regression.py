"""Reproduction regression: pinned numbers of small fixed-seed experiments.

Runs small, fixed-seed configurations of every experiment and compares each
number with ``benchmarks/reference.json``, within a band justified by its
sampling error (below). A number outside its band fails, naming the number,
both values and the band; an intentional change rewrites the reference:

    python benchmarks/regression.py            # check (exit 1 if anything moved)
    python benchmarks/regression.py --update   # rewrite the reference

Bands (what a change must exceed to count as a change of behaviour rather
than of sampling):

* rates from n trials (convergence, solved fractions): 4 binomial standard
  errors, ``4 sqrt(p (1 - p) / n)``, and at least ``2/n`` (two runs);
* means over n trials (errors, evaluations): 4 standard errors of the mean,
  ``4 sd / sqrt(n)``, and at least 1% of the value;
* closed-form and deterministic theory values: relative 1e-6.

With the same seed on the same platform every number is reproduced exactly;
the bands absorb last-bit differences of other CPUs or XLA versions, which
chaotic training amplifies into a different run here and there.
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


def rate(name: str, k, n: int) -> Quantity:
  p = float(k) / n
  band = max(4 * math.sqrt(p * (1 - p) / n), 2.0 / n)
  return Quantity(name, p, band, f"4 binomial SE, n={n}")


def mean(name: str, x) -> Quantity:
  x = np.asarray(x, np.float64)
  n = len(x)
  sd = float(x.std(ddof=1)) if n > 1 else 0.0
  m = float(x.mean())
  band = max(4 * sd / math.sqrt(n), 0.01 * abs(m), 1e-9)
  return Quantity(name, m, band, f"4 SE of the mean, n={n}")


def exact(name: str, value: float) -> Quantity:
  return Quantity(name, float(value), max(1e-6 * abs(value), 1e-12),
                  "deterministic, relative 1e-6")


# --- The checks: one per experiment -------------------------------------------

def density_checks() -> list[Quantity]:
  """Convergence density at four cells of the default protocol."""
  from vanishing.experiments import density
  st = dataclasses.replace(density.DEFAULT, w0=(0.5, 1.5, 3.0), s=(0.0, 0.5),
                           trials=64)
  table, _ = density.run(st)
  return [rate(f"density[w0={w0:g},s={s:g}].density", k, n)
          for w0, s, k, n in zip(table["w0"], table["s"], table["converged"],
                                 table["trials"])]


def length_checks() -> list[Quantity]:
  """Frequency of convergence at three lengths."""
  from vanishing.experiments import length
  st = dataclasses.replace(length.DEFAULT, T=(5, 15, 30), trials=64)
  table, _, _ = length.run(st)
  return [rate(f"length[T={T}].frequency", k, n)
          for T, k, n in zip(table["T"], table["converged"], table["trials"])]


def theory_checks() -> list[Quantity]:
  """Attractors, contraction and escape thresholds (closed forms), and the
  measured decay rate of the state Jacobian."""
  from vanishing import theory
  from vanishing.experiments import gradients
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
  return out


def compare_checks() -> list[Quantity]:
  """Every method on the latch at two spans, and on the layered parity net
  the methods whose passes walk its phases (and guessing, which shows it is
  solvable), tiny budget: fraction solved, final training error and
  evaluations."""
  from vanishing import methods
  from vanishing.experiments import compare
  out = []
  parity_methods = ("bptt", "time_weighted_newton", "discrete", "guessing")
  for problem, T, names in (("latch", (5, 10), methods.available()),
                            ("parity", (4, 8), parity_methods)):
    st = dataclasses.replace(
        compare.DEFAULT, problems=(problem,), methods=tuple(names),
        T=T, T_by_problem=(), trials=16, budget=300, patience=150)
    table, runs, _ = compare.run(st)
    for i in range(len(table["T"])):
      sel = ((runs["problem"] == table["problem"][i])
             & (runs["method"] == table["method"][i])
             & (runs["T"] == table["T"][i]))
      tag = f"compare[{table['problem'][i]},{table['method'][i]},T={table['T'][i]}]"
      out += [rate(f"{tag}.solved", table["solved"][i], int(table["trials"][i])),
              mean(f"{tag}.final_error", runs["final_error"][sel]),
              mean(f"{tag}.evaluations", runs["evaluations"][sel])]
  return out


def guessing_checks() -> list[Quantity]:
  """Random weight guessing at its testing size: solved fraction and mean
  log10 trials to solution of each configuration."""
  from vanishing.experiments import guessing
  table, runs, _ = guessing.run(guessing.TESTING)
  runs = list(runs)
  rec = {k: np.concatenate([np.asarray(r[k]) for r in runs]) for k in runs[0]}
  out = []
  for i in range(len(table["runs"])):
    v, noise = table["variant"][i], table["input_noise"][i]
    tag = f"guessing[{v},{noise}]"
    out.append(rate(f"{tag}.solved", table["solved"][i], int(table["runs"][i])))
    sel = ((rec["variant"] == v) & (rec["input_noise"] == noise)
           & np.asarray(rec["solved"], bool))
    if sel.sum() >= 2:
      out.append(mean(f"{tag}.log10_trials",
                      np.log10(np.asarray(rec["trials"][sel], np.float64))))
  return out


CHECKS: dict[str, Callable[[], list[Quantity]]] = {
    "density": density_checks, "length": length_checks,
    "theory": theory_checks, "compare": compare_checks,
    "guessing": guessing_checks,
}


def measure(only=None, log=print) -> dict[str, Quantity]:
  out = {}
  for name, check in CHECKS.items():
    if only and name not in only:
      continue
    t0 = time.perf_counter()
    qs = check()
    log(f"{name}: {len(qs)} numbers in {time.perf_counter() - t0:.1f} s")
    out.update({q.name: q for q in qs})
  return out


def compare_to(reference: dict, measured: dict[str, Quantity],
               only=None) -> list[str]:
  """One message per number that moved beyond its band, appeared or went."""
  problems = []
  for name, ref in reference.items():
    if only and name.split("[")[0] not in only:
      continue
    if name not in measured:
      problems.append(f"{name}: in the reference but no longer measured")
      continue
    new = measured[name].value
    diff = new - ref["value"]
    if not abs(diff) <= ref["band"]:
      problems.append(f"{name}: moved from {ref['value']:.6g} to {new:.6g} "
                      f"(by {diff:+.3g}; band +-{ref['band']:.3g}, "
                      f"{ref['why']})")
  for name in measured:
    if name not in reference:
      problems.append(f"{name}: new, not in the reference (run with --update)")
  return problems


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--update", action="store_true",
                  help="rewrite the reference with the measured numbers")
  ap.add_argument("--only", default=None,
                  help=f"comma list of checks ({', '.join(CHECKS)})")
  ap.add_argument("--reference", type=Path, default=REFERENCE)
  args = ap.parse_args(argv)
  only = None
  if args.only:
    only = [c.strip() for c in args.only.split(",")]
    bad = [c for c in only if c not in CHECKS]
    if bad:
      ap.error(f"--only: unknown {', '.join(bad)}; choose from {', '.join(CHECKS)}")
  measured = measure(only)
  if args.update:
    ref = {}
    if only and args.reference.exists():
      ref = {k: v for k, v in json.loads(args.reference.read_text()).items()
             if k.split("[")[0] not in only}
    ref.update({q.name: {"value": q.value, "band": q.band, "why": q.why}
                for q in measured.values()})
    from vanishing import results
    results.write_text(args.reference, json.dumps(ref, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(ref)} numbers to {args.reference}")
    return 0
  if not args.reference.exists():
    print(f"no reference at {args.reference}; run with --update", file=sys.stderr)
    return 1
  reference = json.loads(args.reference.read_text())
  problems = compare_to(reference, measured, only)
  for line in problems:
    print(line, file=sys.stderr)
  print(f"{len(measured) - len(problems)} of {len(measured)} numbers within "
        f"their bands" if problems else
        f"all {len(measured)} numbers within their bands")
  return 1 if problems else 0


if __name__ == "__main__":
  sys.exit(main())
