"""Run functions written as loops (runs.Steps) and their refilled lanes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing.engine import runs, sweep


def _begin(key, swept):
  k_n, k_x = jax.random.split(key)
  return {"n": jax.random.randint(k_n, (), 1, 40), "i": jnp.int32(0),
          "x": jax.random.normal(k_x, (3,)) + swept["a"]}


def _running(c):
  return c["i"] < c["n"]


def _step(c):
  x = c["x"]
  return {**c, "i": c["i"] + 1, "x": jnp.tanh(1.3 * x + 0.1 * jnp.sum(x))}


def _end(c):
  return {"x": jnp.sum(c["x"] * c["x"]), "steps": c["i"]}


# Runs of 1 to 39 steps: a vmapped block runs as long as its longest run.
STEPS = runs.Steps(_begin, _running, _step, _end)
AXES = {"a": [0.0, 0.5, -1.0]}


def vmapped(keys, swept):
  """The reference: ``vmap`` of the one-run function (a batched while_loop)."""
  return jax.jit(jax.vmap(STEPS))(keys, swept)


def test_called_on_one_key_it_is_the_whole_run():
  out = jax.jit(STEPS)(jax.random.key(0), {"a": jnp.float32(0.5)})
  c = _begin(jax.random.key(0), {"a": jnp.float32(0.5)})
  for _ in range(int(c["n"])):
    c = _step(c)
  assert int(out["steps"]) == int(c["n"]) > 0
  np.testing.assert_allclose(out["x"], _end(c)["x"], rtol=1e-6)


def _vmapped_in_blocks(keys, swept, width):
  """``vmap`` of the one-run function over blocks of ``width`` lanes."""
  out = jax.jit(lambda k, s: jax.lax.map(
      lambda b: jax.vmap(STEPS)(*b),
      jax.tree_util.tree_map(lambda x: x.reshape((-1, width)), (k, s))))(
          keys, swept)
  return {k: v.reshape(keys.shape[0]) for k, v in out.items()}


@pytest.mark.parametrize("width", [1, 4])
def test_refilled_lanes_equal_the_vmapped_runs_bit_for_bit(width):
  """On every platform: ``width`` refilled lanes compute each run as a
  vmap over ``width`` lanes does (the guarantee is per width)."""
  R = 24
  keys = sweep.run_keys(5, jnp.arange(R))
  swept = {"a": jnp.linspace(-1, 1, R)}
  got = jax.jit(runs.refill, static_argnums=(0, 4))(
      STEPS, keys, swept, jnp.ones(R, bool), width)
  want = _vmapped_in_blocks(keys, swept, width)
  for k in want:
    np.testing.assert_array_equal(got[k], want[k], err_msg=k)
  assert len(np.unique(np.asarray(got["steps"]))) > 5  # runs of many lengths


@pytest.mark.skipif(jax.default_backend() != "cpu", reason=(
    "across widths only on the CPU: on a GPU XLA fuses this arithmetic "
    "differently for 1 and 24 lanes (measured on an H200, issue 26)"))
def test_on_the_cpu_one_lane_equals_the_whole_vmap_bit_for_bit():
  R = 24
  keys = sweep.run_keys(5, jnp.arange(R))
  swept = {"a": jnp.linspace(-1, 1, R)}
  got = jax.jit(runs.refill, static_argnums=(0, 4))(
      STEPS, keys, swept, jnp.ones(R, bool), 1)
  want = vmapped(keys, swept)
  for k in want:
    np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_a_runs_outputs_do_not_depend_on_its_lane_or_neighbours():
  R, width = 20, 4
  keys = sweep.run_keys(9, jnp.arange(R))
  swept = {"a": jnp.linspace(-1, 1, R)}
  f = jax.jit(runs.refill, static_argnums=(0, 4))
  a = f(STEPS, keys, swept, jnp.ones(R, bool), width)
  order = np.random.default_rng(0).permutation(R)
  b = f(STEPS, keys[order], {"a": swept["a"][order]}, jnp.ones(R, bool), width)
  for k in a:
    np.testing.assert_array_equal(np.asarray(a[k])[order], b[k], err_msg=k)


def test_padding_is_not_computed():
  R, width = 10, 4
  keys = sweep.run_keys(1, jnp.arange(R))
  real = jnp.arange(R) < 6
  out = jax.jit(runs.refill, static_argnums=(0, 4))(
      STEPS, keys, {"a": jnp.zeros(R)}, real, width)
  assert np.all(np.asarray(out["steps"])[6:] == 0)
  assert np.all(np.asarray(out["steps"])[:6] > 0)


def test_refill_needs_as_many_runs_as_lanes():
  with pytest.raises(ValueError, match="at least 4 runs"):
    runs.refill(STEPS, sweep.run_keys(1, jnp.arange(3)), {"a": jnp.zeros(3)},
                jnp.ones(3, bool), 4)


def test_a_sweep_of_steps_is_the_same_at_every_chunk_size_and_replays():
  a = sweep.run(STEPS, AXES, trials=7, seed=2, chunk=8, block=4)
  b = sweep.run(STEPS, AXES, trials=7, seed=2, block=4)  # one chunk
  c = sweep.run(STEPS, AXES, trials=7, seed=2, chunk=12, block=4,
                devices=jax.local_devices()[:1])
  for k in a.records:
    np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
    np.testing.assert_array_equal(a.records[k], c.records[k], err_msg=k)
  np.testing.assert_array_equal(a.records["run"], np.arange(21))
  keys = sweep.run_keys(2, jnp.arange(21))
  ref = vmapped(keys, {"a": jnp.asarray(a.records["a"], jnp.float32)})
  np.testing.assert_array_equal(a.records["steps"], ref["steps"])
  for i in (0, 13, 20):
    one = sweep.replay(STEPS, AXES, 7, 2, i, block=4)
    for k in a.records:
      np.testing.assert_array_equal(one[k], a.records[k][i], err_msg=f"{k}@{i}")
