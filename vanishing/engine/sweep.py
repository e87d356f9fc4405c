"""The sweep engine: one-run functions over a grid x trials, vmapped in chunks.

A sweep is the Cartesian product of named axes of swept values (w0, s, lr, ...)
times ``trials`` independent runs per grid cell. Runs are numbered

    run = cell * trials + trial,   cell = ravel_multi_index(axis indices),

with the first axis varying slowest. Run ``i`` draws all of its randomness from
``fold_in(key(seed), i)``, so its result depends only on the seed, the grid and
``i``, never on the chunk size or on which chunk computed it. (A zipped axis
sweeps several values together; a paired axis leaves its coordinate out of
``i``, a folded one folds its value into the root: ``run``'s arguments.)

The engine compiles one function for a chunk of ``chunk`` runs, whose inputs
are the chunk's first run index and the axis values (arrays, so other values
of the same grid shape reuse the compiled code), and calls it once per chunk.
Memory is bounded by the chunk size; the last chunk is padded with repeats of
the last run and the padding is discarded. Inside a chunk, runs are vmapped
in blocks of a fixed width chosen by the device (``vanishing.engine.layout``; on a
CPU ``BLOCK``), or computed by a run function's own
block form (``runs.Lanes``), or, for a run written as a loop that stops when
done (``runs.Steps``), by that many lanes that each take the next run as
soon as theirs stops (``runs.refill``). While the host copies out chunk k,
the device is already computing chunk k+1. :func:`prepare` compiles a
sweep ahead (an experiment compiles its next sweep while one runs); the
compiled chunk program itself is ``vanishing.engine.chunks``. Beyond one
machine, the chunks run as tasks of a Ray cluster
(``vanishing.engine.cluster``), or a shard computes every N-th chunk into
the store for a later run to assemble (``shard``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Any, Callable, Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from vanishing.engine import layout

from vanishing.engine.chunks import (chunk_function, compile_chunk, plan,
                                     stored_layout)
# Lanes, per_run and run_keys are the engine's API too (sweep.Lanes, ...).
from vanishing.engine.runs import Lanes, per_run, run_keys  # noqa: F401
from vanishing.engine.runs import RunFn, Steps, root_key

# progress(done_runs, total_runs, elapsed_seconds, resumed_runs)
ProgressFn = Callable[[int, int, float, int], None]

# Runs are vmapped in blocks of BLOCK lanes (on a CPU; a GPU's width is its
# own, ``vanishing.engine.layout``) and the blocks of a chunk are mapped
# sequentially (lax.map). XLA compiles reductions differently for different
# batch shapes (a sum over 20 sequences differed in the last bit between 8
# and 512 lanes, and chaotic training amplifies that), so the block width,
# not the chunk, fixes the numerics: every run is computed by the same code
# whatever the chunk size, device count or resume point. The CPU's width is
# the fastest measured with the least padding (benchmarks/block_width.py;
# its table in docs/performance.md).
BLOCK = layout.CPU_WIDTH

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
    reader: for a sweep run with ``collect=False``: yields the records chunk
      by chunk from its store (``records`` is then None).
    block: the lanes per block the sweep ran with (``vanishing.engine.layout``).
    shape: the grid's shape (one entry per axis; a zipped axis is one,
      its members are columns of ``axes``); None: one per entry of ``axes``.
  """
  records: dict[str, np.ndarray] | None
  axes: dict[str, np.ndarray]
  trials: int
  compile_s: float
  run_s: float
  reader: Callable[[], Iterator[dict[str, np.ndarray]]] | None = None
  block: int = 0
  shape: tuple[int, ...] | None = None

  @property
  def n_runs(self) -> int:
    return math.prod(self.grid_shape) * self.trials

  def iter_chunks(self) -> Iterator[dict[str, np.ndarray]]:
    """The records in run order, one piece at a time (bounded memory)."""
    if self.records is not None:
      yield self.records
    else:
      yield from self.reader()

  def gather(self, names=None) -> dict[str, np.ndarray]:
    """The columns ``names`` (default: every one) of every run, in run
    order, in memory."""
    parts = list(self.iter_chunks())
    return {k: np.concatenate([np.asarray(p[k]) for p in parts])
            for k in (names or parts[0])}

  @property
  def grid_shape(self) -> tuple[int, ...]:
    if self.shape is not None:
      return self.shape
    return tuple(len(v) for v in self.axes.values())

  def by_cell(self, name: str) -> np.ndarray:
    """Output ``name`` reshaped to ``grid_shape + (trials,) + per-run shape``."""
    r = self.records[name]
    return r.reshape(self.grid_shape + (self.trials,) + r.shape[1:])


