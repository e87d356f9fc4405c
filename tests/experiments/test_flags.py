"""Settings declared once: flags read off settings fields, presets chosen."""

import dataclasses
import types

import pytest

from vanishing import experiments
from vanishing.experiments import flags
from vanishing.experiments.flags import FlagError


@dataclasses.dataclass(frozen=True)
class Inner:
  budget: int = flags.setting(flags.integer("evaluations"), 10)
  hidden: int = 3  # no flag


@dataclasses.dataclass(frozen=True)
class Outer:
  grid: tuple = flags.setting(flags.grid("values", name="grid_values"))
  inner: Inner = flags.nested(Inner())
  seed: int = 0


def test_flags_are_read_off_the_fields_in_order_with_dotted_fields():
  got = flags.flags_of(Outer)
  assert [(f.name, f.field) for f in got] == [("grid_values", "grid"),
                                              ("budget", "inner.budget")]
  assert got[1].read("7") == 7
  with pytest.raises(FlagError, match="--budget: must be >= 1"):
    got[1].read("0")


def test_two_fields_claiming_one_flag_are_refused():
  @dataclasses.dataclass(frozen=True)
  class Twice:
    budget: int = flags.setting(flags.integer("evaluations"), 1)
    inner: Inner = flags.nested(Inner())
  with pytest.raises(ValueError, match=r"flags \['budget'\] set twice"):
    flags.flags_of(Twice)


def test_given_flags_replace_nested_fields_in_one_step():
  preset = Outer(grid=(1.0,))
  given = flags.Given(flags.flags_of(Outer), {"budget": 5}, preset, seed=2)
  assert given.settings() == Outer((1.0,), Inner(budget=5), seed=2)
  assert given.value("grid_values") == (1.0,)


@pytest.mark.parametrize("name", list(experiments.REGISTRY))
def test_every_preset_is_chosen_by_name_and_paper_is_one_of_them(name):
  exp = experiments.REGISTRY[name]
  for preset, settings in exp.presets.items():
    built = flags.build(exp, types.SimpleNamespace(preset=preset, seed=0))
    # compare records a named preset it started from (for its report).
    if hasattr(built, "preset") and preset not in ("default", "paper", "testing"):
      built = dataclasses.replace(built, preset="")
    assert built == settings, preset
  assert flags.build(exp, types.SimpleNamespace(paper=True)) == flags.build(
      exp, types.SimpleNamespace(preset="paper", paper=True))
  with pytest.raises(FlagError, match=f"--preset: must be one of default, "
                     f"paper, testing.* for {name}, got 'nope'"):
    flags.build(exp, types.SimpleNamespace(preset="nope"))
  with pytest.raises(FlagError, match="--preset: not with --paper"):
    flags.build(exp, types.SimpleNamespace(preset="testing", paper=True))


@pytest.mark.parametrize("name", list(experiments.REGISTRY))
def test_every_flag_sets_a_field_of_the_settings(name):
  exp = experiments.REGISTRY[name]
  for f in exp.flags:
    flags.get_path(exp.default, f.field)  # raises if the field is absent
    assert f.name and f.help and f.allowed_text()
