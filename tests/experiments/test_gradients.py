import dataclasses

import numpy as np
import pytest

from vanishing.experiments import gradients


@pytest.fixture(scope="module")
def outcome():
  return gradients.execute(gradients.TESTING)


def test_tables_and_figure(outcome):
  t = outcome.tables
  assert set(t) == set(gradients.TABLES)
  assert len(t["decay"]["w"]) == len(gradients.TESTING.w)
  assert len(t["training"]["epoch"]) == gradients.TESTING.config.epochs
  assert len(t["runs"]["run"]) == 2 * gradients.TESTING.trials
  assert len(outcome.figure.axes) == 4  # four panels
  assert "measured rate" in outcome.summary


def test_early_terms_vanish_as_T_grows(outcome):
  c = outcome.tables["contributions"]
  L = gradients.TESTING.config.L
  med = [np.median(c["median_abs_grad"][(c["T"] == T) & (c["lag"] >= T - L)])
         for T in gradients.TESTING.T]
  assert c["networks"][0] > 0
  # T = 10 -> 40: 30 more steps of contraction |M'| < 0.62 each.
  assert med[1] < med[0] * 1e-5


def test_failed_runs_see_a_vanishing_gradient(outcome):
  tr = outcome.tables["training"]
  f = tr["failed_median"][np.isfinite(tr["failed_median"])]
  assert f[-1] < f[0] * 1e-2


def test_bad_settings_raise():
  with pytest.raises(ValueError, match="finite"):
    dataclasses.replace(gradients.DEFAULT, w=(1.0, float("nan")))
  with pytest.raises(ValueError, match="exceed L"):
    dataclasses.replace(gradients.DEFAULT, T=(-5,))
  with pytest.raises(ValueError, match="steps"):
    dataclasses.replace(gradients.DEFAULT, steps=1)
