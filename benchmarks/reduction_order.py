"""Why the sweep engine fixes its block width: XLA's sums depend on shape.

Computes the same per-run cost and gradient of 512 latch runs (20 sequences
each) once vmapped over all 512 runs and once in blocks of 8, and counts the
runs whose results differ in the last bits:

    python benchmarks/reduction_order.py

Elementwise work (tanh, the forward pass) agrees bit for bit; reductions (the
cost's sum over sequences, the gradient's sums) need not.
"""

from __future__ import annotations

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells


def main():
  rng = np.random.default_rng(0)
  n = 512
  w = jnp.asarray(rng.uniform(0.5, 3, n), jnp.float32)
  u = jnp.asarray(rng.normal(size=(n, 20, 20)), jnp.float32)  # run, T, sequence

  def forward(w, u):
    return jnp.tanh(cells.latch_final(w, u))

  def cost(w, u):
    return 0.5 * jnp.sum((forward(w, u) - 0.8) ** 2)

  for name, f in (("forward x_T", forward), ("cost", cost),
                  ("gradient dC/dw", jax.grad(cost))):
    g = jax.jit(jax.vmap(f))
    whole = np.asarray(g(w, u))
    blocks = np.concatenate([np.asarray(g(w[i:i + 8], u[i:i + 8]))
                             for i in range(0, n, 8)])
    diff = whole != blocks
    runs = diff.reshape(n, -1).any(1).sum()
    print(f"{name:16s}: {runs:3d} of {n} runs differ between 512 and 8 lanes "
          f"(max abs difference {np.abs(whole - blocks).max():.2e})")


if __name__ == "__main__":
  main()
