"""What the convergence experiments share: settings, outputs on disk."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vanishing import results
from vanishing.experiments.convergence import LatchConfig


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of a convergence sweep over (w0, s, lr) [x T].

  Attributes:
    w0, s, lr: swept values (each a tuple, swept as a grid).
    T: sequence lengths; the density experiment takes exactly one.
    trials: independent runs per grid cell.
    seed: root seed.
    config: static run settings; its ``T`` is replaced per length.
    chunk: runs per compiled call (memory bound), None for the default.
    heldout_acc: held-out accuracy a converged run needs to count in
      ``heldout_ok``.
  """
  w0: tuple[float, ...]
  s: tuple[float, ...]
  lr: tuple[float, ...]
  T: tuple[int, ...]
  trials: int
  seed: int = 0
  config: LatchConfig = LatchConfig()
  chunk: int | None = None
  heldout_acc: float = 0.9

  def axes(self) -> dict[str, np.ndarray]:
    return {"w0": np.asarray(self.w0, np.float64),
            "s": np.asarray(self.s, np.float64),
            "lr": np.asarray(self.lr, np.float64)}

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


@dataclasses.dataclass
class Outcome:
  """What an experiment hands to the command line to write and print.

  Attributes:
    table: one row per grid cell (columns of equal length).
    runs: one row per run.
    figure: a matplotlib figure.
    summary: text for the terminal.
    meta: timings and sweep facts for the JSON sidecar.
  """
  table: dict[str, np.ndarray]
  runs: dict[str, np.ndarray]
  figure: Any
  summary: str
  meta: dict[str, Any]


def output_paths(out_dir: Path, name: str) -> dict[str, Path]:
  """The files experiment ``name`` writes in ``out_dir``."""
  out_dir = Path(out_dir)
  return {"table": out_dir / f"{name}.csv", "runs": out_dir / f"{name}_runs.csv",
          "meta": out_dir / f"{name}.json", "figure": out_dir / f"{name}.png"}


def existing_outputs(out_dir: Path, name: str) -> list[Path]:
  return [p for p in output_paths(out_dir, name).values() if p.exists()]


def write_outputs(out_dir: Path, name: str, table: Mapping[str, Any],
                  runs: Mapping[str, Any] | None, meta: Mapping[str, Any],
                  fig) -> dict[str, Path]:
  """Writes table, per-run records, figure, then the JSON sidecar, atomically.

  The sidecar goes last: its presence says the set is complete. A stale
  per-run file from an earlier run is removed when ``runs`` is None.
  """
  paths = output_paths(out_dir, name)
  results.write_csv(paths["table"], table)
  if runs is not None:
    results.write_csv(paths["runs"], runs)
  elif paths["runs"].exists():
    paths["runs"].unlink()
  results.save_figure(fig, paths["figure"])
  meta = dict(meta, files={k: p.name for k, p in paths.items()
                           if k != "runs" or runs is not None},
              finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
  results.write_json(paths["meta"], meta)
  return {k: p for k, p in paths.items() if p.exists()}
