"""The sweep engine: one-run functions over a grid x trials, vmapped in chunks.

A sweep is the Cartesian product of named axes of swept values (w0, s, lr, ...)
times ``trials`` independent runs per grid cell. Runs are numbered

    run = cell * trials + trial,   cell = ravel_multi_index(axis indices),

with the first axis varying slowest. Run ``i`` draws all of its randomness from
``fold_in(key(seed), i)``, so its result depends only on the seed, the grid and
``i``, never on the chunk size or on which chunk computed it.

The engine compiles one function for a chunk of ``chunk`` runs, whose inputs
are the chunk's first run index and the axis values (arrays, so other values
of the same grid shape reuse the compiled code), and calls it once per chunk.
Memory is bounded by the chunk size; the last chunk is padded with repeats of
the last run and the padding is discarded. Inside a chunk, runs are vmapped
in blocks of fixed width (see ``BLOCK``). While the host copies out chunk k,
the device is already computing chunk k+1.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

# fn(key, swept) -> {name: array}; ``swept`` maps axis name -> scalar. Outputs
# are usually scalars (one CSV column each); fixed-shape arrays (a training
# curve) are kept per run too.
RunFn = Callable[[jax.Array, Mapping[str, jax.Array]], Mapping[str, jax.Array]]
# progress(done_runs, total_runs, elapsed_seconds)
ProgressFn = Callable[[int, int, float], None]

# Runs are vmapped in blocks of BLOCK lanes and the blocks of a chunk are
# mapped sequentially (lax.map). XLA compiles reductions differently for
# different batch shapes (a sum over 20 sequences differed in the last bit
# between 8 and 512 lanes, and chaotic training amplifies that), so the block
# width, not the chunk, fixes the numerics: every run is computed by the same
# code whatever the chunk size, device count or resume point. On the 2-core
# CPU 512 lanes ran 2.3x faster than 128 and as fast as 1024 or 2048, with
# less padding (benchmarks/block_width.py; table in BUILD_NOTES.md).
BLOCK = 512
DEFAULT_CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """Tidy per-run records of a sweep.

  Attributes:
    records: column name -> array with ``n_runs`` rows; holds ``run``,
      ``cell``, ``trial``, one column per axis with the run's swept value,
      and the outputs of the run function.
    axes: the grid's axes, name -> 1-D array of values.
    trials: runs per grid cell.
    compile_s: seconds spent tracing and compiling.
    run_s: seconds spent running the chunks.
  """
  records: dict[str, np.ndarray]
  axes: dict[str, np.ndarray]
  trials: int
  compile_s: float
  run_s: float

  @property
  def n_runs(self) -> int:
    return len(self.records["run"])

  @property
  def grid_shape(self) -> tuple[int, ...]:
    return tuple(len(v) for v in self.axes.values())

  def by_cell(self, name: str) -> np.ndarray:
    """Output ``name`` reshaped to ``grid_shape + (trials,) + per-run shape``."""
    r = self.records[name]
    return r.reshape(self.grid_shape + (self.trials,) + r.shape[1:])


def root_key(seed: int | jax.Array) -> jax.Array:
  """``key(seed)`` for an integer seed; a typed PRNG key passes through."""
  if isinstance(seed, (int, np.integer)):
    return jax.random.key(int(seed))
  return seed


def run_keys(seed: int | jax.Array, runs: jax.Array) -> jax.Array:
  """The PRNG key of each run index in ``runs``: ``fold_in(root, run)``."""
  return jax.vmap(jax.random.fold_in, (None, 0))(root_key(seed), runs)


def _validate(axes: Mapping[str, Any], trials: int, chunk: int | None,
              block: int):
  if not axes:
    raise ValueError("a sweep needs at least one axis")
  for name, values in axes.items():
    v = np.asarray(values)
    if v.ndim != 1 or v.size == 0:
      raise ValueError(f"axis {name!r} must be a non-empty 1-D array of values")
  if trials < 1:
    raise ValueError(f"trials must be >= 1, got {trials}")
  if chunk is not None and chunk < 1:
    raise ValueError(f"chunk must be >= 1, got {chunk}")
  if block < 1:
    raise ValueError(f"block must be >= 1, got {block}")


def _chunk_function(fn: RunFn, names, shape, trials: int, n_runs: int,
                    root: jax.Array, n_blocks: int, block: int):
  """The compiled unit: runs ``start .. start + n_blocks*block - 1``."""
  chunk = n_blocks * block

  def chunk_fn(start, axis_values):
    runs = jnp.minimum(start + jnp.arange(chunk, dtype=jnp.int32), n_runs - 1)
    cell, trial = runs // trials, runs % trials
    coords = jnp.unravel_index(cell, shape)
    swept = {n: v[c] for n, v, c in zip(names, axis_values, coords)}
    blocks = jax.tree_util.tree_map(
        lambda x: x.reshape((n_blocks, block) + x.shape[1:]),
        (run_keys(root, runs), swept))
    out = jax.lax.map(lambda b: dict(jax.vmap(fn)(*b)), blocks)
    out = jax.tree_util.tree_map(lambda x: x.reshape((chunk,) + x.shape[2:]),
                                 out)
    out.update(run=runs, cell=cell, trial=trial)
    return out

  return jax.jit(chunk_fn)


def _plan(axes: Mapping[str, Any], trials: int):
  names = tuple(axes)
  host = {n: np.asarray(axes[n], np.float64) for n in names}
  device = tuple(jnp.asarray(host[n], jnp.float32) for n in names)
  shape = tuple(len(v) for v in device)
  return names, host, device, shape, math.prod(shape) * trials


def run(fn: RunFn, axes: Mapping[str, Any], trials: int,
        seed: int | jax.Array, *,
        chunk: int | None = None, block: int = BLOCK,
        progress: ProgressFn | None = None) -> SweepResult:
  """Runs ``fn`` on every grid cell x trial and returns per-run records.

  Args:
    fn: one run, ``(key, {axis: scalar}) -> {output: scalar}``; pure and
      traceable. Static settings (shapes, budgets) are closed over. Swept
      values reach it as float32 scalars.
    axes: name -> 1-D values; the grid is their Cartesian product, first axis
      slowest.
    trials: independent runs per cell.
    seed: root seed, or a root PRNG key.
    chunk: runs per compiled call (bounds memory), rounded up to a multiple
      of ``block``; default ``min(n_runs, DEFAULT_CHUNK)``. Does not change
      any result.
    block: runs vmapped together. Results are bit-identical only between
      sweeps with the same block width.
    progress: called after each chunk with ``(done, total, elapsed_s)``.

  Returns:
    A :class:`SweepResult`.
  """
  _validate(axes, trials, chunk, block)
  names, host, values, shape, n_runs = _plan(axes, trials)
  n_blocks = -(-min(n_runs, chunk or DEFAULT_CHUNK) // block)
  chunk = n_blocks * block
  chunk_fn = _chunk_function(fn, names, shape, trials, n_runs,
                             root_key(seed), n_blocks, block)

  t0 = time.perf_counter()
  compiled = chunk_fn.lower(jnp.int32(0), values).compile()
  compile_s = time.perf_counter() - t0

  t0 = time.perf_counter()
  parts: list[dict[str, np.ndarray]] = []
  pending = None
  for start in range(0, n_runs, chunk):
    launched = compiled(jnp.int32(start), values)  # asynchronous dispatch
    if pending is not None:
      parts.append(jax.device_get(pending))
      if progress:
        progress(len(parts) * chunk, n_runs, time.perf_counter() - t0)
    pending = launched
  parts.append(jax.device_get(pending))
  run_s = time.perf_counter() - t0
  if progress:
    progress(n_runs, n_runs, run_s)

  records = {k: np.concatenate([np.asarray(p[k]) for p in parts])[:n_runs]
             for k in parts[0]}
  # Swept values as given (float64), not as the float32 the runs saw.
  coords = np.unravel_index(records["cell"], shape)
  records.update({n: host[n][c] for n, c in zip(names, coords)})
  return SweepResult(records=records, axes=host, trials=trials,
                     compile_s=compile_s, run_s=run_s)


def replay(fn: RunFn, axes: Mapping[str, Any], trials: int,
           seed: int | jax.Array, run_index: int, *, block: int = BLOCK
           ) -> dict[str, np.ndarray]:
  """Recomputes run ``run_index`` of a sweep on its own.

  It goes through the same blocked code as :func:`run`, so the record is
  bit-identical to that run's row in the sweep (same ``block``).
  """
  _validate(axes, trials, None, block)
  names, host, values, shape, n_runs = _plan(axes, trials)
  if not 0 <= run_index < n_runs:
    raise ValueError(f"run_index must be in [0, {n_runs}), got {run_index}")
  chunk_fn = _chunk_function(fn, names, shape, trials, n_runs,
                             root_key(seed), 1, block)
  out = jax.device_get(chunk_fn(jnp.int32(run_index), values))
  record = {k: np.asarray(v)[0] for k, v in out.items()}
  coords = np.unravel_index(record["cell"], shape)
  record.update({n: host[n][c] for n, c in zip(names, coords)})
  return record


class ProgressPrinter:
  """Prints ``runs done, runs/s, ETA`` to a stream, at most every ``every`` s.

  Silent for sweeps that finish within ``after`` seconds.
  """

  def __init__(self, label: str, stream=None, after: float = 3.0,
               every: float = 2.0):
    self.label, self.stream = label, stream or sys.stderr
    self.after, self.every = after, every
    self._last = -math.inf

  def __call__(self, done: int, total: int, elapsed: float) -> None:
    final = done >= total
    if elapsed < self.after or (not final and elapsed - self._last < self.every):
      return
    self._last = elapsed
    rate = done / elapsed if elapsed > 0 else float("inf")
    eta = (total - done) / rate if rate > 0 else float("inf")
    print(f"{self.label}: {done}/{total} runs ({100 * done / total:.0f}%), "
          f"{rate:,.0f} runs/s, "
          + (f"done in {elapsed:.1f}s" if final else f"ETA {eta:.0f}s"),
          file=self.stream, flush=True)
