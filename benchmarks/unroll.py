"""Compile and run time of BPTT training for several time-loop unrollings.

Justifies ``cells.scan.MAX_FULL_UNROLL`` and ``cells.scan.PARTIAL_UNROLL``:

    python benchmarks/unroll.py [--T 20 60] [--epochs 300]

For each T it trains 512 latch runs (w0 = 1.25, s = 0.2) with the time loop
fully unrolled and unrolled by 4, and prints compile and run seconds.
"""

from __future__ import annotations

import argparse

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

from vanishing import cells
from vanishing.engine import sweep
from vanishing.experiments.latch.training import LatchConfig, latch_runs


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--T", type=int, nargs="*", default=[20, 60])
  ap.add_argument("--epochs", type=int, default=300)
  args = ap.parse_args()
  print("    T  unroll  compile_s  run_s")
  for T in args.T:
    for label, full, partial in (("full", T, 4), ("4", 1, 4)):
      cells.scan.MAX_FULL_UNROLL, cells.scan.PARTIAL_UNROLL = full, partial
      fn = latch_runs(LatchConfig(T=T, epochs=args.epochs))
      r = sweep.run(fn, {"w0": [1.25], "s": [0.2], "lr": [0.01]}, 512, 0)
      print(f"{T:5d}  {label:>6s}  {r.compile_s:9.1f}  {r.run_s:5.2f}", flush=True)


if __name__ == "__main__":
  main()
