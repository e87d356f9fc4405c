"""Tidy result files on disk, written atomically, plus run metadata.

Every file is written to a temporary name in its destination directory and
renamed into place (``os.replace`` is atomic on POSIX), so a reader never sees
a half-written file and an interrupted run leaves no partial results.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import platform
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


# Held while a file is written: a stop on a signal (vanishing.engine.interrupt)
# takes it first, so it never leaves a temporary file or half a chunk.
WRITING = threading.RLock()


@contextlib.contextmanager
def _atomic(path: Path, mode: str):
  with WRITING:
    with _atomic_unlocked(path, mode) as f:
      yield f


@contextlib.contextmanager
def _atomic_unlocked(path: Path, mode: str):
  path = Path(path)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                             suffix=".tmp")
  try:
    with os.fdopen(fd, mode) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; act like open()
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise


def write_text(path: Path, text: str) -> None:
  """Writes ``text`` to ``path`` atomically."""
  with _atomic(path, "w") as f:
    f.write(text)


def write_bytes(path: Path, writer: Callable[[Any], None]) -> None:
  """Calls ``writer(binary_file)`` and moves the result to ``path`` atomically."""
  with _atomic(path, "wb") as f:
    writer(f)


_CSV_ROWS = 65536


def _fmt(x) -> str:
  if isinstance(x, (bool, np.bool_)):
    return "1" if x else "0"
  if isinstance(x, (float, np.floating)):
    return repr(float(x))  # round-trips exactly; nan/inf as 'nan'/'inf'
  return str(x)


def write_csv(path: Path, columns) -> None:
  """Writes equal-length columns as a CSV table with a header row.

  Args:
    path: destination (written atomically).
    columns: name -> column, or an iterable of such mappings (pieces of one
      long table, e.g. a sweep's chunks), written one after the other in
      bounded memory; the first piece sets the columns.
  """
  pieces = iter([columns] if isinstance(columns, Mapping) else columns)
  with _atomic(path, "w") as f:
    w = csv.writer(f, lineterminator="\n")
    names = None
    for piece in pieces:
      if names is None:
        names = list(piece)
        w.writerow(names)
      cols = [np.asarray(piece[n]) for n in names]
      if len({len(c) for c in cols}) > 1:
        raise ValueError("columns differ in length")
      for start in range(0, len(cols[0]) if cols else 0, _CSV_ROWS):
        part = [c[start:start + _CSV_ROWS].tolist() for c in cols]
        w.writerows([_fmt(x) for x in row] for row in zip(*part))


def read_csv(path: Path) -> dict[str, np.ndarray]:
  """Loads a table written by :func:`write_csv` (numeric columns as float)."""
  with open(path, newline="") as f:
    rows = list(csv.reader(f))
  header, body = rows[0], rows[1:]
  out = {}
  for j, name in enumerate(header):
    col = [r[j] for r in body]
    try:
      out[name] = np.array([float(x) for x in col])
    except ValueError:
      out[name] = np.array(col)
  return out


def json_default(o):
  """``json.dumps(default=...)`` for numpy scalars and arrays and paths."""
  if isinstance(o, np.generic):
    return o.item()
  if isinstance(o, np.ndarray):
    return o.tolist()
  if isinstance(o, Path):
    return str(o)
  raise TypeError(f"not JSON serialisable: {type(o)}")


def write_json(path: Path, obj: Any) -> None:
  """Writes ``obj`` as indented JSON atomically (numpy scalars allowed)."""
  write_text(path, json.dumps(obj, indent=2, default=json_default) + "\n")


def save_figure(fig, path: Path) -> None:
  """Saves a matplotlib figure as PNG atomically."""
  write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=120,
                                          bbox_inches="tight"))


def git_revision() -> str | None:
  """The git commit of the package source, or None outside a checkout."""
  here = Path(__file__).resolve().parent
  try:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, check=True,
                         capture_output=True, text=True, timeout=5)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "."],
                           cwd=here, capture_output=True, text=True, timeout=5)
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
  except (OSError, subprocess.SubprocessError):
    return None


def environment() -> dict[str, Any]:
  """Versions, device and revision for a result's JSON sidecar."""
  import jax
  import jaxlib
  import optax
  dev = jax.devices()[0]
  return {
      "versions": {
          "python": platform.python_version(),
          "jax": jax.__version__,
          "jaxlib": jaxlib.__version__,
          "optax": optax.__version__,
          "numpy": np.__version__,
      },
      "device": {"platform": dev.platform, "kind": dev.device_kind,
                 "count": jax.device_count()},
      "host": {"machine": platform.machine(), "cpus": os.cpu_count()},
      "git": git_revision(),
  }


def check_writable(out_dir: Path) -> None:
  """Creates ``out_dir`` if needed and proves a file can be written there.

  Raises:
    OSError: with the reason, before any compute is spent.
  """
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  fd, probe = tempfile.mkstemp(dir=out_dir, prefix=".probe.")
  os.close(fd)
  os.unlink(probe)
