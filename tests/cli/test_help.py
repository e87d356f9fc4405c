"""The command line explains itself: ``--help`` per experiment, from the
experiments' own flag declarations (parametrised over the registry)."""

import re
import subprocess
import sys
import types

import pytest

from vanishing import experiments
from vanishing.cli import main as cli
from vanishing.experiments import flags
from vanishing.experiments.skeleton import Experiment

NAMES = list(experiments.REGISTRY)
RUN = {f.name for f in cli.RUN_FLAGS}


def entries(text: str) -> dict[str, str]:
  """Flag name -> its entry in a help text, white space folded."""
  found, name = {}, None
  for line in text.splitlines():
    m = re.match(r"  --(?:\[no\])?(\w+)", line)
    if m:
      name = m.group(1)
      found[name] = line
    elif name and line.startswith(" " * 24):
      found[name] += " " + line
    else:
      name = None
  return {k: " ".join(v.split()) for k, v in found.items()}


@pytest.mark.parametrize("args", [["--help"], ["-h"]])
def test_top_level_help_lists_experiments_and_common_flags(helped, args):
  code, out, err = helped(*args)
  assert code == 0 and not err
  for name in NAMES:
    exp = experiments.REGISTRY[name]
    assert re.search(rf"^  {name} +{re.escape(exp.summary)}$", out, re.M), name
  listed = entries(out)
  assert set(listed) == RUN | {"chunk"}
  users = [n for n in NAMES if "chunk" in {f.name for f in experiments.REGISTRY[n].flags}]
  assert f"({', '.join(users)} only)" in listed["chunk"]
  for f in cli.RUN_FLAGS:
    assert f"default: {f.shown_default(None)}" in listed[f.name]


@pytest.mark.parametrize("name", NAMES)
def test_experiment_help_lists_exactly_its_flags_with_defaults(helped, name):
  exp = experiments.REGISTRY[name]
  code, out, err = helped(name, "--help")
  assert code == 0 and not err
  assert exp.summary in out
  listed = entries(out)
  assert set(listed) == {f.name for f in exp.flags} | RUN
  for f in exp.flags:
    entry = listed[f.name]
    assert f"default: {f.shown_default(exp.default)}" in entry, entry
    assert " ".join(f.allowed_text().split()) in entry, entry
    paper = f.shown_default(exp.paper)
    if paper != f.shown_default(exp.default):
      assert f"--paper: {paper}" in entry, entry


@pytest.mark.parametrize("name", NAMES)
def test_a_flag_of_another_experiment_is_refused(helped, tmp_path, name):
  mine = {f.name for f in experiments.REGISTRY[name].flags}
  other = sorted({f.name for n in NAMES for f in experiments.REGISTRY[n].flags}
                 - mine)[0]
  code, out, err = helped(name, f"--{other}=1", f"--out_dir={tmp_path / 'o'}")
  assert code == 2 and not out
  assert err.strip() == (f"error: --{other}: does not apply to {name} "
                         f"(python -m vanishing {name} --help lists its flags)")
  assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", NAMES)
def test_no_flags_give_the_presets(name):
  exp = experiments.REGISTRY[name]
  assert flags.build(exp, types.SimpleNamespace(seed=0)) == exp.default
  paper = flags.build(exp, types.SimpleNamespace(seed=0, paper=True))
  assert paper == exp.paper


@pytest.mark.parametrize("name", NAMES)
def test_every_flag_sets_a_field_of_the_settings(name):
  exp = experiments.REGISTRY[name]
  assert len({f.name for f in exp.flags}) == len(exp.flags)
  assert not {f.name for f in exp.flags} & RUN
  for f in exp.flags:
    flags.get_path(exp.default, f.field)  # AttributeError if it does not


def test_a_flag_means_the_same_kind_in_every_experiment():
  kinds = {}
  for name in NAMES:
    for f in experiments.REGISTRY[name].flags:
      assert kinds.setdefault(f.name, f.kind) is f.kind, (name, f.name)


def test_flag_syntax_forms_agree():
  read = lambda *a: cli._parse_flags(["vanishing", *a]).given
  assert read("density", "--w0", "-1,1", "--trials", "8") == read(
      "density", "--w0=-1,1", "-trials=8")
  assert read("--norecords")["records"] is False
  assert read("--records")["records"] is True
  inv = cli._parse_flags(["vanishing", "--trials=3", "density", "--", "x"])
  assert inv.positional == ["density", "x"]


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_is_a_complete_experiment(name):
  """A registry entry is an ``Experiment`` under its own name whose presets
  (default, paper, testing at least) are of its settings type."""
  exp = experiments.REGISTRY[name]
  assert isinstance(exp, Experiment) and exp.name == name
  assert {"default", "paper", "testing"} <= set(exp.presets)
  for preset in exp.presets.values():
    assert type(preset) is exp.settings and hasattr(preset, "seed")
  assert callable(exp.from_flags) and callable(exp.execute) and exp.tables


