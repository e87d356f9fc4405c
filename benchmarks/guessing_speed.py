"""Speed of random weight guessing: (weights x sequence) pairs per second.

For each variant (default: parity_a1 and latch1, the guessing experiment's
configurations: 100 training sequences, lengths uniform in 500..600, K = 32
candidates per batch, layered updates), one run of
``vanishing.methods.guessing.search`` with a criterion no draw meets (cost
below -1), so it makes exactly ``--trials`` draws:

    pairs/s = trials x training sequences / seconds  (compile apart)

Each pair is a whole sequence (up to 600 steps) run by one candidate net;
the figure includes drawing the weights and the sequential counting. Wall
and process CPU seconds are both reported: on a shared machine the wall
figure depends on the other jobs, ``pairs per CPU-second`` much less.

    python benchmarks/guessing_speed.py [--variants parity_a1,latch1]
        [--trials 20000] [--batch 32] [--runs 1] [--unroll 1]

``--runs R`` vmaps R independent searches (the sweep's block width).

Measured (2-core shared CPU, load average 5.6, default arguments plus
``--variants parity_a1,latch1,latch2,parity_a2,parity_a2_noself``), pairs
per wall second: parity_a1 0.88M, latch1 1.73M, latch2 2.17M, parity_a2
0.16M, parity_a2_noself 0.21M (wall = CPU: one thread). ``--unroll 4``:
parity_a1 0.89M, latch1 0.16M. Idle machine, 2026-11-29: parity_a1 1.66M,
latch1 4.0M, latch2 3.8M, parity_a2 0.30M.
"""

from __future__ import annotations

import argparse
import os
import time

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

import jax
import numpy as np

from vanishing import tasks
from vanishing.cells import lanes
from vanishing.experiments import guessing as experiment
from vanishing.methods import base, guessing


def measure(variant: str, trials: int, batch: int, runs: int = 1,
            lengths=(500, 600), n_per_class: int = 50, noise: str = "uniform",
            order: str = "layered", repeats: int = 2) -> dict:
  """Pairs per second of ``runs`` vmapped searches of ``trials`` draws."""
  net = experiment.net(variant, order)
  kind = "gaussian" if variant.startswith("latch") else noise
  # The protocol criterion with a negative target cost: no draw solves.
  hp = {"batch": batch, "criterion": "protocol"}
  budget = base.Budget(evaluations=trials, target_cost=-1.0)

  def one(key):
    k_data, k_search = jax.random.split(key)
    train = experiment.data(variant, k_data, n_per_class, lengths,
                            tasks.Noise(kind, 0.2))
    r = guessing.search(k_search, net, train, budget, hp)
    return r.evaluations

  f = jax.jit(jax.vmap(one))
  keys = jax.random.split(jax.random.key(0), runs)
  t0 = time.perf_counter()
  f.lower(keys).compile()
  compile_s = time.perf_counter() - t0
  jax.block_until_ready(f(keys))  # warm
  wall, cpu = [], []
  for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    ev = jax.block_until_ready(f(keys))
    wall.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
  assert int(np.min(ev)) == trials  # nothing solved: every draw made
  pairs = runs * trials * 2 * n_per_class
  return {"variant": variant, "params": net.size, "pairs": pairs,
          "compile_s": compile_s, "wall_s": min(wall), "cpu_s": min(cpu),
          "pairs_per_s": pairs / min(wall), "pairs_per_cpu_s": pairs / min(cpu)}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--variants", default="parity_a1,latch1")
  ap.add_argument("--trials", type=int, default=20000)
  ap.add_argument("--batch", type=int, default=32)
  ap.add_argument("--runs", type=int, default=1)
  ap.add_argument("--order", default="layered")
  ap.add_argument("--unroll", type=int, default=lanes.UNROLL,
                  help="scan unroll of the time loop")
  args = ap.parse_args()
  lanes.UNROLL = args.unroll
  print(f"{os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; devices "
        f"{jax.devices()}")
  print(f"{'variant':17s} {'P':>3s} {'pairs':>11s} {'compile s':>9s} "
        f"{'wall s':>7s} {'cpu s':>7s} {'pairs/s':>11s} {'pairs/cpu-s':>12s}")
  for v in args.variants.split(","):
    m = measure(v, args.trials, args.batch, args.runs, order=args.order)
    print(f"{v:17s} {m['params']:3d} {m['pairs']:11,d} {m['compile_s']:9.1f} "
          f"{m['wall_s']:7.2f} {m['cpu_s']:7.2f} {m['pairs_per_s']:11,.0f} "
          f"{m['pairs_per_cpu_s']:12,.0f}", flush=True)


if __name__ == "__main__":
  main()
