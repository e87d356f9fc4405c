"""One run at a time in an output directory: ``<out_dir>/.vanishing.lock``.

The lock is an ``flock`` on that file, so the kernel (or the NFS lock
manager) drops it when its process ends, however it ends; the file's text
names the holder (host, process id, command) for the message that refuses
a second run. A file whose lock nobody holds was left by a process that died
without removing it: the next run takes it over with a warning.

The shards of one sweep (``--shard=I/N`` with the same N, a job array's
tasks) share the directory: each holds a shared lock, which refuses any
other run but not the group's other members; the last one out removes the
file.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

NAME = ".vanishing.lock"


class Busy(Exception):
  """The directory is in use; the message names the holder."""


def _describe(holder: dict) -> str:
  who = f"process {holder.get('pid', '?')} on host {holder.get('host', '?')}"
  if holder.get("group"):
    who += f" (one of a sweep of {holder['group']})"
  since = f", since {holder['started']}" if holder.get("started") else ""
  argv = holder.get("command") or []
  command = " ".join(["python -m vanishing", *argv[1:]]) if argv else ""
  return who + (f" [{command}]" if command else "") + since


def _read(fd: int) -> dict | None:
  os.lseek(fd, 0, os.SEEK_SET)
  text = os.read(fd, 1 << 16).decode(errors="replace")
  if not text.strip():
    return None
  try:
    return json.loads(text)
  except ValueError:
    return {"host": "?", "pid": "?"}


def _try(fd: int, mode: int) -> bool:
  try:
    fcntl.flock(fd, mode | fcntl.LOCK_NB)
    return True
  except BlockingIOError:
    return False


class DirLock:
  """The lock of ``out_dir``, held from :meth:`acquire` to :meth:`release`.

  Args:
    out_dir: the directory (must exist).
    group: None for a whole sweep; for a shard of one (``--shard``) a text
      its shards share (``"2 shards"``).
    warn: where the take-over of a stale lock is reported.
  """

  def __init__(self, out_dir: Path, group: str | None = None, warn=None):
    self.path = Path(out_dir) / NAME
    self.group = group
    self.warn = warn or (lambda m: print(f"warning: {m}", file=sys.stderr))
    self.fd: int | None = None

  def _same_file(self, fd: int) -> bool:
    try:
      return os.stat(self.path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
      return False

  def acquire(self, patience_s: float = 2.0) -> None:
    """Takes the lock, or raises :class:`Busy` naming the holder.

    Waits up to ``patience_s`` only for a holder that is writing its text
    (or, in a multi-process sweep, a fellow member that is).
    """
    deadline = time.monotonic() + patience_s
    while True:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      if _try(fd, fcntl.LOCK_EX):
        if not self._same_file(fd):  # removed by its last holder meanwhile
          os.close(fd)
          continue
        stale = _read(fd)
        if stale:
          self.warn(f"--out_dir: {self.path.parent} was locked by "
                    f"{_describe(stale)}, which no longer holds it (it ended "
                    "without releasing it); taking it over")
        self._write(fd)
        if self.group is not None:
          fcntl.flock(fd, fcntl.LOCK_SH)  # let the group's others in
        self.fd = fd
        return
      holder = _read(fd)
      if (self.group is not None and holder is not None
          and holder.get("group") == self.group and _try(fd, fcntl.LOCK_SH)):
        if self._same_file(fd) and _read(fd) == holder:
          self.fd = fd
          return
        fcntl.flock(fd, fcntl.LOCK_UN)
      os.close(fd)
      # An empty file: its holder is writing its text this instant.
      wait = holder is None or (self.group is not None
                                and holder.get("group") == self.group)
      if not wait or time.monotonic() > deadline:
        raise Busy(f"{self.path.parent} is in use by "
                   f"{_describe(holder or {})}; wait for it to finish or "
                   "choose another --out_dir")
      time.sleep(0.05)

  def _write(self, fd: int) -> None:
    text = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                       "group": self.group, "command": sys.argv,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())
    os.fsync(fd)

  def release(self) -> None:
    """Gives the lock up; the last holder removes the file."""
    if self.fd is None:
      return
    fd, self.fd = self.fd, None
    if _try(fd, fcntl.LOCK_EX) and self._same_file(fd):
      try:
        os.unlink(self.path)
      except FileNotFoundError:
        pass
    os.close(fd)

  def __enter__(self):
    self.acquire()
    return self

  def __exit__(self, *exc):
    self.release()