def test_the_entry_point_prints_help_and_exits_0():
  p = subprocess.run([sys.executable, "-m", "vanishing", "compare", "--help"],
                     capture_output=True, text=True, timeout=120)
  assert p.returncode == 0, p.stderr
  assert "--budget=INT" in p.stdout and "--w0" not in p.stdout
  assert not p.stderr


# A worked example of a new experiment: one module (its settings with their
# flags, its run on the engine, its table and figure) plus one registry line.
TOY = '''"""How often a random walk of T steps ends above 0, per drift."""
import dataclasses

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from vanishing import statistics
from vanishing.engine.series import Sweeps
from vanishing.experiments import flags
from vanishing.experiments.skeleton import Experiment, Outcome

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Settings:
  drift: tuple[float, ...] = flags.setting(flags.grid("mean step"))
  T: int = flags.setting(flags.integer("steps per walk"), 10)
  trials: int = flags.setting(flags.integer("walks per drift"), 64)
  seed: int = 0


def walk(key, swept, T):
  steps = swept["drift"] + jax.random.normal(key, (T,))
  return {"above": jnp.sum(steps) > 0}


def execute(settings, sweeps=Sweeps()):
  res = sweeps.labelled(str).run(
      "toy", lambda key, swept: walk(key, swept, settings.T),
      {"drift": np.asarray(settings.drift)}, settings.trials, settings.seed)
  rec, rows = res.gather(), []
  for (drift,), sel in statistics.groups(rec, ("drift",)):
    rows.append({"drift": drift, "above": rec["above"][sel].mean()})
  table = {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
  fig, ax = plt.subplots()
  ax.plot(table["drift"], table["above"], "o-")
  return Outcome({"": table}, fig, f"toy: {len(rows)} drifts", {})


EXPERIMENT = Experiment(
    "toy", "random walks above 0", Settings,
    {"default": Settings(drift=(-0.5, 0.0, 0.5)),
     "paper": Settings(drift=(-1.0, -0.5, 0.0, 0.5, 1.0), trials=4096),
     "testing": Settings(drift=(0.0, 1.0), trials=8)}, execute)
'''


def test_a_new_experiment_is_one_module_and_one_registry_line(
    tmp_path, monkeypatch, helped):
  (tmp_path / "toy_experiment.py").write_text(TOY)
  monkeypatch.syspath_prepend(str(tmp_path))
  import toy_experiment  # what the registry's module imports
  monkeypatch.setitem(experiments.REGISTRY, "toy", toy_experiment.EXPERIMENT)
  code, out, _ = helped("--help")
  assert code == 0 and re.search(r"^  toy +random walks above 0$", out, re.M)
  code, out, _ = helped("toy", "--help")
  assert code == 0
  assert "[an integer >= 1; default: 64; --paper: 4096]" in entries(out)["trials"]
  assert "default: -0.5,0,0.5; --paper: -1:1:5" in entries(out)["drift"]
  assert helped("toy", "--T=0")[2].strip() == "error: --T: must be >= 1, got 0"
  code, out, err = helped("toy", "--drift=-9,9", "--seed=1",
                          f"--out_dir={tmp_path / 'r'}")
  assert code == 0, err
  assert "toy: 2 drifts" in out
  lines = (tmp_path / "r" / "toy.csv").read_text().split()
  assert lines == ["drift,above", "-9.0,0.0", "9.0,1.0"]
  code, out, err = helped("toy", "--preset=testing", f"--out_dir={tmp_path / 't'}")
  assert code == 0 and "toy: 2 drifts" in out, err
  # The module is short, and little of it is the framework's.
  assert len(TOY.splitlines()) < 150
  framework = [l for l in TOY.splitlines() if re.search(
      r"flags\.|Experiment|Outcome|Sweeps|sweeps", l)]
  assert len(framework) <= 15, framework


@pytest.mark.parametrize("args, page", [
    (["--help"], "docs/command-line.md"),
    (["compare", "--help"], "docs/command-line.md"),
])
def test_the_docs_show_the_real_help(helped, args, page):
  """The help blocks the documentation shows are the real output."""
  from pathlib import Path
  text = (Path(__file__).resolve().parents[2] / page).read_text()
  command = "$ python -m vanishing " + " ".join(args) + "\n"
  assert command in text, f"{page} does not show {command.strip()}"
  shown = text.split(command, 1)[1].split("\n```", 1)[0]
  code, out, _ = helped(*args)
  assert code == 0 and shown == out.rstrip("\n")


def test_compare_help_lists_its_presets(helped):
  from vanishing.experiments import compare
  code, out, _ = helped("compare", "--help")
  assert code == 0 and "preset" in entries(out)
  listed = " ".join(out.split("Presets of compare (--preset=NAME; --paper is "
                              "--preset=paper): ", 1)[1].split(".")[0].split())
  assert listed == ", ".join(["default", "paper", "testing", *compare.PRESETS])
