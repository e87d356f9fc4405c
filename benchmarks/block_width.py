"""Times the density sweep at several block widths (runs vmapped together).

The block width fixes the numerics (see ``vanishing.engine.sweep.BLOCK``), so the
suite uses one width; this script is how it was chosen:

    python benchmarks/block_width.py [--runs 8192] [--epochs 1000]

It prints compile and run seconds and forward neuron-steps per second
(runs x epochs x sequences x T / run seconds; every run in a block costs the
block's slowest run, as the loop stops only when all its runs have).
"""

from __future__ import annotations

import argparse

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

from vanishing.engine import sweep
from vanishing.experiments.latch.training import LatchConfig, latch_runs


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--runs", type=int, default=8192)
  ap.add_argument("--epochs", type=int, default=1000)
  ap.add_argument("--blocks", type=int, nargs="*",
                  default=[64, 128, 256, 512, 1024, 2048])
  args = ap.parse_args()
  cfg = LatchConfig(epochs=args.epochs)
  fn = latch_runs(cfg)
  # Runs at w0 = 0.5, s = 0.5 almost never converge, so nearly every block
  # uses the whole budget and the count below is the work done.
  axes = {"w0": [0.5], "s": [0.5], "lr": [0.01]}
  steps = args.runs * args.epochs * 2 * cfg.n_per_class * cfg.T
  print(f"{args.runs} runs x {args.epochs} epochs x {2 * cfg.n_per_class} "
        f"sequences x T={cfg.T}")
  print(" block  compile_s   run_s   neuron-steps/s")
  for b in args.blocks:
    res = sweep.run(fn, axes, args.runs, 0, block=b, chunk=max(b, 4096))
    print(f"{b:6d} {res.compile_s:10.1f} {res.run_s:7.2f}   {steps / res.run_s:.3g}"
          f"   ({res.records['converged'].mean():.1%} converged early)",
          flush=True)


if __name__ == "__main__":
  main()
