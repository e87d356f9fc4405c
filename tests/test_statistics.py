import math

import numpy as np
import pytest

from vanishing import statistics


def test_wilson_interval():
  p, se, lo, hi = statistics.wilson(np.array([0, 5, 10]), np.array([10, 10, 10]))
  np.testing.assert_allclose(p, [0, 0.5, 1])
  np.testing.assert_allclose(se, [0, np.sqrt(0.025), 0])
  assert lo[0] == 0 and 0.2 < hi[0] < 0.35  # Wilson: not degenerate at 0
  np.testing.assert_allclose(lo[1] + hi[1], 1.0)  # symmetric at p = 1/2
  assert hi[2] == 1 and 0.65 < lo[2] < 0.8


def test_groups_in_order_of_first_appearance():
  rec = {"a": np.array(["x", "y", "x", "z"]), "b": np.array([1, 1, 1, 2])}
  got = [(k, m.tolist()) for k, m in statistics.groups(rec, ("a", "b"))]
  assert got == [(("x", 1), [True, False, True, False]),
                 (("y", 1), [False, True, False, False]),
                 (("z", 2), [False, False, False, True])]


def test_undefined_statistics_are_nan_and_formatted_as_a_dash():
  assert math.isnan(statistics.sd([3.0]))
  assert statistics.sd([1.0, 3.0]) == math.sqrt(2)
  assert math.isnan(statistics.quiet_nanmean(np.array([np.nan])))
  assert statistics.fmt(np.float64("nan")) == "-"
  assert statistics.fmt(None) == "-"
  assert statistics.fmt(12345.6) == "12,346"


def test_standard_error_is_sd_over_root_n_and_undefined_below_two():
  x = np.asarray([1.0, 2.0, 4.0, 9.0])
  assert statistics.se(x) == pytest.approx(np.std(x, ddof=1) / 2.0)
  assert np.isnan(statistics.se([3.0])) and np.isnan(statistics.se([]))
