import dataclasses

import numpy as np
import pytest

from vanishing.experiments.latch import gradients, gradients_cells


@pytest.fixture(scope="module")
def outcome(testing_outcome):
  """``gradients.execute(gradients.TESTING)`` (run once per session)."""
  return testing_outcome("gradients")


def test_tables_and_figure(outcome):
  t = outcome.tables
  assert set(t) == set(gradients.TABLES)
  assert len(t["decay"]["w"]) == len(gradients.TESTING.w)
  assert len(t["training"]["epoch"]) == gradients.TESTING.config.epochs
  assert len(t["runs"]["run"]) == 2 * gradients.TESTING.trials
  assert len(outcome.figure.axes) == 5  # four panels and every cell's
  assert "measured rate" in outcome.summary
  assert "state Jacobian of every cell" in outcome.summary


def _curve(outcome, cell, part="state"):
  c = outcome.tables["cells"]
  sel = (c["cell"] == cell) & (c["part"] == part)
  return {k: v[sel] for k, v in c.items()}


def test_cells_table_has_every_cell(outcome):
  c = outcome.tables["cells"]
  T = gradients.TESTING.cells_T
  want = [(name, p) for name, _, parts in gradients_cells.SETTINGS for p in parts]
  assert {n for n, _ in want} == {"latch", "elman", "rnn_orthogonal",
                                  "rnn_identity", "lstm", "lstm_noforget", "gru",
                                  "lru", "linear_diag"}
  assert [(n, p) for n, p, _ in gradients_cells.rows(c)] == want
  assert len(c["t"]) == len(want) * T
  for n, p in want:
    curve = _curve(outcome, n, p)
    np.testing.assert_array_equal(curve["t"], np.arange(1, T + 1))
    assert np.all(np.isfinite(curve["norm"]) & (curve["norm"] > 0))


def test_latch_decays_at_the_predicted_rate(outcome):
  latch = _curve(outcome, "latch")
  rate = abs(float(gradients.theory.contraction_at_attractor(
      gradients.TESTING.cells_w)))
  np.testing.assert_allclose(latch["predicted_rate"], rate, rtol=1e-12)
  np.testing.assert_allclose(latch["rate"], rate, rtol=1e-6)
  np.testing.assert_allclose(latch["norm"], rate ** latch["t"], rtol=1e-6)
  np.testing.assert_allclose(latch["norm"], latch["predicted"], rtol=1e-6)
  assert np.all(np.isnan(_curve(outcome, "gru")["predicted"]))


@pytest.mark.parametrize("cell", ["lru", "linear_diag"])
def test_diagonal_cells_decay_as_their_largest_eigenvalue(outcome, cell):
  # ds_t/ds_0 = diag(lambda^t) whatever the input: norm max|lambda|^t.
  curve = _curve(outcome, cell)
  assert 0 < curve["predicted_rate"][0] < 1
  np.testing.assert_allclose(curve["norm"], curve["predicted"], rtol=1e-9)


def test_constant_error_carousel_against_vanishing_tanh_rnn(outcome):
  carousel = _curve(outcome, "lstm_noforget", "c")
  np.testing.assert_allclose(carousel["norm"], 1.0, atol=1e-6)
  assert _curve(outcome, "lstm_noforget")["norm"][-1] > 0.5  # whole state
  assert _curve(outcome, "elman")["norm"][-1] < 1e-3
  # The forget gate at bias 1 (f ~ 0.73) forgets; the c block leads it.
  lstm_c = _curve(outcome, "lstm", "c")["norm"]
  assert lstm_c[-1] < 0.1 and np.all(np.diff(lstm_c[5:]) < 0)


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
  with pytest.raises(ValueError, match="cells_T"):
    dataclasses.replace(gradients.DEFAULT, cells_T=1)
