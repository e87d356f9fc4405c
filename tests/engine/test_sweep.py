import functools
import io

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing.engine import sweep
from vanishing.experiments.latch.training import (LatchConfig, latch_runs,
                                                  run_latch)

CFG = LatchConfig(T=12, L=3, epochs=60)
LATCH = latch_runs(CFG)  # the hot path: runs on the lanes
PER_RUN = functools.partial(run_latch, cfg=CFG)  # its readable reference
AXES = {"w0": [0.8, 1.5, 2.5], "s": [0.0, 0.4], "lr": [0.01, 0.1]}


@pytest.fixture(scope="module")
def latch_sweep():
  """LATCH over AXES x 6 trials (72 runs) in 5 chunks of 16, the last padded."""
  return sweep.run(LATCH, AXES, trials=6, seed=3, chunk=16, block=16)


def draw(key, swept):
  """A cheap run function: one uniform draw plus the swept values."""
  return {"u": jax.random.uniform(key), "sum": swept["a"] + 10 * swept["b"]}


def test_grid_layout_and_keys():
  axes = {"a": [1.0, 2.0, 3.0], "b": [0.5, 0.25]}
  res = sweep.run(draw, axes, trials=4, seed=7, block=8)
  assert res.n_runs == 24 and res.grid_shape == (3, 2)
  np.testing.assert_array_equal(res.records["run"], np.arange(24))
  np.testing.assert_array_equal(res.records["cell"], np.arange(24) // 4)
  np.testing.assert_array_equal(res.records["trial"], np.arange(24) % 4)
  # First axis slowest.
  np.testing.assert_array_equal(res.records["a"], np.repeat([1.0, 2.0, 3.0], 8))
  np.testing.assert_array_equal(res.records["b"], np.tile(np.repeat([0.5, 0.25], 4), 3))
  np.testing.assert_allclose(res.records["sum"], res.records["a"] + 10 * res.records["b"])
  # Run i draws from fold_in(key(seed), i).
  want = [jax.random.uniform(jax.random.fold_in(jax.random.key(7), i)) for i in range(24)]
  np.testing.assert_array_equal(res.records["u"], np.asarray(want))
  assert res.by_cell("u").shape == (3, 2, 4)


def test_results_identical_for_different_chunk_sizes(latch_sweep):
  a = latch_sweep
  b = sweep.run(LATCH, AXES, trials=6, seed=3, chunk=80, block=16)
  c = sweep.run(LATCH, AXES, trials=6, seed=3, block=16)  # one chunk
  for k in a.records:
    np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
    np.testing.assert_array_equal(a.records[k], c.records[k], err_msg=k)
  assert a.records["converged"].any()  # the comparison is not vacuous


def test_replay_is_bit_identical_to_the_sweep_row(latch_sweep):
  res = latch_sweep
  for i in (17, res.n_runs - 1):
    one = sweep.replay(LATCH, AXES, 6, 3, i, block=16)
    for k in res.records:
      np.testing.assert_array_equal(one[k], res.records[k][i], err_msg=f"{k}@{i}")


def test_vmapped_run_equals_the_single_run(latch_sweep):
  res = latch_sweep
  single = jax.jit(LATCH)
  keys = sweep.run_keys(3, jnp.arange(res.n_runs))
  for i in range(0, res.n_runs, 5):
    swept = {k: jnp.float32(res.records[k][i]) for k in AXES}
    out = single(keys[i], swept)
    # Same run, unbatched: XLA may sum in another order, so compare closely
    # rather than bitwise, on a short budget where rounding cannot grow.
    assert bool(out["converged"]) == bool(res.records["converged"][i])
    assert int(out["epoch"]) == int(res.records["epoch"][i])
    np.testing.assert_allclose(out["w"], res.records["w"][i], rtol=1e-4)
    np.testing.assert_allclose(out["loss"], res.records["loss"][i], rtol=1e-3,
                               atol=1e-5)


def test_lanes_block_equals_the_vmapped_per_run_function(latch_sweep):
  """The block layout (runs last) against ``vmap`` of the one-run function
  (runs first): the same data bit for bit, the same outcomes, the same
  values to float32 rounding on a budget where rounding cannot grow."""
  per_run = sweep.run(PER_RUN, AXES, trials=6, seed=3, chunk=16, block=16)
  a, b = latch_sweep.records, per_run.records
  for k in ("converged", "diverged", "epoch", "run", "cell", "trial"):
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  # As test_vmapped_run_equals_the_single_run: 60 epochs at lr 0.1 grow the
  # last-bit differences of the reductions to about 1e-4 in the cost.
  for k in ("w", "h_norm", "loss", "test_acc"):
    np.testing.assert_allclose(a[k], b[k], rtol=1e-3, atol=1e-5, err_msg=k)
  np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=1e-2)
  assert a["converged"].any() and not a["converged"].all()


