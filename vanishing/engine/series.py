"""How an experiment runs its sweeps: the one object it is handed.

``execute(settings, sweeps)`` gets a :class:`Sweeps`: the command line's
(:mod:`vanishing.cli.launch`) gives each sweep its chunk store, devices,
shard, cluster and the ``--block`` override, by the sweep's tag; from Python,
``Sweeps()`` runs in memory on the local devices. An experiment asks it to
run one sweep (:meth:`Sweeps.run`) or a series of them
(:meth:`Sweeps.series`: one chunk store per tag, None for a shard,
timings summed, the next one compiled while the current one runs), and
adds progress lines with :meth:`Sweeps.labelled`.
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
    tag: its name for :class:`Sweeps` (its chunk store's subdirectory).
    kwargs: ``chunk``, ``block``...; the command line's options for the
      tag override them.
  """
  label: Any
  tag: str
  fn: Callable
  axes: Mapping[str, Any]
  trials: int
  key: Any
  kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Sweeps:
  """Where and how an experiment's sweeps run.

  Attributes:
    options: ``tag -> keyword arguments of sweep.run`` for the sweep the
      experiment names ``tag`` (``""`` for its only sweep, ``"T0040"`` for
      the length experiment's T = 40, ...): its store, devices, process,
      collect, the block override; they override the experiment's own
      (``chunk``, ``block``). None: in memory, every local device.
    label: ``tag -> the label of its progress line``; None: no progress.
  """
  options: Callable[[str], Mapping[str, Any]] | None = None
  label: Callable[[str], str] | None = None

  def labelled(self, label: Callable[[str], str]) -> "Sweeps":
    """These sweeps with a progress line per sweep, labelled ``label(tag)``."""
    return dataclasses.replace(self, label=label)

  def kwargs(self, tag: str, **own) -> dict[str, Any]:
    """The keyword arguments of ``sweep.run`` for sweep ``tag``: the
    experiment's ``own``, then the options for the tag, then progress."""
    kw = {**own, **(self.options(tag) if self.options else {})}
    if self.label is not None:
      kw.setdefault("progress", sweep.ProgressPrinter(self.label(tag)))
    return kw

  def run(self, tag: str, fn: Callable, axes: Mapping[str, Any], trials: int,
          key: Any, **own) -> sweep.SweepResult | None:
    """``sweep.run`` of one sweep under ``tag``; None for a shard (``--shard``)."""
    return sweep.run(fn, axes, trials, key, **self.kwargs(tag, **own))

  def series(self, sweeps: Iterable[Sweep]
             ) -> tuple[list[tuple[Any, Any]], Timing] | None:
    """Runs each sweep in turn: ``([(label, SweepResult), ...], Timing)``.

    While a sweep runs, a second thread compiles the next one
    (``sweep.prepare``): compiling is single-threaded, so it takes a core
    the running sweep's devices leave mostly free, and an experiment of
    many sweeps (compare: 21) no longer waits for each compile in turn. The
    timing reports the compile seconds of every sweep (overlapped with the
    runs but the first) and the run seconds.

    None for a shard (``--shard``: it computes its share of every sweep's
    chunks; the command without ``--shard`` gathers the results).
    """
    todo = [(sw, self.kwargs(sw.tag, **sw.kwargs)) for sw in sweeps]
    done, compile_s, run_s = [], 0.0, 0.0
    ahead = _Prefetch(sweep.prepare, todo[0]) if todo else None
    for i, (sw, kwargs) in enumerate(todo):
      compile_s += ahead.wait()
      ahead = (_Prefetch(sweep.prepare, todo[i + 1]) if i + 1 < len(todo)
               else None)
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
