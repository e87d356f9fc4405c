"""One experiment from settings to files: the run behind ``python -m vanishing``.

:func:`run` takes the output directory (its lock), the devices or the Ray
cluster, a chunk store per sweep, calls the experiment's ``execute``, writes
the output files and removes the chunks; a signal stops it with the finished
chunks kept and one line on how to resume.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import jax

from vanishing.cli import outputs
from vanishing.engine import cluster as clusters
from vanishing.engine import dirlock, interrupt, results, series, store
from vanishing.experiments.flags import FlagError


@dataclasses.dataclass(frozen=True)
class Run:
  """How and where an experiment runs (the command line's common flags)."""
  out_dir: Path
  overwrite: bool = False
  records: bool = True
  keep_chunks: bool = False
  devices: int = 0
  block: int | None = None
  shard: tuple[int, int] = (0, 1)
  cluster: clusters.RayCluster | None = None


def run(exp, settings, how: Run, meta: Mapping[str, Any] | None = None,
        log=print, stoppable: bool = False) -> list[Path] | None:
  """Runs experiment module ``exp`` with ``settings``; writes its files.

  ``meta`` joins the JSON sidecar (the command, its flags). Returns the
  paths written, None for a shard (``how.shard``). The directory is locked
  meanwhile (:mod:`vanishing.engine.dirlock`). ``stoppable`` (the command line):
  SIGINT/SIGTERM end the process at once, finished chunks kept, with one
  line on how to resume (:mod:`vanishing.engine.interrupt`); leave it off where a
  signal must not end the process (a notebook).

  Raises:
    FlagError: on ``--out_dir`` (results already there, not writable, in
      use by another run, a chunk store of another configuration, a failed
      write), ``--devices`` or ``--ray_address`` (no cluster there), before
      anything is computed where it can be.
  """
  out_dir = Path(how.out_dir)
  try:
    results.check_writable(out_dir)
  except OSError as e:
    raise FlagError("out_dir", f"cannot write to {out_dir}: {e.strerror or e}")
  if how.cluster is not None:  # here, in the main thread, as Ray wants
    try:
      how.cluster.connect()
    except clusters.Unreachable as e:
      raise FlagError("ray_address", str(e))
  group = f"{how.shard[1]} shards" if how.shard[1] > 1 else None
  lock = dirlock.DirLock(out_dir, group)
  try:
    lock.acquire()
  except dirlock.Busy as e:
    raise FlagError("out_dir", str(e))
  written: list[Path] = []  # the results, once written
  body = lambda: _locked(exp, settings, how, meta, log, written)
  try:
    if not stoppable:
      return body()
    return interrupt.run(body, lambda signum: _stopped(exp, how, signum, lock,
                                                       written))
  finally:
    lock.release()


def _stopped(exp, how: Run, signum: int, lock, written: list[Path]) -> str:
  """The line a run stopped by signal ``signum`` ends with."""
  lock.release()
  name, out_dir = exp.name, Path(how.out_dir)
  what = f"{name}: stopped by {signal.Signals(signum).name}"
  if written:
    return f"{what} after writing its results ({written[-1]})"
  chunks = out_dir / f".{name}_chunks"
  again = ("the same command without --overwrite" if how.overwrite
           else "the same command")
  return (f"{what}; {store.saved_runs(chunks):,} finished runs are saved in "
          f"{chunks}; {again} resumes from them")


def _widths(stores: Mapping[str, Any]) -> int | dict[str, int] | None:
  """The block width the sweeps ran with (``vanishing.engine.layout``): one number
  where they agree, else per sweep (its tag)."""
  widths = {tag or "all": st.config["block"] for tag, st in stores.items()
            if "block" in st.config}
  if len(set(widths.values())) == 1:
    return next(iter(widths.values()))
  return widths or None


def _where(how: Run, devices) -> dict[str, Any]:
  """Where the sweeps ran, for the sidecar: the platform, and the local
  devices or the Ray cluster."""
  if how.cluster is None:
    return {"platform": devices[0].platform, "devices": len(devices),
            "cluster": "local"}
  platforms = sorted(how.cluster.platforms) or ["?"]
  return {"platform": ",".join(platforms),
          "cluster": f"ray ({how.cluster.address})"}


def _locked(exp, settings, how: Run, meta, log, written: list[Path]
            ) -> list[Path] | None:
  """The body of :func:`run`, holding the directory's lock."""
  name, out_dir = exp.name, Path(how.out_dir)
  existing = outputs.existing_outputs(out_dir, name, exp.tables)
  complete = outputs.output_paths(out_dir, name, exp.tables)["meta"] in existing
  if complete and not how.overwrite:
    raise FlagError("out_dir", f"{out_dir} already holds {name} results "
                    f"({', '.join(p.name for p in existing)}); pass "
                    "--overwrite or choose another --out_dir")

  local = jax.local_devices()
  if how.devices > len(local):
    raise FlagError("devices", f"{how.devices} requested, this process has "
                    f"{len(local)}")
  devices = local[:how.devices] if how.devices else local

  # Everything that decides the results, for the chunk stores' manifests;
  # chunk size, device count, shards and cluster do not. Each sweep records the
  # block width it chose (vanishing.engine.layout) and keeps it when resumed.
  config = {"experiment": name,
            "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "chunk"}}
  chunk_root = out_dir / f".{name}_chunks"
  if how.overwrite and chunk_root.exists():
    shutil.rmtree(chunk_root)  # also stores of sweeps this run will not make
  stores = {}

  def options(tag: str) -> dict:
    stores[tag] = store.ChunkStore(chunk_root / (tag or "all"),
                                   dict(config, sweep=tag),
                                   free=("chunk", "block"))
    return {"store": stores[tag], "devices": devices, "shard": how.shard,
            "collect": False, "override": how.block, "cluster": how.cluster}

  t0 = time.perf_counter()
  try:
    outcome = exp.execute(settings, series.Sweeps(options))
  except store.ConfigMismatch as e:
    raise FlagError("out_dir", f"{e}; pass --overwrite or choose another "
                    "--out_dir")
  except OSError as e:
    raise FlagError("out_dir", f"writing to {out_dir} failed: {e.strerror or e}")
  for st in stores.values():
    for line in st.reports:
      print(f"{name}: {line}", file=sys.stderr)
  if outcome is None:
    log(f"{name}: shard {how.shard[0]} of {how.shard[1]} finished its chunks "
        f"in {chunk_root}; once every shard has, the same command without "
        "--shard writes the results")
    return None
  if not how.records:
    outcome.tables.pop("runs", None)
  meta = {"experiment": name, **(meta or {}), "settings": dataclasses.asdict(settings),
          **outcome.meta, "block": _widths(stores), **_where(how, devices),
          "wall_s": time.perf_counter() - t0, **results.environment()}
  try:
    paths = outputs.write_outputs(out_dir, name, exp.tables, outcome, meta)
  except OSError as e:
    raise FlagError("out_dir", f"writing results to {out_dir} failed: "
                    f"{e.strerror or e}")
  written += paths
  if not how.keep_chunks:
    for st in stores.values():
      st.remove()
    if chunk_root.exists() and not any(chunk_root.iterdir()):
      chunk_root.rmdir()
  log(outcome.summary)
  log("wrote " + ", ".join(str(p) for p in paths))
  return paths
