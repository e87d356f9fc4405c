import dataclasses

import numpy as np

from vanishing.experiments.latch import density


def test_testing_settings_give_a_table_and_a_figure():
  table, res = density.run(density.TESTING)
  st = density.TESTING
  n_cells = len(st.w0) * len(st.s) * len(st.lr)
  assert len(table["density"]) == n_cells
  assert res.n_runs == n_cells * st.trials
  np.testing.assert_array_equal(table["trials"], st.trials)
  np.testing.assert_allclose(table["density"], table["converged"] / st.trials)
  assert np.all((table["lo"] <= table["density"]) & (table["density"] <= table["hi"]))
  fig = density.figure(table, st)
  ax = fig.axes[0]
  assert ax.get_xlabel() == "noise variance s"
  assert ax.get_ylabel() == "initial self-weight w0"
  assert len(fig.axes) == 2  # heatmap + colour bar
  assert "rows w0" in density.text_map(table)


def test_noise_free_latch_converges_where_w0_allows_it():
  # At s = 0 the self-weight 1.5 latches (paper Sec. III); 0.5 cannot: its
  # state forgets the class as 0.5^(T-L) and the gradient vanishes with it.
  st = dataclasses.replace(density.TESTING, w0=(0.5, 1.5), s=(0.0,), trials=32,
                           config=dataclasses.replace(density.TESTING.config, epochs=300))
  table, _ = density.run(st)
  low, high = table["density"]
  assert high >= 0.8 and low <= 0.1


def test_learning_rates_are_one_more_axis_of_the_grid():
  st = dataclasses.replace(density.TESTING, lr=(0.01, 0.1, 1.0))
  table, res = density.run(st)
  assert sorted(set(table["lr"])) == [0.01, 0.1, 1.0]  # exactly as given
  assert res.grid_shape == (3, 2, 3)
  assert len(density.figure(table, st).axes) == 4  # three panels + colour bar
