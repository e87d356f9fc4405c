"""One density sweep on 1 and on 2 Ray worker processes of one CPU each.

    python benchmarks/ray_scaling.py [--runs 16384] [--chunk 512] [--epochs 200]

A local Ray cluster (``ray.init(num_cpus=k)``, in this process) runs the
sweep's chunks as tasks of one CPU each, so ``k`` worker processes compute
side by side. Each configuration runs the sweep twice on the same workers:
the first time they start, import JAX and compile the program (reported as
warm-up), the second is the figure. Beside them, the same sweep on one
local CPU device (``sweep.run`` without a cluster, one core): the
scheduling overhead per chunk is ``(time on 1 worker - local) / chunks``,
the speed-up ``time on 1 worker / time on 2``. What two processes can
gain on this machine at all is measured beside it: the same sweep split
in two halves run by two plain processes at once (started together, after
both compiled), against the whole in one. Every Ray configuration's
records are checked equal to the local ones. All numbers come from one
invocation (the machine's speed drifts between runs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import jax
import numpy as np
import ray

from vanishing.engine import cluster, sweep
from vanishing.experiments.latch.training import LatchConfig, latch_runs


def timed(fn, *args, **kw):
  t0 = time.perf_counter()
  out = fn(*args, **kw)
  return out, time.perf_counter() - t0


AXES = {"w0": np.linspace(0.5, 3.0, 8), "s": [0.3], "lr": [0.05]}


def halves_at_once(args, trials: int) -> float:
  """Seconds two plain processes take for half the trials each, at once."""
  cmd = [sys.executable, __file__, f"--epochs={args.epochs}",
         f"--chunk={args.chunk}", f"--half={trials // 2}"]
  procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True) for _ in range(2)]
  for p in procs:
    assert p.stdout.readline().strip() == "ready"
  for p in procs:
    p.stdin.write("go\n")
    p.stdin.flush()
  return max(float(p.communicate()[0]) for p in procs)


def half(args, fn, kw, one) -> None:
  """A child of :func:`halves_at_once`: compiles, waits for go, runs."""
  sweep.run(fn, AXES, args.half, 0, devices=one, **kw)
  print("ready", flush=True)
  sys.stdin.readline()
  _, t = timed(sweep.run, fn, AXES, args.half, 1, devices=one, **kw)
  print(t, flush=True)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--runs", type=int, default=32768)
  ap.add_argument("--chunk", type=int, default=2048)
  ap.add_argument("--epochs", type=int, default=200)
  ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
  ap.add_argument("--half", type=int, default=0, help=argparse.SUPPRESS)
  args = ap.parse_args()
  fn = latch_runs(LatchConfig(T=20, epochs=args.epochs))
  axes = AXES
  trials = args.runs // 8
  kw = dict(chunk=args.chunk, block=args.chunk)
  n_chunks = -(-8 * trials // args.chunk)
  one = jax.local_devices()[:1]
  if args.half:
    return half(args, fn, kw, one)
  sweep.run(fn, axes, trials, 0, devices=one, **kw)  # compile
  local, t_local = timed(sweep.run, fn, axes, trials, 0, devices=one, **kw)
  t_halves = halves_at_once(args, trials)
  print(f"density sweep: {8 * trials:,} runs, {args.epochs} epochs, "
        f"{n_chunks} chunks of {args.chunk} (one block each)")
  print(f"{'where':28s} {'warm-up s':>9s} {'sweep s':>8s} {'runs/s':>8s}")
  print(f"{'1 local CPU device':28s} {'':>9s} {t_local:8.2f} "
        f"{8 * trials / t_local:8,.0f}")
  print(f"{'2 processes, half each':28s} {'':>9s} {t_halves:8.2f} "
        f"{8 * trials / t_halves:8,.0f}")
  times = {}
  for k in args.workers:
    ray.init(address="local", num_cpus=k, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR", configure_logging=False)
    try:
      on = cluster.RayCluster(cpus=1.0, gpus=0.0)
      _, warm = timed(sweep.run, fn, axes, trials, 0, cluster=on, **kw)
      res, t = timed(sweep.run, fn, axes, trials, 0, cluster=on, **kw)
    finally:
      ray.shutdown()
    for name, col in local.records.items():
      np.testing.assert_array_equal(res.records[name], col, err_msg=name)
    times[k] = t
    print(f"{f'Ray, {k} worker(s) x 1 CPU':28s} {warm:9.2f} {t:8.2f} "
          f"{8 * trials / t:8,.0f}")
  if 1 in times:
    print(f"scheduling overhead per chunk (1 worker - local) / chunks: "
          f"{(times[1] - t_local) / n_chunks * 1e3:.0f} ms")
  if 1 in times and 2 in times:
    print(f"speed-up, 2 workers over 1: {times[1] / times[2]:.2f}x; what 2 "
          f"processes gain on this machine: {t_local / t_halves:.2f}x")
  print("records identical to the local sweep in every configuration")


if __name__ == "__main__":
  main()
