"""Measures the effect of each protocol choice the paper leaves open.

Runs the density experiment on a reduced grid once with the suite's defaults
and once per variant (one choice changed at a time), and prints the
convergence density (%) overall ("all"), the mean held-out accuracy of the
converged runs ("acc") and the density (%) of each w0/s cell. The table in BUILD_NOTES.md
("Deviations and choices") comes from this script:

    python benchmarks/protocol_effects.py [--trials 128]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

from vanishing.experiments.latch import density

VARIANTS = {
    "default": {},
    "lr=0.001": {"lr": (0.001,)},
    "lr=0.1": {"lr": (0.1,)},
    "lr=1.0": {"lr": (1.0,)},
    "epochs=300": {"epochs": 300},
    "epochs=5000": {"epochs": 5000},
    "noise=fresh": {"noise": "fresh"},
    "n_per_class=50": {"n_per_class": 50},
    "tol=0.2": {"tol": 0.2},
    "h_init=0.5": {"h_init": 0.5},
    "optimizer=adam": {"optimizer": "adam"},
}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--trials", type=int, default=128)
  ap.add_argument("--only", nargs="*", help="variant names to run")
  args = ap.parse_args()
  base = dataclasses.replace(density.DEFAULT, w0=(0.75, 1.25, 2.0, 3.0),
                             s=(0.0, 0.2, 0.5), trials=args.trials)
  cells = [f"{w:g}/{s:g}" for w in base.w0 for s in base.s]
  print(f"{'variant':16s} {'all':>5s} {'acc':>5s} "
        + " ".join(f"{c:>8s}" for c in cells) + "   seconds")
  for name, change in VARIANTS.items():
    if args.only and name not in args.only:
      continue
    grid = {k: v for k, v in change.items() if k == "lr"}
    cfg = dataclasses.replace(base.config, **{k: v for k, v in change.items()
                                              if k != "lr"})
    st = dataclasses.replace(base, config=cfg, **grid)
    t0 = time.perf_counter()
    table, res = density.run(st)
    dt = time.perf_counter() - t0
    d = table["density"]
    conv = res.records["converged"].astype(bool)
    acc = res.records["test_acc"][conv].mean()
    print(f"{name:16s} {100 * conv.mean():5.1f} {acc:5.3f} "
          + " ".join(f"{100 * v:8.0f}" for v in d) + f"   {dt:7.1f}", flush=True)


if __name__ == "__main__":
  main()
