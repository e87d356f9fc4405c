"""Finished chunks of a sweep on disk: resumable, checked, never half-read.

A store is a directory holding

* ``manifest.json``: the sweep's full configuration (written once, atomically);
* ``chunk_NNNNNN.npz``: the per-run records of chunk N (written atomically);
* ``chunk_NNNNNN.json``: its length, run count and SHA-256, written after the
  ``.npz``: a chunk counts as finished only when both exist and agree.

Every chunk has its own small entry file instead of one shared manifest of
checksums, so processes of a multi-host sweep never rewrite a common file. A
chunk whose data does not match its entry (truncated, corrupted, or written
by a process killed between the two renames) is reported and recomputed,
never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vanishing.engine import results


class ConfigMismatch(ValueError):
  """The directory holds a sweep with another configuration."""


def _canonical(config: Mapping[str, Any]) -> Any:
  """JSON round trip, so tuples, numpy scalars and lists compare equal."""
  return json.loads(json.dumps(config, default=results.json_default,
                               sort_keys=True))


class ChunkStore:
  """The chunk files of one sweep.

  Args:
    directory: where the chunks live (created if needed).
    config: everything that determines the results (grid, trials, seed,
      settings, block width); keys in ``free`` may differ on resume.
    free: config keys that do not change results (e.g. ``chunk``): on resume
      the stored values win.
    overwrite: discard whatever the directory holds.

  Raises:
    ConfigMismatch: the directory holds a sweep with a different config.
    OSError: the directory cannot be written.
  """

  MANIFEST = "manifest.json"

  def __init__(self, directory: Path, config: Mapping[str, Any],
               free: tuple[str, ...] = ("chunk",), overwrite: bool = False):
    self.dir = Path(directory)
    self.reports: list[str] = []
    if overwrite and self.dir.exists():
      shutil.rmtree(self.dir)
    self.dir.mkdir(parents=True, exist_ok=True)
    config = _canonical(config)
    path = self.dir / self.MANIFEST
    if path.exists():
      stored = json.loads(path.read_text())
      fixed = lambda c: {k: v for k, v in c.items() if k not in free}
      if fixed(stored) != fixed(config):
        keys = sorted(k for k in set(stored) | set(config) if k not in free
                      and stored.get(k) != config.get(k))
        raise ConfigMismatch(
            f"{self.dir} holds a sweep with another configuration "
            f"(differs in: {', '.join(keys)})")
      self.config = stored
    else:
      results.write_json(path, config)
      self.config = config

  def record(self, key: str, value) -> None:
    """Adds a free setting (e.g. the chunk size chosen) to the manifest."""
    self.config = dict(self.config, **_canonical({key: value}))
    results.write_json(self.dir / self.MANIFEST, self.config)

  def _paths(self, index: int) -> tuple[Path, Path]:
    stem = self.dir / f"chunk_{index:06d}"
    return stem.with_suffix(".npz"), stem.with_suffix(".json")

  def finished(self, index: int) -> bool:
    """True when chunk ``index`` is on disk and matches its entry.

    A chunk file without a matching entry is reported (once) and removed.
    """
    data, entry = self._paths(index)
    if not entry.exists():
      if data.exists():
        data.unlink()  # data without entry: a write that did not finish
      return False
    try:
      meta = json.loads(entry.read_text())
      blob = data.read_bytes()
      ok = (len(blob) == meta["bytes"]
            and hashlib.sha256(blob).hexdigest() == meta["sha256"])
    except (OSError, ValueError, KeyError):
      ok = False
    if not ok:
      self.reports.append(f"chunk {index}: data does not match its checksum; "
                          "recomputed")
      for p in (data, entry):
        p.unlink(missing_ok=True)
    return ok

  def save(self, index: int, records: Mapping[str, np.ndarray]) -> None:
    """Writes chunk ``index`` (data, then its entry), each atomically."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in records.items()})
    blob = buf.getvalue()
    data, entry = self._paths(index)
    n = len(next(iter(records.values()))) if records else 0
    with results.WRITING:  # both files, or neither, on a stop
      results.write_bytes(data, lambda f: f.write(blob))
      results.write_json(entry, {"runs": n, "bytes": len(blob),
                                 "sha256": hashlib.sha256(blob).hexdigest()})

  def load(self, index: int) -> dict[str, np.ndarray]:
    """The records of a finished chunk (checked again against its entry)."""
    data, entry = self._paths(index)
    blob = data.read_bytes()
    meta = json.loads(entry.read_text())
    if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
      raise OSError(f"chunk {index} changed on disk while the sweep ran")
    with np.load(io.BytesIO(blob)) as z:
      return {k: z[k] for k in z.files}

  def remove(self) -> None:
    """Deletes the store (after its results have been written elsewhere)."""
    shutil.rmtree(self.dir, ignore_errors=True)


def saved_runs(directory: Path) -> int:
  """Runs in the finished chunks of every store at or below ``directory``."""
  total = 0
  for entry in Path(directory).rglob("chunk_*.json"):
    try:
      if entry.with_suffix(".npz").exists():
        total += int(json.loads(entry.read_text())["runs"])
    except (OSError, ValueError, KeyError):
      pass
  return total
