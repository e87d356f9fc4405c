"""Sweeps on a Ray cluster: one Ray task per chunk, the records back to the driver.

The driver (the process that runs the experiment) keeps what it does on one
machine: the chunk store, resume, progress and the outputs. Only computing a
chunk moves: :meth:`Job.chunks` submits each chunk still to do as a Ray task
(``ray.remote`` with the resources of :class:`RayCluster`, retried when its
worker or node dies) and saves the records as the tasks finish, in whatever
order. Ray schedules a task on whichever worker is free, so a fast node
takes more chunks.

A task computes chunk ``i`` with the sweep's one compiled program, laid out
with the chunk size and block width the driver fixed (the store's, or those
one worker chose for its device, :meth:`Job.layout`), so its records are
those of chunk ``i`` of a single-machine sweep of that width, bit for bit
(run ``i`` depends only on the seed, the grid and ``i``;
``vanishing.engine.sweep``). The sweep's run function travels as one
cloudpickled blob, put in Ray's object store once; each worker process
unpickles and compiles it once (:data:`_JOBS`, by the blob's digest) and
reuses it for every further chunk it is given.

Ray is an optional extra (``pip install -e '.[ray]'``): this module imports
it when a cluster is connected, not before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import jax
import numpy as np

from vanishing.engine import chunks


class Unreachable(Exception):
  """No Ray cluster answers at the address; the message says which."""


class Spec(NamedTuple):
  """What a worker needs to compile a sweep's chunk program."""
  fn: Any
  axes: Any
  trials: int
  key_data: np.ndarray
  key_impl: str
  paired: tuple
  folded: tuple

  def root(self):
    return jax.random.wrap_key_data(self.key_data, impl=self.key_impl)


# Per worker process: digest -> (Spec, Plan), the last few sweeps it was given.
_JOBS: dict[str, tuple[Spec, chunks.Plan]] = {}
_KEEP_JOBS = 8


def _job(blob: bytes, digest: str) -> tuple[Spec, chunks.Plan]:
  if digest not in _JOBS:
    from ray import cloudpickle  # in a Ray worker, where ray is imported
    spec = cloudpickle.loads(blob)
    _JOBS[digest] = spec, chunks.plan(spec.axes, spec.trials, spec.paired,
                                      spec.folded)
    while len(_JOBS) > _KEEP_JOBS:
      del _JOBS[next(iter(_JOBS))]
  return _JOBS[digest]


def _program(spec: Spec, chunk, block, override, n_proc) -> chunks.Program:
  return chunks.compile_chunk(spec.fn, spec.axes, spec.trials, spec.root(),
                              chunk, block, None, None, n_proc, override,
                              spec.paired, spec.folded)


def lay_out(blob: bytes, digest: str, chunk, block, override
            ) -> tuple[int, int, str]:
  """Ray task: ``(chunk, block, platform)`` this worker's device chooses
  for the sweep (``chunks.compile_chunk``, its memory budget included)."""
  spec, _ = _job(blob, digest)
  program = _program(spec, chunk, block, override, 1)
  return program.chunk, program.block, jax.local_devices()[0].platform


def compute(blob: bytes, digest: str, i: int, chunk: int, block: int
            ) -> dict[str, np.ndarray]:
  """Ray task: the records of chunk ``i`` (run order, padding dropped)."""
  spec, p = _job(blob, digest)
  # A fixed chunk and width: compile_chunk neither shrinks nor rechooses.
  program = _program(spec, chunk, block, None, 1)
  return program.fetch(spec.fn, p, i, program.launch(spec.fn, p, spec.root(), i))


def _reachable(address: str, timeout: float = 5.0) -> None:
  """Fails fast, with one line, where nothing listens at ``HOST:PORT``
  (``ray.init`` would keep retrying for a minute)."""
  host, _, port = address.rpartition(":")
  try:
    with socket.create_connection((host, int(port)), timeout=timeout):
      pass
  except OSError as e:
    raise Unreachable(f"no Ray cluster at {address}: "
                      f"{e.strerror or e.__class__.__name__}") from None


@dataclasses.dataclass
class RayCluster:
  """A connection to a Ray cluster, for :func:`vanishing.engine.sweep.run`.

  Attributes:
    address: ``auto`` (the cluster ``ray start`` started on this machine,
      or ``RAY_ADDRESS``) or ``HOST:PORT`` of its head.
    cpus, gpus: the resources each chunk's task asks for; ``gpus`` None:
      one GPU where the cluster has GPUs, else none.
    retries: how often a task whose worker or node died is run again.
    ship_code: send this package to the workers with the job (Ray's
      ``runtime_env`` ``py_modules``), so nodes need only its dependencies.
    platforms: the platforms the workers reported (for the sidecar).
  """
  address: str = "auto"
  cpus: float = 1.0
  gpus: float | None = None
  retries: int = 3
  ship_code: bool = True
  platforms: set = dataclasses.field(default_factory=set)

  def connect(self) -> "RayCluster":
    """Joins the cluster (once per process); raises :class:`Unreachable`."""
    import ray  # the optional extra, only where a cluster is asked for
    if ray.is_initialized():
      return self
    if self.address != "auto":
      _reachable(self.address)
    env = ({"py_modules": [str(Path(__file__).resolve().parents[1])]}
           if self.ship_code else None)
    try:
      ray.init(address=self.address, runtime_env=env, log_to_driver=False,
               logging_level="ERROR", configure_logging=False)
    except ConnectionError as e:
      raise Unreachable(f"no Ray cluster at {self.address}: "
                        f"{str(e).splitlines()[0]}") from None
    if self.gpus is None:
      self.gpus = 1.0 if ray.cluster_resources().get("GPU", 0) else 0.0
    return self

  def job(self, fn, axes, trials, root, paired, folded) -> "Job":
    """A sweep's chunks as tasks of this cluster."""
    import ray
    from ray import cloudpickle
    self.connect()
    spec = Spec(fn, axes, trials, np.asarray(jax.random.key_data(root)),
                str(jax.random.key_impl(root)), tuple(paired), tuple(folded))
    blob = cloudpickle.dumps(spec)
    options = dict(num_cpus=self.cpus, num_gpus=self.gpus or 0,
                   max_retries=self.retries)
    return Job(self, ray.put(blob), hashlib.sha256(blob).hexdigest(),
               ray.remote(lay_out).options(**options),
               ray.remote(compute).options(**options))


@dataclasses.dataclass
class Job:
  """One sweep on a :class:`RayCluster` (:meth:`RayCluster.job`)."""
  cluster: RayCluster
  blob: Any  # ObjectRef of the pickled Spec
  digest: str
  lay_out: Any
  compute: Any

  def layout(self, chunk, block, override) -> tuple[int, int]:
    """``(chunk, block)`` as a worker lays the sweep out on its device."""
    import ray
    chunk, block, platform = ray.get(self.lay_out.remote(
        self.blob, self.digest, chunk, block, override))
    self.cluster.platforms.add(platform)
    return chunk, block

  def chunks(self, todo, chunk: int, block: int
             ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """``(i, records)`` of each chunk in ``todo``, as their tasks finish.
    Leaving early (an error, a stop) cancels the tasks still pending."""
    import ray
    pending = {self.compute.remote(self.blob, self.digest, i, chunk, block): i
               for i in todo}
    try:
      while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(ready[0])
        yield i, ray.get(ready[0])
    finally:
      for ref in pending:
        ray.cancel(ref, force=True)
