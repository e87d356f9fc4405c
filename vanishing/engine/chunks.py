"""The compiled chunk program of a sweep: a chunk's runs on devices and lanes.

:func:`compile_chunk` compiles (and caches) the one program a sweep calls
per chunk: the chunk's run indices sharded over the devices, each device
computing its share in blocks of ``block`` runs (``vmap`` of the run
function, a :class:`vanishing.engine.runs.Lanes` function's own block form, or
refilled lanes for a :class:`vanishing.engine.runs.Steps` one, whose runs are
dealt round-robin over the devices, :func:`deal`). The engine's loop over
chunks is ``vanishing.engine.sweep``.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from vanishing.engine import layout
from vanishing.engine.runs import RunFn, Steps, block_of, refill, run_keys
from vanishing.engine.store import ConfigMismatch

DEFAULT_CHUNK = layout.CPU_CHUNK

# Compiled chunk programs, by run function, grid shape, trials, layout and
# devices: a sweep that differs from an earlier one only in its axis values
# or its seed (the lengths of ``length`` sharing a shape) compiles nothing.
# The run function is compared as an object (a new functools.partial is a
# new program). The last few are kept.
_COMPILED: dict[tuple, Any] = {}
_KEEP_COMPILED = 8


class Plan(NamedTuple):
  """A sweep's grid (:func:`plan`).

  Attributes:
    names: the swept values' names (a zipped axis's members in turn).
    host: name -> values as given (float64).
    values: the same as float32 device arrays (arguments of the program).
    shape: the grid's shape, one entry per axis (a zipped axis is one).
    n_runs: ``prod(shape) * trials``.
    axis_of: for each name, the index of its axis in ``shape``.
    keyed: the axes whose coordinate enters a run's key index (neither
      paired nor folded).
    folded: ``(axis, name index)`` of each folded axis, whose value is
      folded into the root key (:func:`run_key`).
  """
  names: tuple[str, ...]
  host: dict[str, np.ndarray]
  values: tuple
  shape: tuple[int, ...]
  n_runs: int
  axis_of: tuple[int, ...]
  keyed: tuple[int, ...]
  folded: tuple[tuple[int, int], ...] = ()

  @property
  def static(self) -> tuple:
    """What the compiled program depends on besides the run function."""
    return (self.names, self.shape, self.n_runs, self.axis_of, self.keyed,
            self.folded)


def key_index(p: Plan, runs, coords, trial, trials: int):
  """The index each run's key is drawn from: the run's own index, or, with
  paired or folded axes, the index it has in the grid without them (runs
  that differ only in a paired axis share their key: the same trials).
  ``coords``: the runs' grid coordinates; ``trial``: their trial."""
  if len(p.keyed) == len(p.shape):
    return runs
  if not p.keyed:
    return trial
  cell = jnp.ravel_multi_index(tuple(coords[a] for a in p.keyed),
                               tuple(p.shape[a] for a in p.keyed), mode="clip")
  return cell * trials + trial


def run_key(p: Plan, root, runs, coords, trial, trials: int, swept):
  """Each run's key: ``fold_in(root, key_index)``, with the value of each
  folded axis folded into the root first, ``fold_in(fold_in(root, v),
  key_index)``: the keys a sweep of that value alone with root
  ``fold_in(root, v)`` draws (``length``: one root per T)."""
  index = key_index(p, runs, coords, trial, trials)
  if not p.folded:
    return run_keys(root, index)
  values = jnp.stack([swept[p.names[j]].astype(jnp.uint32)
                      for _, j in p.folded], axis=-1)

  def one(vs, i):
    k = root
    for f in range(len(p.folded)):
      k = jax.random.fold_in(k, vs[f])
    return jax.random.fold_in(k, i)
  return jax.vmap(one)(values, index)