def test_per_run_draws_of_a_block_are_each_runs_own():
  keys = sweep.run_keys(5, jnp.arange(7))
  s = jnp.linspace(0.0, 1.0, 7)
  f = lambda k, s: (jax.random.normal(k, (3, 4)) * s, jax.random.split(k, 2))
  z, ks = sweep.per_run(f, keys, s)
  assert z.shape == (3, 4, 7) and ks.shape == (2, 7)
  for i in range(7):
    zi, ki = f(keys[i], s[i])
    np.testing.assert_array_equal(z[..., i], zi)
    np.testing.assert_array_equal(jax.random.key_data(ks[:, i]),
                                  jax.random.key_data(ki))
  one, _ = sweep.per_run(f, keys[2], s[2])
  np.testing.assert_array_equal(one, z[..., 2])


def test_the_whole_grid_traces_once():
  traces = []

  def counted(key, swept):
    traces.append(1)
    return draw(key, swept)

  axes = {"a": np.linspace(0, 1, 10), "b": [0.0, 1.0]}
  sweep.run(counted, axes, trials=20, seed=0, chunk=32, block=16)  # 13 chunks
  assert len(traces) == 1
  # Same with chex's trace counter, which raises on a second trace.
  sweep.run(chex.assert_max_traces(draw, n=1), axes, trials=20, seed=0,
            chunk=32, block=16)


def test_array_outputs_are_kept_per_run():
  fn = lambda key, swept: {"v": jax.random.uniform(key, (3,)) + swept["a"]}
  res = sweep.run(fn, {"a": [1.0, 5.0]}, trials=3, seed=0, block=4)
  assert res.records["v"].shape == (6, 3)
  assert res.by_cell("v").shape == (2, 3, 3)
  want = jax.random.uniform(jax.random.fold_in(jax.random.key(0), 4), (3,)) + 5
  np.testing.assert_allclose(res.records["v"][4], want, rtol=1e-6)


def test_diverging_runs_do_not_poison_others():
  axes = {"w0": [1.5], "s": [0.1], "lr": [0.01, np.inf]}
  res = sweep.run(LATCH, axes, trials=8, seed=2, block=16)
  bad = res.records["lr"] == np.inf
  assert res.records["diverged"][bad].all()
  assert not res.records["converged"][bad].any()
  # The same runs beside a finite learning rate in their block (same grid
  # shape, so the same compiled sweep).
  ok = sweep.run(LATCH, dict(axes, lr=[0.01, 0.02]), trials=8, seed=2, block=16)
  same = ok.records["lr"] == 0.01
  assert not ok.records["diverged"].any()
  for k in ok.records:
    np.testing.assert_array_equal(res.records[k][~bad], ok.records[k][same],
                                  err_msg=k)


def test_progress_reports_every_chunk_and_the_end():
  calls = []
  sweep.run(draw, {"a": [1.0], "b": [2.0]}, trials=40, seed=0, chunk=16,
            block=16, progress=lambda d, t, e, r: calls.append((d, t)))
  assert [d for d, _ in calls] == [16, 32, 40]
  assert all(t == 40 for _, t in calls)


def test_progress_printer_is_quiet_for_short_sweeps_then_prints():
  out = io.StringIO()
  p = sweep.ProgressPrinter("x", stream=out, after=3.0, every=2.0)
  p(10, 100, 1.0)
  assert out.getvalue() == ""
  p(50, 100, 5.0)
  p(60, 100, 6.0)  # throttled
  p(100, 100, 10.0)
  lines = out.getvalue().splitlines()
  assert len(lines) == 2
  assert lines[0].startswith("x: 50/100 runs (50%), 10 runs/s, ETA 5s")
  assert "done in 10.0s" in lines[1]


