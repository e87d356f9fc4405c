"""What an experiment is (:class:`Experiment`) and what it hands back
(:class:`Outcome`)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np


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


class Experiment(NamedTuple):
  """One command of ``python -m vanishing``: an entry of
  ``vanishing.experiments.REGISTRY``.

  Attributes:
    name: its command, ``python -m vanishing NAME``.
    summary: one line for ``python -m vanishing --help``.
    settings: its frozen settings type (with a ``seed`` field and
      ``to_json()``).
    presets: named settings: ``"default"`` (no flag), ``"paper"``
      (``--paper``: the paper's scale), ``"testing"`` (seconds), and any
      others the experiment names.
    flags: the :class:`vanishing.experiments.flags.Flag` of each flag it
      reads; a flag's default is its field's value in the preset.
    from_flags: ``(flags.Given) -> settings``: the checks between flags,
      raising ``FlagError``.
    tables: the keys of the tables it writes (``""``: ``<name>.csv``,
      ``k``: ``<name>_<k>.csv``).
    execute: ``(settings, options) -> Outcome | None`` (None on a process
      other than 0); ``options(tag)`` gives the keyword arguments of each
      sweep (``vanishing.engine.series``).
  """
  name: str
  summary: str
  settings: type
  presets: Mapping[str, Any]
  flags: tuple
  from_flags: Callable[[Any], Any]
  tables: tuple[str, ...]
  execute: Callable[..., Outcome | None]

  @property
  def default(self) -> Any:
    return self.presets["default"]

  @property
  def paper(self) -> Any:
    return self.presets["paper"]
