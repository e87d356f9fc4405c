"""Every CPU core as an XLA device, by default.

XLA runs the computations of one CPU device on one thread pool, and the
small elementwise passes of a block of runs (a few thousand numbers) are not
split over threads; with one device per core the sweep engine's blocks run
side by side (``vanishing.engine.sweep`` shards them over the local devices, with
the same records for any device count). The device count of the host
platform is fixed when JAX starts its backend, from the ``XLA_FLAGS``
environment variable, so :func:`use_all_cores` sets it there, once, on
import of the package, unless the user already chose a count or JAX has
already started.
"""

from __future__ import annotations

import os
from typing import MutableMapping

FLAG = "--xla_force_host_platform_device_count"


def cores() -> int:
  """The CPU cores this process may run on."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not on every platform
    return os.cpu_count() or 1


def use_all_cores(environ: MutableMapping[str, str] = os.environ) -> bool:
  """Asks XLA for one host device per core; True if it was set here.

  Leaves ``XLA_FLAGS`` alone if it already names a device count (the user's
  choice wins, e.g. ``--xla_force_host_platform_device_count=1``) and does
  nothing once JAX's backend has started (too late to change it).
  """
  flags = environ.get("XLA_FLAGS", "")
  if FLAG in flags or _backend_started():
    return False
  environ["XLA_FLAGS"] = f"{flags} {FLAG}={cores()}".strip()
  return True


def _backend_started() -> bool:
  try:
    from jax._src import xla_bridge
    return xla_bridge.backends_are_initialized()
  except (ImportError, AttributeError):  # a JAX without it: assume not
    return False
