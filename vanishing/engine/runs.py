"""Run functions and the layout of their runs (the sweep engine's inputs).

A run function maps one run's PRNG key and swept values to its outputs
(``RunFn``). Run ``i`` of a sweep gets the key ``fold_in(key(seed), i)``
(:func:`run_keys`). The engine computes runs in blocks: by ``vmap`` of the
run function (the runs on the first axis), or by a run function's own
block form (:class:`Lanes`, the runs on the last axis), whose per-run
randomness :func:`per_run` draws, or, for a run written as a loop that stops
when it is done (:class:`Steps`), by lanes that each take the next run as
soon as theirs stops (:func:`refill`).
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
  set; see docs/performance.md, "Runs on the lanes").
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


@dataclasses.dataclass(frozen=True)
class Steps:
  """A run function written as a loop that stops when the run is done.

  ``begin(key, swept) -> carry``, ``running(carry) -> bool``, ``step(carry)
  -> carry`` and ``end(carry) -> outputs`` (one run each; the carry is a
  pytree of arrays). Called as a ``RunFn`` it is ``end(while_loop(running,
  step, begin(key, swept)))``. The engine instead runs a device's runs
  through a fixed number of lanes with :func:`refill`: a ``vmap`` of a
  ``while_loop`` runs every block as long as its slowest run (runs of a
  training method stop anywhere from a few to the budget's evaluations),
  while a lane whose run has stopped takes the next one.
  """
  begin: Callable
  running: Callable
  step: Callable
  end: Callable

  def __call__(self, key, swept):
    carry = self.begin(key, swept)
    return dict(self.end(jax.lax.while_loop(self.running, self.step, carry)))


def _select(mask: jax.Array, new, old):
  """``new`` on the lanes (first axis) where ``mask``, else ``old``."""
  def pick(n, o):
    return jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o)
  return jax.tree_util.tree_map(pick, new, old)


def refill(steps: Steps, keys: jax.Array, swept: Mapping[str, jax.Array],
           real: jax.Array, width: int) -> dict[str, jax.Array]:
  """Runs ``R`` runs (``keys (R,)``, swept values ``(R,)``) of ``steps``
  through ``width`` lanes; outputs with the runs first, as ``vmap``.

  Lane l starts with run l; whenever runs stop, their outputs are written
  and their lanes begin the next runs in order. Every lane's arithmetic is
  ``vmap`` over ``width`` lanes of the run's own functions, so a run's
  outputs do not depend on its lane, its neighbours or ``R`` (tested): the
  block width alone sets the numerics, as for ``vmap``. Runs where ``real``
  is False (padding) are not computed; their outputs are zeros.
  """
  R = keys.shape[0]
  if width > R:
    raise ValueError(f"refill needs at least {width} runs, got {R}")
  take = lambda idx: jax.tree_util.tree_map(lambda x: x[idx], (keys, swept))
  begin = jax.vmap(steps.begin)
  # The lanes start empty, as if their runs had just been recorded, so that
  # ``begin`` and ``end`` are traced once (compile time).
  blank = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype),
                                 jax.eval_shape(begin, *take(jnp.arange(width))))
  shapes = jax.eval_shape(jax.vmap(steps.end), blank)
  outs = jax.tree_util.tree_map(
      lambda s: jnp.zeros((R,) + s.shape[1:], s.dtype), dict(shapes))

  def swap(args):
    """Records the runs that stopped, and begins the next ones there."""
    carry, lane, live, stopped, nxt, outs = args
    done = dict(jax.vmap(steps.end)(carry))
    at = jnp.where(stopped & live, lane, R)  # R: dropped
    outs = {k: outs[k].at[at].set(done[k], mode="drop") for k in outs}
    new = nxt + jnp.cumsum(stopped) - 1
    fresh = stopped & (new < R)
    lane = jnp.where(fresh, new, lane)
    carry = _select(fresh, begin(*take(jnp.minimum(lane, R - 1))), carry)
    live = (live & ~stopped) | (fresh & real[jnp.minimum(new, R - 1)])
    return carry, lane, live, nxt + jnp.sum(stopped), outs

  def body(c):
    carry, lane, live, stopped, nxt, outs = c
    carry, lane, live, nxt, outs = jax.lax.cond(
        jnp.any(stopped), swap, lambda a: a[:3] + a[4:],
        (carry, lane, live, stopped, nxt, outs))
    going = live & jax.vmap(steps.running)(carry)
    carry = _select(going, jax.vmap(steps.step)(carry), carry)
    stopped = live & ~jax.vmap(steps.running)(carry)
    return carry, lane, live, stopped, nxt, outs

  c = (blank, jnp.zeros(width, jnp.int32), jnp.zeros(width, bool),
       jnp.ones(width, bool), jnp.zeros((), jnp.int32), outs)
  return jax.lax.while_loop(lambda c: jnp.any(c[2] | c[3]), body, c)[5]


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
