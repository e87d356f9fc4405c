"""Sequential against parallel (associative) scan for the diagonal cells.

Justifies ``cells.scan.use_linear_scan``'s rule (docs/performance.md):

    python benchmarks/linear_scan.py [--T 16 32 ...] [--B 32 512 ...]

For each diagonal cell (its remedies form on the adding problem), span T
and batch B (sequences x lanes: the suite vmaps trials, so a call's batch
is every lane's sequences), it times one gradient of the cost (the unit of
BPTT training) with ``cells.forward``'s sequential loop and with
``cells.linear_scan``, compiled once each, median of ``--reps`` calls,
and prints the ratio sequential / parallel (> 1: the parallel form is
faster), all in one process. ``--lanes L`` times ``vmap`` over L trials
of B sequences each instead, as the suite's sweeps run them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from vanishing import cells, problems


def _seconds(fn, reps):
  jax.block_until_ready(fn())           # compile
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def ratio(cell, T: int, B: int, reps: int, lanes: int = 0
          ) -> tuple[float, float]:
  """(sequential s, parallel s) of one gradient at (T, B); with ``lanes``,
  of ``vmap`` over that many parameter vectors (the suite's trials), each
  on its own B sequences."""
  k1, k2 = jax.random.split(jax.random.key(0))
  inputs = jax.random.uniform(k1, (max(lanes, 1), T, B, cell.inputs))
  lengths = jnp.full((B,), T)
  theta = jax.vmap(cell.init, (0, None))(
      jax.random.split(k2, max(lanes, 1)), 0.5)
  out = []
  for parallel in (False, True):
    def cost(th, x, parallel=parallel):
      return jnp.sum(cells.forward(cell, th, x, lengths,
                                   parallel=parallel) ** 2)
    grad = (jax.jit(jax.vmap(jax.grad(cost))) if lanes else
            jax.jit(lambda th, x, c=cost: jax.grad(c)(th[0], x[0])))
    out.append(_seconds(lambda: grad(theta, inputs), reps))
  return out[0], out[1]


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--T", type=int, nargs="*", default=[16, 32, 64, 128, 256])
  ap.add_argument("--B", type=int, nargs="*", default=[32, 512])
  ap.add_argument("--cells", nargs="*", default=["lru", "linear_diag"])
  ap.add_argument("--reps", type=int, default=5)
  ap.add_argument("--lanes", type=int, default=0,
                  help="vmap over this many trials (0: one, unbatched)")
  args = ap.parse_args()
  print(f"{jax.devices()[0].platform}: gradient of the adding cost, "
        f"sequential / parallel seconds, {args.lanes or 'no'} lanes")
  print("cell            T      B   seq_ms   par_ms  ratio")
  for name in args.cells:
    cell = problems.Problem(problems.named("adding", name), 8).net
    for B in args.B:
      for T in args.T:
        s, p = ratio(cell, T, B, args.reps, args.lanes)
        print(f"{name:12s} {T:4d} {B:6d} {1e3 * s:8.2f} {1e3 * p:8.2f} "
              f"{s / p:6.2f}", flush=True)


if __name__ == "__main__":
  main()
