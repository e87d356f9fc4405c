"""The guessing experiment's protocol options (hidden units' function, A2's
output self-weight): flags, defaults, nets, and the report's reasons."""

import dataclasses
import types

import numpy as np
import pytest

from vanishing.experiments import flags
from vanishing.experiments import guessing
from vanishing.experiments.flags import FlagError
from vanishing.experiments.guessing import (report as guessing_report,
                                            variants as guessing_variants)


def build(**given):
  fv = types.SimpleNamespace(seed=0, paper=False, **given)
  return flags.build(guessing.EXPERIMENT, fv)


def test_defaults_are_the_papers_reading():
  # NIPS 1996: "All activation functions are logistic sigmoid in [0.0,1.0]";
  # HS2001: "the output unit sees all other units".
  for st in (guessing.DEFAULT, guessing.PAPER, guessing.TESTING):
    assert st.hidden_fn == "logistic" and st.a2_output_self is False
  assert build() == guessing.DEFAULT


def test_flags_set_the_options():
  st = build(hidden_fn="tanh", a2_output_self="true")
  assert st.hidden_fn == "tanh" and st.a2_output_self is True
  assert build(a2_output_self="false").a2_output_self is False
  assert build(a2_output_self=True).a2_output_self is True
  assert build(parity_noise="0.3").parity_noise == 0.3


@pytest.mark.parametrize("flag,value", [
    ("hidden_fn", "sign"), ("hidden_fn", "relu"), ("hidden_fn", ""),
    ("a2_output_self", "maybe"), ("a2_output_self", "2"),
    ("parity_noise", "-0.1"), ("parity_noise", "inf")])
def test_bad_option_values_name_their_flag(flag, value):
  with pytest.raises(FlagError, match=f"^--{flag}: "):
    build(**{flag: value})


def test_settings_refuse_a_bad_hidden_fn():
  with pytest.raises(ValueError, match="hidden_fn"):
    dataclasses.replace(guessing.DEFAULT, hidden_fn="sign")


def test_each_run_guesses_the_net_its_options_name():
  def net_of(variant, **options):
    st = dataclasses.replace(guessing.DEFAULT, **options)
    return guessing.run_net(guessing.run_config(st, variant, "none"))
  # A2: one parameter fewer without the output's self-weight (the default).
  assert net_of("parity_a2").size == 52
  assert net_of("parity_a2", a2_output_self=True).size == 53
  assert net_of("parity_a2_noself").size == 42
  assert net_of("parity_a2_noself", a2_output_self=True).size == 43
  out = net_of("parity_a2").output
  assert not np.asarray(net_of("parity_a2").W_free)[out, out]
  # A1 keeps its output self-weight ("fully connected").
  assert net_of("parity_a1").size == 7
  for v in ("parity_a1", "parity_a2", "parity_a2_noself"):
    assert net_of(v).hidden_fn == "logistic"
    assert net_of(v, hidden_fn="tanh").hidden_fn == "tanh"
    assert net_of(v).order == "layered" and net_of(v).output_fn == "logistic"
  # The latch nets are the registry's, whatever the options.
  for v in ("latch1", "latch2"):
    assert net_of(v, hidden_fn="tanh") == net_of(v) == guessing_variants.net(v)


def test_registry_nets_are_untouched():
  from vanishing import problems
  assert problems.REGISTRY["parity_a2"].cell().size == 53
  assert problems.REGISTRY["parity_a1"].cell().hidden_fn == "tanh"
  assert guessing_variants.net("parity_a2").size == 53  # net()'s defaults


def test_differing_rows_name_their_measured_cause():
  variants = ["latch2", "parity_a1", "parity_a1", "parity_a2",
              "parity_a2_noself"]
  table = {"variant": np.asarray(variants),
           "input_noise": np.asarray(["gaussian", "none", "uniform", "none",
                                      "none"]),
           "trials_mean": np.asarray([150.0, 50.0, 50.0, 50.0, 50.0]),
           "trials_se": np.asarray([1.0] * 5),
           "censored": np.zeros(5, int)}
  rows = guessing_report.published_rows(table)
  assert all(r["verdict"] == "differs" for r in rows)
  for r in rows:
    assert r["why"], r
  assert "noise" in rows[0]["why"]
  for r in rows[1:]:
    assert "logistic" in r["why"] or "tanh" in r["why"]
  md = guessing_report.markdown(
      {**table, **{c: np.zeros(5) for c in guessing_report.SUMMARY_COLUMNS
                   if c not in table},
       "params": np.zeros(5, int), "criterion": np.asarray(["x"] * 5),
       "runs": np.full(5, 40), "solved": np.full(5, 40)},
      guessing.PAPER)
  for r in rows:
    assert r["why"] in md
  assert "hidden units logistic" in md
