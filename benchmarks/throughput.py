"""Throughput of the density sweep against the machine's ceiling and a loop.

Measured in one process on the same machine, on every XLA device (one per
CPU core by default, ``vanishing.devices``):

1. the engine: forward neuron-steps per second of the density sweep
   (runs x epochs x sequences x T / run seconds; compile time apart), at a
   cell where runs use their whole budget (w0 = 0.5, s = 0.5: about 1%
   converge), L = 3, T = 20, 20 training sequences, 1000 epochs; the runs
   on the lanes (``sweep.Lanes``);
2. the same sweep in the engine's former layout, ``vmap`` of the one-run
   function (the runs on the first axis), on one device: the "before";
3. the ceiling: the best of a plain recurrence ``a = 1.25 tanh(a) + u``,
   jitted, forward only, over float32 vectors of several sizes, on one
   device and sharded over all of them (XLA splits a large elementwise pass
   over threads; a sharded one runs one pass per device);
4. a Python loop calling the one-run function, jitted once, on the same runs.

    python benchmarks/throughput.py [--runs 2048] [--epochs 1000] [--repeats 3]
                                    [--json FILE]

``--json`` writes ``{"engine", "ceiling", "loop", "engine_over_ceiling",
"engine_over_loop", "before", "engine_over_before", "devices"}`` (rates in
neuron-steps/s; ``loop`` is the loop's rate over the same neuron-steps).
Each neuron-step of the sweep also pays its backward pass (BPTT) and the
optimizer; the ceiling pays neither, so 100% is not reachable.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import vanishing  # noqa: F401  (one CPU device per core, before JAX starts)
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from vanishing import results, sweep
from vanishing.experiments.convergence import LatchConfig, latch_runs, run_latch

SIZES = (4096, 16384, 65536, 262144)


def _best(f, x, repeats=3) -> float:
  jax.block_until_ready(f(x))  # compile
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(f(x))
    best = min(best, time.perf_counter() - t0)
  return best


def ceiling(work: float = 2e9) -> tuple[float, str]:
  """The best neuron-steps/s of a jitted tanh recurrence, and its layout."""
  devices = jax.devices()
  mesh = Mesh(np.asarray(devices), ("d",))
  found = []
  for width in SIZES:
    steps = int(work // width) // 8 * 8
    layouts = [("one device", None)]
    if len(devices) > 1:
      layouts.append((f"sharded over {len(devices)}",
                      NamedSharding(mesh, P("d"))))
    for name, sharding in layouts:
      u = jnp.linspace(-0.1, 0.1, width, dtype=jnp.float32)
      a = jnp.zeros(width, jnp.float32)
      if sharding is not None:
        u, a = jax.device_put(u, sharding), jax.device_put(a, sharding)

      @jax.jit
      def loop(a, u=u):
        return jax.lax.fori_loop(0, steps, lambda i, a: 1.25 * jnp.tanh(a) + u,
                                 a, unroll=8)

      found.append((width * steps / _best(loop, a), f"{width} elements, {name}"))
  return max(found)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--runs", type=int, default=2048)
  ap.add_argument("--epochs", type=int, default=1000)
  ap.add_argument("--loop_runs", type=int, default=64,
                  help="runs timed in the Python loop (the first of the sweep)")
  ap.add_argument("--repeats", type=int, default=3,
                  help="timings of the engine and of the former layout, "
                       "alternated; the best of each counts")
  ap.add_argument("--json", metavar="FILE", help="also write the figures here")
  args = ap.parse_args()
  for name in ("runs", "epochs", "loop_runs", "repeats"):
    if getattr(args, name) < 1:
      ap.error(f"--{name} must be >= 1, got {getattr(args, name)}")
  cfg = LatchConfig(T=20, L=3, epochs=args.epochs)
  axes = {"w0": [0.5], "s": [0.5], "lr": [0.01]}
  per_run = args.epochs * 2 * cfg.n_per_class * cfg.T
  n_dev = jax.device_count()
  print(f"device: {jax.devices()[0].device_kind}, {n_dev} device(s)")

  # Alternated, best of --repeats each: the VM's speed drifts.
  fast, slow = [], []
  one_run = functools.partial(run_latch, cfg=cfg)
  for _ in range(args.repeats):
    fast.append(sweep.run(latch_runs(cfg), axes, args.runs, 0))
    slow.append(sweep.run(one_run, axes, args.runs, 0,
                          devices=jax.devices()[:1]))
  res = min(fast, key=lambda r: r.run_s)
  old = min(slow, key=lambda r: r.run_s)
  engine = args.runs * per_run / res.run_s
  print(f"engine : {args.runs} runs x {args.epochs} epochs x "
        f"{2 * cfg.n_per_class} sequences x T={cfg.T} on {n_dev} device(s): "
        f"compile {fast[0].compile_s:.1f} s, run {res.run_s:.2f} s (best of "
        f"{args.repeats}), {engine:.3g} "
        f"neuron-steps/s ({res.records['converged'].mean():.1%} converged early)")

  before = args.runs * per_run / old.run_s
  print(f"before : the same sweep as vmap of the one-run function (runs on the "
        f"first axis), 1 device: run {old.run_s:.2f} s, {before:.3g} "
        f"neuron-steps/s; engine / before = {engine / before:.1f}x")

  top, layout = ceiling()
  print(f"ceiling: a = 1.25 tanh(a) + u, best of {len(SIZES)} sizes x layouts "
        f"({layout}): {top:.3g} neuron-steps/s")
  print(f"ratio  : engine / ceiling = {engine / top:.1%}")

  single = jax.jit(one_run)
  keys = sweep.run_keys(0, jnp.arange(args.loop_runs))
  swept = {k: jnp.float32(v[0]) for k, v in axes.items()}
  jax.block_until_ready(single(keys[0], swept))  # compile
  t0 = time.perf_counter()
  for i in range(args.loop_runs):
    out = single(keys[i], swept)
  jax.block_until_ready(out)
  loop_s = (time.perf_counter() - t0) / args.loop_runs
  loop = per_run / loop_s
  print(f"loop   : {loop_s * 1e3:.2f} ms per run (jitted single run, Python "
        f"loop, {args.loop_runs} runs) against {res.run_s / args.runs * 1e3:.3f}"
        f" ms per run in the engine: {engine / loop:.1f}x")
  if args.json:
    results.write_json(Path(args.json), {
        "engine": engine, "ceiling": top, "loop": loop,
        "engine_over_ceiling": engine / top, "engine_over_loop": engine / loop,
        "before": before, "engine_over_before": engine / before,
        "devices": n_dev, "ceiling_layout": layout})


if __name__ == "__main__":
  main()