def test_progress_printer_counts_resumed_runs_but_not_in_the_rate():
  out = io.StringIO()
  p = sweep.ProgressPrinter("x", stream=out, after=0.0)
  p(60, 100, 5.0, 50)
  assert out.getvalue().startswith("x: 60/100 runs (60%, 50 resumed), 2 runs/s, ETA 20s")


@pytest.mark.parametrize("axes,trials,chunk,match", [
    ({}, 1, None, "at least one axis"),
    ({"a": []}, 1, None, "non-empty"),
    ({"a": [[1.0]]}, 1, None, "1-D"),
    ({"a": [1.0]}, 0, None, "trials"),
    ({"a": [1.0]}, 1, 0, "chunk"),
])
def test_bad_sweeps_raise(axes, trials, chunk, match):
  with pytest.raises(ValueError, match=match):
    sweep.run(draw, axes, trials, 0, chunk=chunk)


def test_a_zipped_axis_sweeps_its_members_together():
  axes = {"a": [1.0, 2.0], "pair": {"b": [0.5, 0.25, 0.125], "c": [3.0, 4.0, 5.0]}}
  fn = lambda key, s: {"u": jax.random.uniform(key), "b": s["b"], "c": s["c"]}
  res = sweep.run(fn, axes, trials=2, seed=7, block=4)
  assert res.grid_shape == (2, 3) and res.n_runs == 12
  np.testing.assert_array_equal(res.records["b"], np.tile(np.repeat([0.5, 0.25, 0.125], 2), 2))
  np.testing.assert_array_equal(res.records["c"], np.tile(np.repeat([3.0, 4.0, 5.0], 2), 2))
  assert res.by_cell("u").shape == (2, 3, 2)
  with pytest.raises(ValueError, match="one length"):
    sweep.run(fn, {"pair": {"b": [1.0], "c": [1.0, 2.0]}}, trials=1, seed=0)


def test_paired_axes_share_the_trials_keys():
  """Every value of a paired axis sees the keys the grid without it has:
  the sweep over (a, pair) x trials with `pair` paired draws exactly what
  the sweep over a alone draws, for each value of `pair`."""
  fn = lambda key, s: {"u": jax.random.uniform(key)}
  alone = sweep.run(fn, {"a": [1.0, 2.0, 3.0]}, trials=5, seed=4, block=4)
  both = sweep.run(fn, {"a": [1.0, 2.0, 3.0], "pair": {"b": [0.0, 1.0]}},
                   trials=5, seed=4, block=4, paired=("pair",))
  u = both.by_cell("u")  # (3, 2, 5)
  for j in range(2):
    np.testing.assert_array_equal(u[:, j], alone.by_cell("u"))
  first = sweep.run(fn, {"pair": {"b": [0.0, 1.0]}, "a": [1.0, 2.0, 3.0]},
                    trials=5, seed=4, block=4, paired=("pair",))
  np.testing.assert_array_equal(first.by_cell("u")[1], alone.by_cell("u"))
  with pytest.raises(ValueError, match="not axes of the sweep"):
    sweep.run(fn, {"a": [1.0]}, trials=1, seed=0, paired=("b",))
  rec = sweep.replay(fn, {"a": [1.0, 2.0, 3.0], "pair": {"b": [0.0, 1.0]}},
                     5, 4, run_index=13, block=4, paired=("pair",))
  assert rec["u"] == both.records["u"][13]


def test_a_folded_axis_gives_each_value_its_own_root():
  """Runs of value v of a folded axis draw the keys of a sweep without that
  axis from the root fold_in(root, v) (a root per length, as `length`)."""
  fn = lambda key, s: {"u": jax.random.uniform(key)}
  both = sweep.run(fn, {"T": [5.0, 30.0], "a": [1.0, 2.0]}, trials=3,
                   seed=6, block=4, folded=("T",))
  for i, T in enumerate((5, 30)):
    alone = sweep.run(fn, {"a": [1.0, 2.0]}, trials=3, block=4,
                      seed=jax.random.fold_in(jax.random.key(6), T))
    np.testing.assert_array_equal(both.by_cell("u")[i], alone.by_cell("u"))
  with pytest.raises(ValueError, match="integers"):
    sweep.run(fn, {"T": [5.5]}, trials=1, seed=0, folded=("T",))
