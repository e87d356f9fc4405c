"""Run functions and the layout of their runs (the sweep engine's inputs).

A run function maps one run's PRNG key and swept values to its outputs
(``RunFn``). Run ``i`` of a sweep gets the key ``fold_in(key(seed), i)``
(:func:`run_keys`). The engine computes runs in blocks: by ``vmap`` of the
run function (the runs on the first axis), or by a run function's own
block form (:class:`Lanes`, the runs on the last axis), whose per-run
randomness :func:`per_run` draws.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

# fn(key, swept) -> {name: array}; ``swept`` maps axis name -> scalar. Outputs
# are usually scalars (one CSV column each); fixed-shape arrays (a training
# curve) are kept per run too.
RunFn = Callable[[jax.Array, Mapping[str, jax.Array]], Mapping[str, jax.Array]]


@dataclasses.dataclass(frozen=True)
class Lanes:
  """A run function that also takes a block of runs laid on the lanes.

  ``fn(keys, swept)`` with ``keys`` of shape ``(B,)`` and every swept value
  of shape ``(B,)`` returns its outputs with the runs on the *last* axis
  (``(B,)``, or ``(..., B)`` for a per-run array), so every elementwise
  operation of the hot loop works on rows of B runs; with a scalar key and
  scalar values it is the one-run function (``RunFn``). The engine calls the
  block form directly instead of ``vmap`` (whose batching rules put the runs
  on the first axis, leaving each operation rows as short as the training
  set; see BUILD_NOTES.md, "Runs on the lanes").
  """
  fn: Callable[..., Mapping[str, jax.Array]]

  def __call__(self, key, swept):
    return self.fn(key, swept)

  def block(self, keys, swept) -> dict[str, jax.Array]:
    """The block's outputs with the runs on the first axis, as ``vmap``."""
    return {k: jnp.moveaxis(v, -1, 0) for k, v in self.fn(keys, swept).items()}


def per_run(f: Callable, key: jax.Array, *args):
  """``f(key, *args)`` of each run of a block, the runs on the last axis.

  With a scalar ``key`` it is ``f(key, *args)``; with ``(B,)`` keys (and
  ``args`` of leading size B) each run's draw is its own key's, bit for bit,
  and every output leaf gets the runs as its last axis. Used for the
  randomness of a :class:`Lanes` function, drawn once per run before the
  hot loop.
  """
  if jnp.ndim(key) == 0:
    return f(key, *args)
  out = jax.vmap(f)(key, *args)
  return jax.tree_util.tree_map(lambda x: jnp.moveaxis(x, 0, -1), out)


def block_of(fn) -> Callable:
  """``fn`` over one block of runs, the runs on the first axis."""
  return fn.block if isinstance(fn, Lanes) else jax.vmap(fn)


def root_key(seed: int | jax.Array) -> jax.Array:
  """``key(seed)`` for an integer seed; a typed PRNG key passes through."""
  if isinstance(seed, (int, np.integer)):
    return jax.random.key(int(seed))
  return seed


def run_keys(seed: int | jax.Array, runs: jax.Array) -> jax.Array:
  """The PRNG key of each run index in ``runs``: ``fold_in(root, run)``."""
  return jax.vmap(jax.random.fold_in, (None, 0))(root_key(seed), runs)
