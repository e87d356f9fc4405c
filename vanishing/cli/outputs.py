"""An experiment's files on disk: their names, and writing them atomically."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

from vanishing.engine import results
from vanishing.experiments.skeleton import Outcome


def output_paths(out_dir: Path, name: str, table_keys) -> dict[str, Path]:
  """The files experiment ``name`` writes in ``out_dir``, by key.

  Tables by their key, then ``"markdown"``, ``"figure"``, ``"flags"`` (the
  flags that replay the run, for ``--flagfile``) and ``"meta"``.
  """
  out_dir = Path(out_dir)
  paths = {k: out_dir / (f"{name}_{k}.csv" if k else f"{name}.csv")
           for k in table_keys}
  paths.update(markdown=out_dir / f"{name}.md", figure=out_dir / f"{name}.png",
               flags=out_dir / f"{name}.flags", meta=out_dir / f"{name}.json")
  return paths


def existing_outputs(out_dir: Path, name: str, table_keys) -> list[Path]:
  return [p for p in output_paths(out_dir, name, table_keys).values()
          if p.exists()]


def flagfile(name: str, words) -> str:
  """The text of ``<name>.flags``: a comment saying how to use it, then one
  flag per line."""
  return (f"# python -m vanishing {name} --flagfile={name}.flags replays "
          "this run\n" + "".join(f"{w}\n" for w in words))


def write_outputs(out_dir: Path, name: str, table_keys, outcome: Outcome,
                  meta: Mapping[str, Any]) -> list[Path]:
  """Writes tables, figure, then the JSON sidecar, each atomically.

  The sidecar goes last: its presence says the set is complete (a set
  without it, left by a run that died while writing, is simply replaced). A known
  table of this experiment that this run did not produce (an old per-run
  file after ``--norecords``) is removed, so the set stays consistent.
  ``meta["replay"]``, the flags that replay the run, is also written one
  per line as ``<name>.flags`` (absl's flagfile form).
  """
  paths = output_paths(out_dir, name, table_keys)
  written = []
  for key in table_keys:
    if key in outcome.tables:
      results.write_csv(paths[key], outcome.tables[key])
      written.append(paths[key])
    elif paths[key].exists():
      paths[key].unlink()
  if outcome.markdown is not None:
    results.write_text(paths["markdown"], outcome.markdown)
    written.append(paths["markdown"])
  elif paths["markdown"].exists():
    paths["markdown"].unlink()
  results.save_figure(outcome.figure, paths["figure"])
  written.append(paths["figure"])
  if meta.get("replay") is not None:
    results.write_text(paths["flags"], flagfile(name, meta["replay"]))
    written.append(paths["flags"])
  elif paths["flags"].exists():
    paths["flags"].unlink()
  meta = dict(meta, files=[p.name for p in written] + [paths["meta"].name],
              finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
  results.write_json(paths["meta"], meta)
  return written + [paths["meta"]]
