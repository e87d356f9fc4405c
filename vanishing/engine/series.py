"""The series of sweeps an experiment runs.

:func:`run_sweeps` is the loop an experiment of several compiled sweeps
(one per T, per (problem, method), per configuration) needs: each sweep
under its own tag (its chunk store), skipped off process 0, timings summed,
the next one compiled while the current one runs. ``SweepOptions`` are the
per-sweep keyword arguments of ``sweep.run`` (store, devices, process,
progress) the caller hands down.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Iterable, Mapping, NamedTuple

from vanishing.engine import sweep


class Timing(NamedTuple):
  """Seconds spent compiling and running, summed over an experiment's sweeps."""
  compile_s: float
  run_s: float


@dataclasses.dataclass(frozen=True)
class Sweep:
  """``sweep.run(fn, axes, trials, key, **kwargs)`` of one configuration.

  Attributes:
    label: what the experiment calls the configuration (handed back with
      its result).
    tag: its name for ``options`` (its chunk store's subdirectory).
    kwargs: ``chunk``, ``block``...; ``options(tag)`` may override them.
  """
  label: Any
  tag: str
  fn: Callable
  axes: Mapping[str, Any]
  trials: int
  key: Any
  kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def run_sweeps(sweeps: Iterable[Sweep], options: SweepOptions | None
               ) -> tuple[list[tuple[Any, Any]], Timing] | None:
  """Runs each sweep in turn: ``([(label, SweepResult), ...], Timing)``.

  While a sweep runs, a second thread compiles the next one
  (``sweep.prepare``): compiling is single-threaded, so it takes a core the
  running sweep's devices leave mostly free, and an experiment of many
  sweeps (compare: 21) no longer waits for each compile in turn. The timing
  reports the compile seconds of every sweep (overlapped with the runs but
  the first) and the run seconds.

  None on a process other than 0 of a multi-process sweep (it computes its
  share of every sweep's chunks; process 0 gathers the results).
  """
  todo = [(sw, {**sw.kwargs, **(options(sw.tag) if options else {})})
          for sw in sweeps]
  done, compile_s, run_s = [], 0.0, 0.0
  ahead = _Prefetch(sweep.prepare, todo[0]) if todo else None
  for i, (sw, kwargs) in enumerate(todo):
    compile_s += ahead.wait()
    ahead = _Prefetch(sweep.prepare, todo[i + 1]) if i + 1 < len(todo) else None
    res = sweep.run(sw.fn, sw.axes, sw.trials, sw.key, **kwargs)
    if res is None:
      continue
    compile_s += res.compile_s  # ~0 once prepared
    run_s += res.run_s
    done.append((sw.label, res))
  if ahead is not None:
    ahead.wait()
  if not done:
    return None
  return done, Timing(compile_s, run_s)


class _Prefetch:
  """``prepare(fn, axes, trials, key, **kwargs)`` in a daemon thread (a
  stop by signal ends the process without waiting for it). An error is
  dropped: ``sweep.run`` then compiles itself and raises it where it
  belongs."""

  def __init__(self, prepare, item):
    sw, kwargs = item
    self.seconds = 0.0

    def work():
      try:
        self.seconds = prepare(sw.fn, sw.axes, sw.trials, sw.key, **kwargs)
      except Exception:  # noqa: BLE001 (re-raised by sweep.run)
        pass

    self.thread = threading.Thread(target=work, name="vanishing-compile",
                                   daemon=True)
    self.thread.start()

  def wait(self) -> float:
    self.thread.join()
    return self.seconds


# options(tag) -> extra keyword arguments for ``sweep.run`` (store, devices,
# process, progress) for the sweep an experiment names ``tag`` ("" for its
# only sweep, "T0040" for the length experiment's T = 40, ...).
SweepOptions = Callable[[str], dict]


def sweep_options(options: SweepOptions | None, label: Callable[[str], str]
                  ) -> SweepOptions:
  """``options`` with a progress line per sweep unless it brings its own."""
  def get(tag: str) -> dict:
    kw = dict(options(tag)) if options else {}
    kw.setdefault("progress", sweep.ProgressPrinter(label(tag)))
    return kw
  return get
