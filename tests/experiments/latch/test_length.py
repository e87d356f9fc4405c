import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing.engine import series, sweep
from vanishing.experiments.latch import length
from vanishing.experiments.latch.training import LatchConfig, latch_runs


@pytest.fixture(scope="module")
def testing_run():
  """``length.run(length.TESTING)``, its per-run records in a list."""
  table, runs, timing = length.run(length.TESTING)
  return table, list(runs), timing


def test_testing_settings_give_a_table_per_T(testing_run):
  table, runs, timing = testing_run
  np.testing.assert_array_equal(table["T"], length.TESTING.T)
  assert sum(len(r["run"]) for r in runs) == len(length.TESTING.T) * length.TESTING.trials
  assert {int(T) for r in runs for T in r["T"]} == set(length.TESTING.T)
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


def test_shapes_cut_the_lengths_into_few_groups_computing_the_fewest_steps():
  s = length.shapes((5, 10, 15, 20, 30, 40, 60, 80, 100))
  assert len(set(s.values())) == length.SHAPES
  assert all(s[T] >= max(T, length.MIN_SHAPE) for T in s)
  assert sum(s.values()) == 460  # 4 x 20 + 2 x 40 + 3 x 100, the fewest
  assert length.shapes((5,)) == {5: length.MIN_SHAPE}
  assert length.shapes((30, 5)) == {5: length.MIN_SHAPE, 30: 30}


def test_a_run_has_the_same_numbers_at_every_shape():
  """A length-T run computed in arrays of n >= T steps (frozen after T):
  bit for bit the same at every n, so a T's numbers do not depend on
  which other lengths share its compiled shape."""
  keys = sweep.run_keys(0, jnp.arange(32))
  sw = {"w0": jnp.linspace(0.5, 2.5, 32), "s": jnp.full(32, 0.2),
        "lr": jnp.full(32, 0.05)}
  for T, sizes in ((5, (8, 9, 20)), (12, (12, 27))):
    outs = [jax.jit(latch_runs(LatchConfig(T=n, epochs=150)).block)(
        keys, dict(sw, T=jnp.full(32, float(T)))) for n in sizes]
    for o in outs[1:]:
      for k in outs[0]:
        np.testing.assert_array_equal(o[k], outs[0][k], err_msg=f"{k} T={T}")
    assert len(set(np.asarray(outs[0]["epoch"]).tolist())) > 5  # not trivial


def test_the_lengths_of_one_shape_share_a_sweep_with_their_own_numbers():
  """Lengths of one compiled shape run as one sweep (T folded into the
  keys); each length's runs are, bit for bit, those it has alone."""
  st = dataclasses.replace(length.TESTING, T=(35, 20, 25, 40, 30), trials=12)
  assert len(set(length.shapes(st.T).values())) == 3
  seen = []
  table, runs, _ = length.run(
      st, series.Sweeps(lambda tag: seen.append(tag) or {}))
  runs = list(runs)
  assert sorted(seen) == ["T0020", "T0030", "T0040"]  # a sweep per shape
  np.testing.assert_array_equal(table["T"], st.T)  # rows in the given order
  rec = {k: np.concatenate([r[k] for r in runs]) for k in ("T", "epoch", "w")}
  for T in st.T:
    _, alone, _ = length.run(dataclasses.replace(st, T=(T,)))
    alone = list(alone)
    for k in ("epoch", "w"):
      np.testing.assert_array_equal(
          rec[k][rec["T"] == T], np.concatenate([r[k] for r in alone]))
