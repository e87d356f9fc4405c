"""Throughput of the density sweep against the machine's ceiling and a loop.

Three numbers, measured in one process on the same machine:

1. the engine: forward neuron-steps per second of the density sweep
   (runs x epochs x sequences x T / run seconds; compile time apart), at a
   cell where runs use their whole budget (w0 = 0.5, s = 0.5: under 1%
   converge), L = 3, T = 20, 20 training sequences, 1000 epochs;
2. the ceiling: a plain in-cache recurrence ``a = w * tanh(a) + u`` over a
   float32 vector of 4096 elements, jitted, forward only;
3. a Python loop calling the same run function, jitted once as a single run,
   on the same runs as the engine.

    python benchmarks/throughput.py [--runs 2048] [--epochs 1000]

Each neuron-step of the sweep also pays its backward pass (BPTT) and the
optimizer; the ceiling pays neither, so 100% is not reachable.
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp

from vanishing import sweep
from vanishing.experiments.convergence import LatchConfig, run_latch


def ceiling(width: int = 4096, steps: int = 20000) -> float:
  """Neuron-steps per second of a jitted in-cache tanh recurrence."""
  u = jnp.linspace(-0.1, 0.1, width, dtype=jnp.float32)

  @jax.jit
  def loop(a):
    return jax.lax.fori_loop(0, steps, lambda i, a: 1.25 * jnp.tanh(a) + u, a,
                             unroll=8)

  a = jnp.zeros(width, jnp.float32)
  loop(a).block_until_ready()  # compile
  best = float("inf")
  for _ in range(3):
    t0 = time.perf_counter()
    loop(a).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return width * steps / best


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--runs", type=int, default=2048)
  ap.add_argument("--epochs", type=int, default=1000)
  ap.add_argument("--loop_runs", type=int, default=256,
                  help="runs timed in the Python loop (the first of the sweep)")
  args = ap.parse_args()
  cfg = LatchConfig(T=20, L=3, epochs=args.epochs)
  fn = functools.partial(run_latch, cfg=cfg)
  axes = {"w0": [0.5], "s": [0.5], "lr": [0.01]}
  per_run = args.epochs * 2 * cfg.n_per_class * cfg.T

  res = sweep.run(fn, axes, args.runs, 0)
  engine = args.runs * per_run / res.run_s
  print(f"device: {jax.devices()[0].device_kind}, {jax.device_count()} device(s)")
  print(f"engine : {args.runs} runs x {args.epochs} epochs x "
        f"{2 * cfg.n_per_class} sequences x T={cfg.T}: compile {res.compile_s:.1f} s,"
        f" run {res.run_s:.2f} s, {engine:.3g} neuron-steps/s "
        f"({res.records['converged'].mean():.1%} converged early)")

  top = ceiling()
  print(f"ceiling: in-cache a = w tanh(a) + u, 4096 lanes: {top:.3g} neuron-steps/s")
  print(f"ratio  : engine / ceiling = {engine / top:.1%}")

  single = jax.jit(fn)
  keys = sweep.run_keys(0, jnp.arange(args.loop_runs))
  swept = {k: jnp.float32(v[0]) for k, v in axes.items()}
  jax.block_until_ready(single(keys[0], swept))  # compile
  t0 = time.perf_counter()
  for i in range(args.loop_runs):
    out = single(keys[i], swept)
  jax.block_until_ready(out)
  loop_s = (time.perf_counter() - t0) / args.loop_runs
  engine_s = res.run_s / args.runs
  print(f"loop   : {loop_s * 1e3:.2f} ms per run (jitted single run, Python loop, "
        f"{args.loop_runs} runs) against {engine_s * 1e3:.3f} ms per run in the "
        f"engine: {loop_s / engine_s:.1f}x")


if __name__ == "__main__":
  main()
