import dataclasses

import numpy as np
import pytest

from vanishing.experiments import length


@pytest.fixture(scope="module")
def testing_run():
  """``length.run(length.TESTING)``, its per-run records in a list."""
  table, runs, timing = length.run(length.TESTING)
  return table, list(runs), timing


def test_testing_settings_give_a_table_per_T(testing_run):
  table, runs, timing = testing_run
  np.testing.assert_array_equal(table["T"], length.TESTING.T)
  assert sum(len(r["run"]) for r in runs) == len(length.TESTING.T) * length.TESTING.trials
  assert {int(r["T"][0]) for r in runs} == set(length.TESTING.T)
  assert timing.compile_s > 0
  fig = length.figure(table, length.TESTING)
  assert fig.axes[0].get_xlabel() == "sequence length T"


def test_frequency_of_convergence_falls_with_T():
  # The paper's claim, at its setting s = 0.2, w0 = 1.25: measured (512
  # trials, 1000 epochs) 1.00 at T = 5 and 0.01 at T = 40.
  st = dataclasses.replace(length.TESTING, T=(5, 40), trials=64,
                           config=dataclasses.replace(length.TESTING.config, epochs=300))
  table, _, _ = length.run(st)
  f5, f40 = table["frequency"]
  assert f5 >= 0.9 and f40 <= 0.2


def test_adding_a_length_leaves_the_others_unchanged(testing_run):
  assert length.TESTING.T == (5, 30)
  a = testing_run[0]
  b, _, _ = length.run(dataclasses.replace(length.TESTING, T=(30,)))
  assert a["converged"][1] == b["converged"][0]
  np.testing.assert_array_equal(a["median_epoch"][1:], b["median_epoch"])
