"""Command line: ``python -m vanishing <experiment> [--flags]``.

Each experiment's settings declare the flags it reads
(:mod:`vanishing.experiments.flags`); :mod:`vanishing.cli.help` holds the
flags every experiment takes (where and how it runs) and ``--help``'s text;
this module reads the command line against them. A bad flag value,
or a flag the chosen experiment does not read, ends the program with exit
status 2 and one line naming the flag and what is allowed, before any
computation or any file is written.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import signal
import sys
import types
from pathlib import Path
from typing import Any

from absl import app, logging
from absl import flags as absl_flags

from vanishing import experiments
from vanishing.cli import launch
from vanishing.cli import report
from vanishing.engine import cluster as clusters
from vanishing.cli.help import (PROG, REPORT_FLAGS, RUN_FLAGS,  # noqa: F401
                                experiment_usage, report_usage, usage)
from vanishing.experiments import flags
from vanishing.experiments.flags import Flag
from vanishing.experiments.flags import FlagError, parse_grid  # noqa: F401 (tests)

EXPERIMENTS = tuple(experiments.REGISTRY)
FLAGS = absl_flags.FLAGS  # absl's own (app.run's); the experiments' are not in it
_HELP = frozenset({"help", "h", "helpfull", "helpshort", "?"})


def _fail(message: str, status: int = 2) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(status)


def _flags_of(exp) -> dict[str, Flag]:
  return {f.name: f for f in (*exp.flags, *RUN_FLAGS)}


@dataclasses.dataclass
class Invocation:
  """A command line read into words: what ``main`` runs.

  Attributes:
    positional: the words that are not flags (the experiment).
    given: flag name -> its text as given (True/False for a bare boolean
      flag), the last where a flag is repeated.
    unknown: flags no experiment declares, as given.
    help: ``-h``/``--help`` was given.
    error: ``(flag, message)`` of the first word that could not be read (a
      flag without its value).
  """
  positional: list[str]
  given: dict[str, Any]
  unknown: list[str]
  help: bool = False
  error: tuple[str, str] | None = None


def _parse_flags(argv: list[str]) -> Invocation:
  """Reads ``argv`` (absl style: ``--name=value``, ``--name value``,
  ``--flag``/``--noflag``, ``--`` ends the flags). What a flag's text means
  is up to the experiment; ``main`` checks it."""
  if not FLAGS.is_parsed():
    FLAGS(argv[:1])  # absl's own flags (app.run reads them), at defaults
  kinds = {f.name: f.kind for exp in experiments.REGISTRY.values()
           for f in _flags_of(exp).values()}
  inv = Invocation([], {}, [])
  words, seen = list(argv[1:]), set()
  while words:
    word = words.pop(0)
    if word == "--":
      inv.positional += words
      break
    if not word.startswith("-") or word == "-":
      inv.positional.append(word)
      continue
    name, eq, value = word.lstrip("-").partition("=")
    if name == "flagfile":
      if not eq:
        value = words.pop(0) if words and not words[0].startswith("-") else ""
      try:
        words[:0] = _read_flagfile(value, seen)
      except FlagError as e:
        inv.error = inv.error or (e.flag, e.detail)
    elif name in _HELP:
      inv.help = True
    elif kinds.get(name) is bool:
      inv.given[name] = value if eq else True
    elif name.startswith("no") and kinds.get(name[2:]) is bool:
      inv.given[name[2:]] = False
      if eq:
        inv.error = inv.error or (name, f"takes no value (--{name[2:]}=false "
                                  "is the same)")
    elif name not in kinds:
      inv.unknown.append(name)
    elif eq:
      inv.given[name] = value
    elif words:
      inv.given[name] = words.pop(0)
    else:
      inv.error = inv.error or (name, "needs a value")
  return inv


def _read_flagfile(path: str, seen: set) -> list[str]:
  """The flags of file ``path`` (absl's ``--flagfile``: one flag per line;
  blank lines and lines starting with ``#`` or ``//`` skipped), each file
  read once."""
  if not path:
    raise FlagError("flagfile", "needs a file name")
  real = os.path.realpath(path)
  if real in seen:
    raise FlagError("flagfile", f"{path} is read twice (it names itself)")
  seen.add(real)
  try:
    lines = Path(path).read_text().splitlines()
  except (OSError, UnicodeDecodeError) as e:
    raise FlagError("flagfile", f"cannot read {path}: "
                    f"{getattr(e, 'strerror', None) or e}") from None
  words = [line.strip() for line in lines]
  words = [w for w in words if w and not w.startswith(("#", "//"))]
  bad = next((w for w in words if not w.startswith("-")), None)
  if bad is not None:
    raise FlagError("flagfile", f"{path}: every line must be a flag "
                    f"(--name=value), got {bad!r}")
  return words


# Flags a replay leaves out: where and on how many devices, shards or nodes a
# run went does not change its numbers.
_NOT_REPLAYED = frozenset({"out_dir", "overwrite", "devices", "shard",
                           "cluster", "ray_address", "ray_resources"})


def _replay(inv: Invocation, seed: int) -> list[str]:
  """The flags that replay this run (``<name>.flags``): those given, the
  seed always."""
  words = [f"--seed={seed}"]
  for name, value in inv.given.items():
    if name in _NOT_REPLAYED or name == "seed":
      continue
    words.append(f"--{name}" if value is True else f"--no{name}"
                 if value is False else f"--{name}={value}")
  return words


def _report(inv: Invocation) -> None:
  """``python -m vanishing report``: writes the page, names it."""
  if inv.help:
    _print_help(report_usage())
  mine = {f.name for f in REPORT_FLAGS}
  try:
    if inv.error:
      raise FlagError(*inv.error)
    for flag in [*inv.unknown, *inv.given]:
      if flag not in mine:
        raise FlagError(flag, f"does not apply to report ({PROG} report "
                        "--help lists its flags)")
    out_dir = Path(REPORT_FLAGS[0].read(inv.given.get("out_dir", "results")))
    if not out_dir.is_dir():
      raise FlagError("out_dir", f"{out_dir} is not a directory of results")
    try:
      path, entries = report.write(out_dir)
    except OSError as e:
      raise FlagError("out_dir", f"writing the report in {out_dir} failed: "
                      f"{e.strerror or e}")
  except FlagError as e:
    _fail(str(e))
  counts = {s: sum(x.status == s for x in entries)
            for s in ("finished", "unfinished", "failed")}
  print(f"wrote {path} (" + ", ".join(f"{n} {s}" for s, n in counts.items())
        + ")")


# ---------------------------------------------------------------------------
# Running.

def build_settings(name: str, fv):
  """Settings of experiment ``name`` from flag values, validated.

  Args:
    name: an entry of ``EXPERIMENTS``.
    fv: object with an attribute per flag (absent or None: not given), as
      text or typed, and ``preset``, ``paper`` and ``seed``.

  Raises:
    FlagError: the first flag whose value is not allowed.
  """
  return flags.build(experiments.REGISTRY[name], fv)


def _scale_out(how: dict, given) -> clusters.RayCluster | None:
  """The scale-out flags against each other; the Ray cluster to run on
  (None: this machine)."""
  ray_flags = [f for f in ("ray_address", "ray_resources") if f in given]
  if how["cluster"] != "ray":
    if ray_flags:
      raise FlagError(ray_flags[0], "needs --cluster=ray")
  else:
    if how["shard"][1] > 1:
      raise FlagError("shard", "not with --cluster=ray (Ray schedules the "
                      "chunks itself)")
    if importlib.util.find_spec("ray") is None:
      raise FlagError("cluster", "ray is not installed (pip install -e "
                      "'.[ray]')")
  if how["shard"][1] > 1 and how["overwrite"]:
    raise FlagError("overwrite", "not with --shard (shards would clear each "
                    "other's chunks); empty --out_dir first")
  if how["cluster"] == "ray":
    cpus, gpus = how["ray_resources"]
    return clusters.RayCluster(how["ray_address"], cpus, gpus)
  return None


def _settings(exp, inv: Invocation):
  """``(settings, values of the common flags, every flag's value for the
  sidecar)``."""
  name, mine = exp.name, _flags_of(exp)
  for flag in [*inv.unknown, *inv.given]:
    if flag not in mine:
      known = flag not in inv.unknown
      raise FlagError(flag, f"{'does not apply to' if known else 'unknown flag for'}"
                      f" {name} ({PROG} {name} --help lists its flags)")
  how = {f.name: f.read(inv.given[f.name]) if f.name in inv.given else f.default
         for f in RUN_FLAGS}
  cluster = _scale_out(how, inv.given)
  given = {f.name: f.convert(inv.given[f.name]) for f in exp.flags
           if f.name in inv.given}
  settings = flags.build(exp, types.SimpleNamespace(
      **given, seed=how["seed"], preset=how["preset"], paper=how["paper"]))
  values = {**{f.name: given.get(f.name) for f in exp.flags}, **how}
  return settings, dict(how, cluster=cluster), values


def _print_help(text: str) -> None:
  """Prints ``text`` and ends with status 0 (quietly into a closed pipe,
  as ``--help | head``)."""
  try:
    print(text)
    sys.stdout.flush()
  except BrokenPipeError:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
  sys.exit(0)


def main(inv: Invocation) -> None:
  logging.set_verbosity(logging.WARNING)  # keep JAX's backend probing quiet
  exps = experiments.REGISTRY
  names = inv.positional
  if inv.help and not names:
    _print_help(usage())
  if names == [report.NAME]:
    return _report(inv)
  if len(names) != 1 or names[0] not in exps:
    got = " ".join(names) or "nothing"
    _fail(f"experiment: give exactly one of {', '.join(exps)} (got {got}; "
          f"{PROG} --help lists them)")
  exp = exps[names[0]]
  if inv.help:
    _print_help(experiment_usage(exp))
  try:
    if inv.error:
      raise FlagError(*inv.error)
    settings, how, flag_values = _settings(exp, inv)
    launch.run(exp, settings, launch.Run(**{
        f.name: how[f.name] for f in dataclasses.fields(launch.Run)}),
               {"command": sys.argv, "flags": flag_values,
                "replay": _replay(inv, how["seed"])}, stoppable=True)
  except FlagError as e:
    _fail(str(e))


def _stop(signum, frame) -> None:
  """SIGINT/SIGTERM outside a sweep (which has its own, vanishing.engine.interrupt):
  nothing to save; one line, status 128 + signal, no traceback."""
  print(f"stopped by {signal.Signals(signum).name}", file=sys.stderr)
  os._exit(128 + signum)


def run() -> None:
  """Entry point of ``python -m vanishing``."""
  for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, _stop)
  app.run(main, flags_parser=_parse_flags)
