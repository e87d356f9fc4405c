"""The flags every experiment takes, and ``--help``'s text.

``RUN_FLAGS`` are the command line's own flags (where and how a run goes,
the preset, a flagfile); :func:`usage`, :func:`experiment_usage` and
:func:`report_usage` print them with an experiment's flags (its settings'
fields: ``vanishing.experiments.flags``), each with what it allows and its
default.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from typing import Any

from vanishing import experiments
from vanishing.cli import report
from vanishing.experiments import flags
from vanishing.experiments.flags import Flag, FlagError

PROG = "python -m vanishing"


def _common(name: str, flag: Flag, default: Any) -> Flag:
  """A flag of the command line itself: no settings field, its own default."""
  return dataclasses.replace(flag, name=name, default=default)


def _shard(flag: str, text: str) -> tuple[int, int]:
  i, slash, n = text.partition("/")
  if slash and i.isdigit() and n.isdigit() and int(i) < int(n):
    return int(i), int(n)
  raise FlagError(flag, f"must be I/N with 0 <= I < N, got {text!r}")


def _address(flag: str, text: str) -> str:
  host, _, port = text.rpartition(":")
  if text == "auto" or (host and port.isdigit() and 0 < int(port) < 65536):
    return text
  raise FlagError(flag, f"must be auto or HOST:PORT, got {text!r}")


def _resources(flag: str, text: str) -> tuple[float, float | None]:
  """``(cpus, gpus)`` per task; gpus None: the cluster's choice (auto)."""
  if text == "auto":
    return 1.0, None
  got = {}
  for part in text.split(","):
    name, eq, value = part.strip().partition("=")
    try:
      number = float(value)
    except ValueError:
      number = -1.0
    if name not in ("cpus", "gpus") or not eq or name in got or not (
        math.isfinite(number) and number >= 0):
      raise FlagError(flag, "must be auto or cpus=N and/or gpus=M (numbers "
                      f">= 0), got {text!r}")
    got[name] = number
  if not any(got.values()):
    raise FlagError(flag, f"a task needs a CPU or a GPU, got {text!r}")
  return got.get("cpus", 0.0 if got.get("gpus") else 1.0), got.get("gpus", 0.0)


# Flags every experiment takes: where and how it runs, and the preset.
RUN_FLAGS = (
    Flag("out_dir", str, "directory for result files", default="results",
         metavar="DIR"),
    Flag("seed", int, "root seed; run i uses fold_in(key(seed), i)",
         "an integer", default=0, metavar="INT"),
    Flag("records", bool, "also write one row per run (<name>_runs.csv)",
         default=True),
    Flag("overwrite", bool, "replace results already in --out_dir",
         default=False),
    _common("devices", flags.integer(
        "local devices to shard each sweep over (0: all); results do not "
        "depend on it", low=0), 0),
    _common("block", flags.integer(
        "lanes per block: runs computed side by side on one device; numbers "
        "are reproducible per platform and width, which the results' JSON "
        "records", low=1, default_text="unset (the device's: the "
        "experiment's CPU width, on a GPU as wide as the sweep and its "
        "memory allow)"), None),
    Flag("shard", str, "compute only the chunks i with i mod N = I into the "
         "chunk store, then exit (a job array's task); once every shard has, "
         "the same command without --shard writes the results",
         "I/N with 0 <= I < N", parse=_shard,
         metavar="I/N", default=(0, 1), default_text="none (every chunk)"),
    _common("cluster", flags.choice(
        "where the chunks run: this machine's devices, or tasks of a Ray "
        "cluster (pip install -e '.[ray]')", ("local", "ray")), "local"),
    Flag("ray_address", str, "the Ray cluster of --cluster=ray",
         "auto (the cluster started on this machine, or RAY_ADDRESS) or "
         "HOST:PORT of its head", parse=_address,
         metavar="ADDRESS", default="auto"),
    Flag("ray_resources", str, "what each chunk's Ray task asks for",
         "auto (a GPU where the cluster has GPUs, else a CPU) or cpus=N and/or "
         "gpus=M, comma-separated", parse=_resources,
         metavar="SPEC", default=(1.0, None), default_text="auto"),
    Flag("keep_chunks", bool, "keep the finished chunk files "
         "(<out_dir>/.<name>_chunks) after the results are written",
         default=False),
    Flag("preset", str, "start from this named setting; other flags still "
         "override it", "one of the experiment's presets (default, paper, "
         "testing, ...; its --help lists them)", metavar="NAME",
         default_text="default"),
    Flag("paper", bool, "the paper's scale: the same as --preset=paper",
         default=False),
    Flag("flagfile", str, "read flags from FILE, one per line, where it "
         "stands (<out_dir>/<name>.flags replays a run)", metavar="FILE"),
)
_RUN = {f.name: f for f in RUN_FLAGS}
# The commands that are not experiments, and the flags they read.
REPORT_FLAGS = (dataclasses.replace(
    _RUN["out_dir"], help="directory of results to show; the page is "
    "written there as report.html"),)