def _validate(axes: Mapping[str, Any], trials: int, chunk: int | None,
              block, override: int | None = None):
  if not axes:
    raise ValueError("a sweep needs at least one axis")
  for name, values in axes.items():
    members = values if isinstance(values, Mapping) else {name: values}
    if not members:
      raise ValueError(f"zipped axis {name!r} has no members")
    for m, vals in members.items():
      v = np.asarray(vals)
      if v.ndim != 1 or v.size == 0:
        raise ValueError(f"axis {m!r} must be a non-empty 1-D array of values")
  if trials < 1:
    raise ValueError(f"trials must be >= 1, got {trials}")
  if chunk is not None and chunk < 1:
    raise ValueError(f"chunk must be >= 1, got {chunk}")
  if isinstance(block, int) and block < 1:
    raise ValueError(f"block must be >= 1, got {block}")
  if override is not None and override < 1:
    raise ValueError(f"override must be >= 1, got {override}")


def prepare(fn: RunFn, axes: Mapping[str, Any], trials: int,
            seed: int | jax.Array, *, chunk: int | None = None,
            block: int | layout.Block | None = None, devices=None,
            store=None, shard: tuple[int, int] = (0, 1),
            override: int | None = None, paired: tuple[str, ...] = (),
            folded: tuple[str, ...] = (), cluster=None, **_) -> float:
  """Compiles the chunk program :func:`run` with the same arguments will
  use, so that it starts at once; returns the seconds it took (0 when
  already compiled, or when a ``cluster`` compiles it on its workers).
  Meant for a second thread while another sweep runs
  (``series.Sweeps.series``)."""
  _validate(axes, trials, chunk, block, override)
  if cluster is not None:
    return 0.0
  t0 = time.perf_counter()
  compile_chunk(fn, axes, trials, root_key(seed), chunk, block, devices, store,
                shard[1], override, paired, folded)
  return time.perf_counter() - t0


