"""Stopping a sweep on SIGINT (Ctrl-C) or SIGTERM (a scheduler) within a second.

The main thread cannot act on a signal while it waits inside JAX for a
chunk (up to a chunk's duration, ~15 s), so :func:`run` runs the work in a
second thread and keeps the main thread free to take the signal. The chunk
in flight is abandoned, not waited for: the handler waits only for a file
being written (``results.WRITING``, so every finished chunk is whole and no
temporary file is left), calls ``on_stop`` (it releases what the run holds
and returns the line to print), prints that line and ends the process with
status 128 + the signal (130 for SIGINT, 143 for SIGTERM), with no
traceback. Results cannot change: what is on disk is only ever finished,
checksummed chunks, and a rerun resumes from them.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable, TypeVar

from vanishing.engine import results

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
WRITE_WAIT_S = 1.5  # longest wait for a file being written when stopped


def run(body: Callable[[], T], on_stop: Callable[[int], str]) -> T:
  """``body()``, stoppable by SIGINT/SIGTERM; its exceptions pass through.

  Outside the main thread (signals cannot be caught there) ``body`` simply
  runs.
  """
  if threading.current_thread() is not threading.main_thread():
    return body()
  outcome: dict = {}

  def work():
    try:
      outcome["value"] = body()
    except BaseException as e:  # noqa: BLE001 (re-raised in the caller)
      outcome["error"] = e

  def stop(signum, frame):
    for s in SIGNALS:  # a second Ctrl-C does not interrupt the stop
      signal.signal(s, signal.SIG_IGN)
    results.WRITING.acquire(timeout=WRITE_WAIT_S)
    try:
      line = on_stop(signum)
    except BaseException as e:  # noqa: BLE001 (the stop must not fail)
      line = f"stopped ({type(e).__name__} while stopping: {e})"
    try:
      sys.stdout.flush()
      print(line, file=sys.stderr, flush=True)
    finally:
      os._exit(128 + signum)

  previous = {s: signal.signal(s, stop) for s in SIGNALS}
  try:
    worker = threading.Thread(target=work, name="vanishing-run", daemon=True)
    worker.start()
    while worker.is_alive():
      worker.join(0.2)
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)
  if "error" in outcome:
    raise outcome["error"]
  return outcome["value"]
