"""The RTRL experiment: its gradient check, cost table and success table."""

import types

import numpy as np
import pytest

from vanishing.experiments import flags, rtrl
from vanishing.experiments.flags import FlagError


@pytest.fixture(scope="module")
def outcome(testing_outcome):
  """``rtrl.execute(rtrl.TESTING)`` (run once per session)."""
  return testing_outcome("rtrl")


def test_gradient_check_covers_every_net_and_agrees(outcome):
  check = outcome.tables["gradcheck"]
  assert set(rtrl.DEFAULT.problems) == set(rtrl.FULL + rtrl.LOCAL)
  assert set(check["problem"]) == set(rtrl.TESTING.problems)
  assert np.all(check["max_rel_diff"] <= 1e-6)
  assert set(check["recursion"][np.char.endswith(
      check["problem"].astype(str), "_local")]) == {"local"}


def test_cost_table_has_every_method_and_size_with_exponents(outcome):
  cost = outcome.tables["cost"]
  assert len(cost["n"]) == len(rtrl.COST_METHODS) * len(rtrl.TESTING.units)
  assert np.all(cost["seconds_per_step"] > 0)
  assert set(outcome.meta["exponents"]) == set(rtrl.COST_METHODS)
  assert set(outcome.meta["memory_exponents"]) == set(rtrl.COST_METHODS)
  assert {"snap1", "uoro"} <= set(rtrl.COST_METHODS)
  full = (cost["method"] == "rtrl") & (cost["n"] == 4)
  assert int(cost["weights"][full][0]) == 16  # n^2 weights
  local = (cost["method"] == "rtrl_local") & (cost["n"] == 4)
  assert int(cost["weights"][local][0]) == 4 * 4 - 3  # n - 1 hidden + output


def test_success_table_has_the_methods_on_both_kinds_of_net(outcome):
  t = outcome.tables[""]
  pairs = set(zip(t["problem"], t["method"]))
  assert ("latch", "bptt") in pairs and ("latch", "rtrl_online") in pairs
  assert ("parity_local", "rtrl") in pairs
  assert ("latch_local", "bptt") not in pairs
  # The approximations on the fully recurrent latch (TESTING's only one).
  assert ("latch", "snap1") in pairs and ("latch", "uoro") in pairs
  assert not any(m in ("snap1", "uoro") for p, m in pairs
                 if p not in rtrl.APPROX_PROBLEMS)
  assert np.all((t["solved_lo"] <= t["solved_rate"])
                & (t["solved_rate"] <= t["solved_hi"]))


def test_bad_units_are_refused():
  with pytest.raises(FlagError, match="--units"):
    flags.build(rtrl.EXPERIMENT, types.SimpleNamespace(units="1,4"))


def test_approximations_flag_picks_among_the_rules():
  got = flags.build(rtrl.EXPERIMENT,
                    types.SimpleNamespace(approximations="uoro"))
  assert got.approximations == ("uoro",)
  with pytest.raises(FlagError, match="--approximations"):
    flags.build(rtrl.EXPERIMENT, types.SimpleNamespace(approximations="rtrl"))
