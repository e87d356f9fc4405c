"""What an experiment is (:class:`Experiment`) and what it hands back
(:class:`Outcome`)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from vanishing.experiments.flags import flags_of

_flags_of = functools.lru_cache(maxsize=None)(flags_of)


@dataclasses.dataclass
class Outcome:
  """What an experiment hands to the command line to write and print.

  Attributes:
    tables: file key -> columns of equal length; key ``""`` is
      ``<name>.csv``, any other key ``k`` is ``<name>_<k>.csv``; key
      ``"runs"`` holds one row per run (skipped by ``--norecords``).
    figure: a matplotlib figure, saved as ``<name>.png``.
    summary: text for the terminal.
    meta: timings and sweep facts for the JSON sidecar ``<name>.json``.
    markdown: a Markdown report, written as ``<name>.md`` (or None).
  """
  tables: dict[str, dict[str, np.ndarray]]
  figure: Any
  summary: str
  meta: dict[str, Any]
  markdown: str | None = None


def _as_given(given: Any) -> Any:
  return given.settings()


class Experiment(NamedTuple):
  """One command of ``python -m vanishing``: an entry of
  ``vanishing.experiments.REGISTRY``.

  Attributes:
    name: its command, ``python -m vanishing NAME``.
    summary: one line for ``python -m vanishing --help``.
    settings: its frozen settings dataclass: a ``seed`` field, and a flag
      on each field a flag sets (``flags.setting``, ``flags.nested``).
    presets: named settings, chosen by ``--preset=NAME``: ``"default"`` (no
      flag), ``"paper"`` (the paper's scale, also ``--paper``),
      ``"testing"`` (seconds), and any others the experiment names.
    execute: ``(settings, sweeps) -> Outcome | None`` (None on a process
      other than 0); ``sweeps`` (``vanishing.engine.series.Sweeps``) runs
      its sweeps where the command line says.
    tables: the keys of the tables it writes (``""``: ``<name>.csv``,
      ``k``: ``<name>_<k>.csv``).
    from_flags: ``(flags.Given) -> settings``: the checks between flags,
      raising ``FlagError`` (default: none).
  """
  name: str
  summary: str
  settings: type
  presets: Mapping[str, Any]
  execute: Callable[..., Outcome | None]
  tables: tuple[str, ...] = ("",)
  from_flags: Callable[[Any], Any] = _as_given

  @property
  def flags(self) -> tuple:
    """The flags it reads, off its settings' fields (``flags.flags_of``)."""
    return _flags_of(self.settings)

  @property
  def default(self) -> Any:
    return self.presets["default"]

  @property
  def paper(self) -> Any:
    return self.presets["paper"]
