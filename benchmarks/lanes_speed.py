"""A masked net's K-candidate layout against ``vmap`` of the generic forward.

``cells.forward_many`` runs K parameter vectors of a ``cells.Net`` over
K x B lanes (``cells/lanes.py``); any other cell gets ``vmap`` of
``cells.forward``. Both are timed here in one process, on random guessing's
shapes (K = 32 candidates, 100 parity sequences of length 500..600):

    python benchmarks/lanes_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

import jax

from vanishing import cells, tasks


def best_of(fn, repeats: int) -> float:
  jax.block_until_ready(fn())  # compile
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return min(times)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--repeats", type=int, default=5)
  ap.add_argument("--K", type=int, default=32)
  args = ap.parse_args()
  b = tasks.parity(jax.random.key(0), 50, 500, 600, targets=(1.0, 0.0))
  print(f"{'net':18s} {'lanes s':>8s} {'vmap s':>8s} {'vmap/lanes':>10s}")
  for net in (cells.parity_a1(), cells.parity_a2(), cells.latch_net()):
    th = jax.random.uniform(jax.random.key(1), (args.K, net.size),
                            minval=-100, maxval=100)
    lanes = jax.jit(lambda t: net.forward_many(t, b.inputs, b.lengths,
                                               b.classes))
    vmapped = jax.jit(jax.vmap(lambda t: cells.forward(
        net, t, b.inputs, b.lengths, b.classes)))
    a, v = best_of(lambda: lanes(th), args.repeats), best_of(
        lambda: vmapped(th), args.repeats)
    print(f"{net.name:18s} {a:8.4f} {v:8.4f} {v / a:10.1f}")


if __name__ == "__main__":
  main()
