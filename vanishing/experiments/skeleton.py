"""What every experiment hands back: its :class:`Outcome`."""

from __future__ import annotations

import dataclasses
from typing import Any

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