def run(fn: RunFn, axes: Mapping[str, Any], trials: int,
        seed: int | jax.Array, *,
        chunk: int | None = None, block: int | layout.Block | None = None,
        progress: ProgressFn | None = None, devices=None,
        store=None, shard: tuple[int, int] = (0, 1), collect: bool = True,
        override: int | None = None, paired: tuple[str, ...] = (),
        folded: tuple[str, ...] = (), cluster=None) -> SweepResult | None:
  """Runs ``fn`` on every grid cell x trial and returns per-run records.

  Args:
    fn: one run, ``(key, {axis: scalar}) -> {output: array}``; pure and
      traceable. Static settings (shapes, budgets) are closed over. Swept
      values reach it as float32 scalars.
    axes: name -> 1-D values; the grid is their Cartesian product, first axis
      slowest. A value that is a mapping of names to 1-D values of one
      length is a zipped axis: its members are swept together (the i-th
      value of each), as ``{"remedy": {"clip": [0, 1], "stages": [1, 4]}}``.
    trials: independent runs per cell.
    seed: root seed, or a root PRNG key.
    chunk: runs per compiled call and per chunk file, rounded up to a
      multiple of ``block``; default: ``layout.chunk``, halved until the
      compiled chunk fits :func:`memory_budget`. A store's recorded chunk
      size wins on resume. Never changes any result.
    block: lanes per block: an int fixes it, a ``layout.Block`` (None:
      ``layout.Block()``) lets the device choose (``vanishing.engine.layout``).
      Results are bit-identical between sweeps with the same width on the
      same platform. A store's recorded width wins on resume.
    override: ``--block``: this width on every device (not for a fixed
      ``layout.Block``).
    paired: axes whose values share the trials: run ``i`` draws its key
      from its index in the grid without these axes, so every value of a
      paired axis sees the same keys (a paired design: the same data and
      initial draws for every remedy, say).
    folded: axes of integer values that are folded into the root key:
      the runs of value v draw the keys of a sweep without that axis whose
      root is ``fold_in(root, v)`` (``length``: a root per T, so adding a
      length changes no other).
    progress: called after each chunk with ``(done, total, elapsed_s,
      resumed)``; ``resumed`` runs were found finished in ``store``.
    devices: local devices to shard over (default: all local devices).
    store: a :class:`vanishing.engine.store.ChunkStore`; finished chunks found there
      are not recomputed, new ones are written there as they finish.
    shard: ``(i, n)``: compute only the chunks ``j`` with ``j % n == i``
      into ``store`` and return None (a job array's task); the sweep run
      without a shard then finds them finished and writes the whole.
    collect: with a store, False leaves the records on disk: the result's
      ``iter_chunks()`` reads them one chunk at a time, so memory stays
      bounded by the chunk size whatever the grid.
    cluster: a :class:`vanishing.engine.cluster.RayCluster`: the chunks run
      as its tasks (its workers compile the program; the layout is the one
      a worker chooses, or the store's); None: on ``devices``.

  Returns:
    A :class:`SweepResult` (None for a shard).
  """
  _validate(axes, trials, chunk, block, override)
  shard_id, n_shards = shard
  if not 0 <= shard_id < n_shards:
    raise ValueError(f"shard {shard_id} not in [0, {n_shards})")
  if n_shards > 1 and store is None:
    raise ValueError("a shard of a sweep needs a chunk store")
  p = plan(axes, trials, paired, folded)
  n_runs = p.n_runs
  root = root_key(seed)
  t0 = time.perf_counter()
  if cluster is None:
    program = compile_chunk(fn, axes, trials, root, chunk, block, devices,
                            store, n_shards, override, paired, folded)
    chunk, block = program.chunk, program.block
    compute = lambda todo: _pipelined(program, fn, p, root, todo)
  else:
    job = cluster.job(fn, axes, trials, root, paired, folded)
    chunk, block = job.layout(*_asked(chunk, block, store, override))
    compute = lambda todo: job.chunks(todo, chunk, block)
  if store is not None:
    for name, value in (("chunk", chunk), ("block", block)):
      if name not in store.config:
        store.record(name, value)
  compile_s = time.perf_counter() - t0

  n_chunks = -(-n_runs // chunk)
  mine = [i for i in range(n_chunks) if i % n_shards == shard_id]
  size = lambda i: min(chunk, n_runs - i * chunk)
  todo = [i for i in mine if store is None or not store.finished(i)]
  resumed = sum(size(i) for i in mine) - sum(size(i) for i in todo)
  share = sum(size(i) for i in mine)

  t0 = time.perf_counter()
  parts: dict[int, dict[str, np.ndarray]] = {}
  done = resumed
  for j, part in compute(todo):
    if store is not None:
      store.save(j, part)
    else:
      parts[j] = part
    done += size(j)
    if progress:
      progress(done, share, time.perf_counter() - t0, resumed)
  run_s = time.perf_counter() - t0
  if progress and not todo:
    progress(done, share, run_s, resumed)

  if n_shards > 1:
    return None
  if store is not None:
    if not collect:
      def reader():
        for i in range(n_chunks):
          yield _with_values(store.load(i), p)
      return SweepResult(records=None, axes=p.host, trials=trials,
                         compile_s=compile_s, run_s=run_s, reader=reader,
                         block=block, shape=p.shape)
    parts = {i: store.load(i) for i in range(n_chunks)}
  records = {k: np.concatenate([parts[i][k] for i in range(n_chunks)])
             for k in parts[0]}
  return SweepResult(records=_with_values(records, p), axes=p.host,
                     trials=trials, compile_s=compile_s, run_s=run_s,
                     block=block, shape=p.shape)


def _pipelined(program, fn, p, root, todo):
  """``(i, records)`` of each chunk in ``todo`` on the local devices: while
  the host copies out chunk k, the devices already compute chunk k + 1."""
  pending = None
  for i in todo + [None]:
    launched = program.launch(fn, p, root, i) if i is not None else None
    if pending is not None:
      yield pending[0], program.fetch(fn, p, *pending)
    pending = (i, launched) if i is not None else None


def _asked(chunk, block, store, override):
  """What a cluster's worker is asked to lay out: the store's recorded
  chunk and width where it has them (a resumed sweep keeps its layout)."""
  stored_chunk, stored_block = stored_layout(store, override)
  if stored_block is not None:
    block, override = stored_block, None
  return stored_chunk or chunk, block, override


def _with_values(records, p):
  """Adds the swept values as given (float64), not the float32 runs saw."""
  coords = np.unravel_index(records["cell"], p.shape)
  records.update({n: p.host[n][coords[a]] for n, a in zip(p.names, p.axis_of)})
  return records


def replay(fn: RunFn, axes: Mapping[str, Any], trials: int,
           seed: int | jax.Array, run_index: int, *,
           block: int | layout.Block | None = None,
           override: int | None = None, paired: tuple[str, ...] = (),
           folded: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
  """Recomputes run ``run_index`` of a sweep on its own.

  It goes through the same blocked code as :func:`run`, so the record is
  bit-identical to that run's row in the sweep (same ``block`` and
  ``override``, on the same platform).
  """
  _validate(axes, trials, None, block, override)
  p = plan(axes, trials, paired, folded)
  n_runs = p.n_runs
  block = layout.width(block, jax.local_devices()[:1], n_runs,
                       steps=isinstance(fn, Steps), override=override)
  if not 0 <= run_index < n_runs:
    raise ValueError(f"run_index must be in [0, {n_runs}), got {run_index}")
  mesh = Mesh(np.asarray(jax.local_devices()[:1]), ("d",))
  f = chunk_function(fn, p, trials, 1, block, mesh)
  runs = np.full(block, n_runs)  # run_index, then padding
  runs[0] = run_index
  out = jax.device_get(f(jnp.asarray(runs, jnp.int32), p.values,
                         root_key(seed)))
  record = {k: np.asarray(v)[0] for k, v in out.items()}
  coords = np.unravel_index(record["cell"], p.shape)
  record.update({n: p.host[n][coords[a]] for n, a in zip(p.names, p.axis_of)})
  return record


class ProgressPrinter:
  """Prints ``runs done, runs/s, ETA`` to a stream, at most every ``every`` s.

  Silent for sweeps that finish within ``after`` seconds. Runs found
  finished on disk (a resumed sweep) count as done but not in the rate.
  """

  def __init__(self, label: str, stream=None, after: float = 3.0,
               every: float = 2.0):
    self.label, self.stream = label, stream or sys.stderr
    self.after, self.every = after, every
    self._last = -math.inf

  def __call__(self, done: int, total: int, elapsed: float,
               resumed: int = 0) -> None:
    final = done >= total
    if elapsed < self.after or (not final and elapsed - self._last < self.every):
      return
    self._last = elapsed
    rate = (done - resumed) / elapsed if elapsed > 0 else float("inf")
    eta = (total - done) / rate if rate > 0 else float("inf")
    print(f"{self.label}: {done}/{total} runs ({100 * done / total:.0f}%"
          + (f", {resumed} resumed" if resumed else "") + "), "
          f"{rate:,.0f} runs/s, "
          + (f"done in {elapsed:.1f}s" if final else f"ETA {eta:.0f}s"),
          file=self.stream, flush=True)