def _entry(flag: Flag, default: str, paper: str | None) -> str:
  """One flag in ``--help``: name, what it sets, allowed values, default."""
  head = (f"  --[no]{flag.name}" if flag.kind is bool
          else f"  --{flag.name}={flag.metavar or 'VALUE'}")
  allowed = flag.allowed_text()
  tail = (f"[{allowed + '; ' if allowed else ''}default: {default}"
          + (f"; --paper: {paper}]" if paper else "]"))
  wrap = lambda text: textwrap.wrap(text, 79, initial_indent=" " * 24,
                                    subsequent_indent=" " * 24,
                                    break_long_words=False,
                                    break_on_hyphens=False)
  lines = wrap(flag.help) + wrap(tail)
  if len(head) < 23:
    lines[0] = head.ljust(24) + lines[0][24:]
  else:
    lines.insert(0, head)
  return "\n".join(lines)


def _run_flag_entries(chunk_users: list[str] | None = None) -> list[str]:
  out = [_entry(f, f.shown_default(None), None) for f in RUN_FLAGS]
  if chunk_users:
    chunk = dataclasses.replace(flags.CHUNK, name="chunk", help=flags.CHUNK.help +
                                f" ({', '.join(chunk_users)} only)")
    out.append(_entry(chunk, chunk.default_text, None))
  return out


GRIDS = ("A GRID is a value (1.25), a list (0.5,1,2) or an inclusive range "
         "start:stop:num (0:1:11 is 0, 0.1, ..., 1).")


def usage() -> str:
  """``python -m vanishing --help``: the experiments and the common flags."""
  exps = experiments.REGISTRY
  width = max(map(len, exps))
  lines = [f"usage: {PROG} <experiment> [--flag=value ...]",
           f"       {PROG} <experiment> --help   (that experiment's flags)",
           f"       {PROG} report [--out_dir=DIR]",
           "", "Experiments (Bengio, Simard & Frasconi 1994):"]
  lines += [f"  {name.ljust(width)}  {exp.summary}" for name, exp in exps.items()]
  lines += ["", "Commands:",
            f"  {report.NAME.ljust(width)}  {report.SUMMARY}"]
  users = [n for n, e in exps.items() if any(f.name == "chunk" for f in e.flags)]
  lines += ["", "Flags every experiment takes:", *_run_flag_entries(users)]
  return "\n".join(lines)


def report_usage() -> str:
  """``python -m vanishing report --help``."""
  return "\n".join([
      f"usage: {PROG} report [--out_dir=DIR]", "",
      textwrap.fill(f"report: {report.SUMMARY}. The page is self-contained "
                    "(figures embedded, no network): per experiment its "
                    "figure, its tables, settings, timings and versions, and "
                    "links to its CSV files; unfinished and failed sets are "
                    "listed as such.", 79), "",
      "Flags of report:",
      *(_entry(f, f.shown_default(None), None) for f in REPORT_FLAGS)])


def experiment_usage(exp) -> str:
  """``python -m vanishing NAME --help``: exactly the flags NAME reads."""
  lines = [f"usage: {PROG} {exp.name} [--flag=value ...]", "",
           f"{exp.name}: {exp.summary}.", "",
           f"Flags of {exp.name}:"]
  for f in exp.flags:
    default, paper = f.shown_default(exp.default), f.shown_default(exp.paper)
    lines.append(_entry(f, default, paper if paper != default else None))
  if any(f.metavar == "GRID" for f in exp.flags):
    lines += [textwrap.fill(GRIDS, 79, initial_indent="  ",
                            subsequent_indent="  ")]
  lines += ["", textwrap.fill(f"Presets of {exp.name} (--preset=NAME; --paper "
                              f"is --preset=paper): {', '.join(exp.presets)}.",
                              79)]
  lines += ["", "Flags every experiment takes:", *_run_flag_entries()]
  return "\n".join(lines)