def chunk_function(fn: RunFn, p: Plan, trials: int, blocks_per_device: int,
                   block: int, mesh: Mesh):
  """The compiled unit: each device of ``mesh`` runs its share of blocks.

  Input: run indices ``(n_devices * blocks_per_device * block,)`` sharded
  over the mesh (padding is ``n_runs``: the vmapped blocks compute it as the
  last run, :func:`refill` skips it), the axis values and the root key,
  replicated (arguments, not constants, so sweeps that differ only in them
  share one compiled program). Every device computes its blocks with the
  same per-block program, so results do not depend on the number of
  devices. A :class:`Steps` run function runs the device's runs through
  ``block`` lanes (:func:`refill`).
  """
  per_device = blocks_per_device * block
  n_runs = p.n_runs

  def on_device(runs, axis_values, root):
    real = runs < n_runs
    runs = jnp.minimum(runs, n_runs - 1)
    cell, trial = runs // trials, runs % trials
    coords = jnp.unravel_index(cell, p.shape)
    swept = {n: v[coords[a]] for n, v, a in zip(p.names, axis_values,
                                                 p.axis_of)}
    keys = run_key(p, root, runs, coords, trial, trials, swept)
    if isinstance(fn, Steps):
      out = refill(fn, keys, swept, real, block)
    else:
      blocks = jax.tree_util.tree_map(
          lambda x: x.reshape((blocks_per_device, block) + x.shape[1:]),
          (keys, swept))
      out = jax.lax.map(lambda b: dict(block_of(fn)(*b)), blocks)
      out = jax.tree_util.tree_map(
          lambda x: x.reshape((per_device,) + x.shape[2:]), out)
    out.update(run=runs, cell=cell, trial=trial)
    return out

  # No collectives: each device runs independent blocks. check_vma=False
  # spares run functions from marking their loop carries as device-varying.
  sharded = jax.shard_map(on_device, mesh=mesh, in_specs=(P("d"), P(), P()),
                          out_specs=P("d"), check_vma=False)
  return jax.jit(sharded)


def plan(axes: Mapping[str, Any], trials: int,
         paired: tuple[str, ...] = (), folded: tuple[str, ...] = ()) -> Plan:
  """The grid of ``axes``: each value a 1-D sequence (an axis), or a mapping
  of names to 1-D sequences of one length (a zipped axis: its members take
  their i-th values together, as ``{"clip": [0, 1], "stages": [1, 4]}``).
  Axes named in ``paired`` do not enter the runs' keys; the values of those
  in ``folded`` (integers) are folded into the root key (:func:`run_key`)."""
  names, host, axis_of, shape, groups = [], {}, [], [], []
  for a, (name, values) in enumerate(axes.items()):
    members = (dict(values) if isinstance(values, Mapping)
               else {name: values})
    lengths = set()
    for m, v in members.items():
      host[m] = np.asarray(v, np.float64)
      names.append(m)
      axis_of.append(a)
      lengths.add(host[m].size)
    if len(lengths) != 1:
      raise ValueError(f"the members of zipped axis {name!r} need one length, "
                       f"got {sorted(lengths)}")
    shape.append(lengths.pop())
    groups.append(name)
  for kind, given in (("paired", paired), ("folded", folded)):
    unknown = set(given) - set(groups)
    if unknown:
      raise ValueError(f"{kind} axes {sorted(unknown)} are not axes of the "
                       f"sweep ({', '.join(groups)})")
  fold = []
  for g in folded:
    v = host.get(g)
    if g not in names or not np.all((v == np.round(v)) & (v >= 0)
                                    & (v < 2 ** 24)):
      raise ValueError(f"folded axis {g!r} needs integers in [0, 2**24), "
                       "one name (not zipped)")
    fold.append((groups.index(g), names.index(g)))
  values = tuple(jnp.asarray(host[n], jnp.float32) for n in names)
  keyed = tuple(a for a, g in enumerate(groups)
                if g not in paired and g not in folded)
  return Plan(tuple(names), host, values, tuple(shape),
              math.prod(shape) * trials, tuple(axis_of), keyed, tuple(fold))


def memory_budget(device) -> int:
  """Bytes a chunk may use on ``device``: a quarter of its memory.

  GPUs report their memory (``memory_stats()['bytes_limit']``); on the CPU
  the machine's physical memory is the limit.
  """
  stats = device.memory_stats() or {}
  total = stats.get("bytes_limit")
  if not total:
    try:
      total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
      total = 8 << 30
  return int(total) // 4


class Program(NamedTuple):
  """A sweep's compiled chunk program (:func:`compile_chunk`).

  Attributes:
    compiled: the program: ``(runs, axis values, root) -> outputs``.
    chunk: runs per chunk (the chunk size rounded up to whole blocks).
    width: run indices it takes (``chunk`` rounded up to fill the devices).
    sharding: how the run indices lie on the devices.
    block: lanes per block.
  """
  compiled: Any
  chunk: int
  width: int
  sharding: NamedSharding
  block: int

  def launch(self, fn, p: Plan, root, i: int):
    """Starts chunk ``i`` (asynchronous dispatch); :meth:`fetch` its outputs."""
    size = min(self.chunk, p.n_runs - i * self.chunk)
    runs = np.arange(i * self.chunk, i * self.chunk + self.width, dtype=np.int64)
    runs = np.where(np.arange(self.width) < size, runs, p.n_runs).astype(np.int32)
    n_dev = len(self.sharding.mesh.devices.flat)
    return self.compiled(jax.device_put(deal(fn, runs, n_dev), self.sharding),
                         p.values, root)

  def fetch(self, fn, p: Plan, i: int, out) -> dict[str, np.ndarray]:
    """The records of chunk ``i`` from :meth:`launch`'s ``out``, in run
    order, padding dropped."""
    size = min(self.chunk, p.n_runs - i * self.chunk)
    n_dev = len(self.sharding.mesh.devices.flat)
    return {k: undeal(fn, np.asarray(v), n_dev)[:size]
            for k, v in jax.device_get(out).items()}


def stored_layout(store, override: int | None = None
                  ) -> tuple[int | None, int | None]:
  """``(chunk, block)`` a chunk store recorded (None: not yet, or no
  store): a resumed sweep keeps them. A ``--block`` ``override`` other than
  the recorded width is another configuration (``store.ConfigMismatch``)."""
  config = store.config if store is not None else {}
  stored = config.get("block")
  if stored is not None and override is not None and stored != override:
    raise ConfigMismatch(f"{store.dir} holds a sweep run with {stored} "
                         f"lanes per block, not {override} (differs in: "
                         "block)")
  return config.get("chunk"), stored


def compile_chunk(fn, axes, trials, root, chunk, block, devices, store, n_proc,
                  override=None, paired=(), folded=()) -> Program:
  """The compiled chunk program of a sweep (cached in ``_COMPILED``).

  ``block`` (an int, or a ``layout.Block`` the device chooses from, with
  ``override`` as ``--block``) is resolved by :func:`layout.width`; a
  store's recorded width and chunk win (a resumed sweep keeps its layout).
  A device-chosen width (a GPU's) is halved, like the default chunk, until
  the compiled chunk fits :func:`memory_budget`; not when ``n_proc`` > 1
  (shards of a sweep run on their own must agree on the layout whatever
  their machines).
  """
  p = plan(axes, trials, paired, folded)
  n_runs = p.n_runs
  devices = list(devices or jax.local_devices())
  chosen = layout.chosen(block, devices, override)
  block = layout.width(block, devices, n_runs, steps=isinstance(fn, Steps),
                       override=override)
  stored_chunk, stored_block = stored_layout(store, override)
  if stored_block is not None:
    block, chosen = stored_block, False
  chunk = stored_chunk or chunk

  def build(chunk_runs, block):
    n_blocks = -(-min(n_runs, chunk_runs) // block)
    # No device computes padding only: a sweep of fewer blocks than devices
    # leaves the rest free (an idle device's padding still took a core).
    used = devices[:min(len(devices), n_blocks)]
    mesh = Mesh(np.asarray(used), ("d",))
    per_dev = -(-n_blocks // len(used))
    sharding = NamedSharding(mesh, P("d"))
    width = per_dev * len(used) * block
    key = (fn, p.static, trials, per_dev, block, tuple(used))
    if key not in _COMPILED:
      f = chunk_function(fn, p, trials, per_dev, block, mesh)
      runs0 = jax.device_put(np.zeros(width, np.int32), sharding)
      _COMPILED[key] = f.lower(runs0, p.values, root).compile()
      while len(_COMPILED) > _KEEP_COMPILED:
        del _COMPILED[next(iter(_COMPILED))]
    return Program(_COMPILED[key], n_blocks * block, width, sharding, block)

  fixed = chunk is not None
  chunk = chunk or layout.chunk(devices, block, n_runs)
  program = build(chunk, block)
  if n_proc == 1:
    budget = memory_budget(devices[0])
    chunk = program.chunk
    while chunk_bytes(program.compiled) > budget and (
        (not fixed and chunk > block) or (chosen and block > 1)):
      if not fixed and chunk > block:
        chunk //= 2
      else:  # a chunk of one block: a narrower block
        block = -(-block // 2)
        chunk = chunk if fixed else block
      program = build(chunk, block)
      chunk, block = program.chunk, program.block
  return program


def deal(fn, runs: np.ndarray, n_dev: int) -> np.ndarray:
  """The chunk's runs as the devices get them: in order, or for a
  :class:`Steps` function dealt round-robin (device d computes runs d, d +
  n_dev, ...), so that the padding at the end is shared out and every
  device's lanes see runs of every cell."""
  if not isinstance(fn, Steps) or n_dev == 1:
    return runs
  return runs.reshape(-1, n_dev).T.ravel()


def undeal(fn, out: np.ndarray, n_dev: int) -> np.ndarray:
  """Outputs of :func:`deal`'s order back in run order."""
  if not isinstance(fn, Steps) or n_dev == 1:
    return out
  return out.reshape((n_dev, -1) + out.shape[1:]).swapaxes(0, 1).reshape(
      out.shape)


def chunk_bytes(compiled) -> int:
  try:
    m = compiled.memory_analysis()
    return int(m.temp_size_in_bytes + m.argument_size_in_bytes
               + m.output_size_in_bytes)
  except Exception:  # not every backend reports it
    return 0
