import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import tasks
from vanishing.engine import sweep
from vanishing.experiments.latch import training
from vanishing.experiments.latch.training import LatchConfig, run_latch


def test_hand_built_latch_classifies_every_sequence():
  # w = 2 has attractors at +-1.915 (x = +-0.957) and escape threshold
  # h* = 0.533; inputs of +-2 for L steps latch the class, and noise of
  # standard deviation 0.1 never reaches h*.
  batch = tasks.latch_minimal(jax.random.key(0), 500, 50, 3, 0.01)
  params = {"w": jnp.float32(2.0), "h": jnp.asarray([[2.0] * 3, [-2.0] * 3])}
  x = np.asarray(training.outputs(params, batch))
  d = np.asarray(batch.targets)
  assert np.all(np.sign(x) == np.sign(d))
  assert np.all(np.abs(x - d) < 0.4)
  # Near the attractor, moved only by the last few noise inputs.
  np.testing.assert_allclose(np.abs(x), 0.957, atol=0.06)


def test_a_neuron_without_self_loop_cannot_latch():
  batch = tasks.latch_minimal(jax.random.key(1), 500, 20, 3, 0.2)
  params = {"w": jnp.float32(0.0), "h": jnp.asarray([[5.0] * 3, [-5.0] * 3])}
  x = np.asarray(training.outputs(params, batch))
  acc = np.mean(np.sign(x) == np.sign(np.asarray(batch.targets)))
  assert 0.4 < acc < 0.6  # the class is forgotten: chance level


def test_cost_is_half_sum_of_squares():
  batch = tasks.latch_minimal(jax.random.key(2), 3, 10, 2, 0.5)
  params = {"w": jnp.float32(1.1), "h": jnp.asarray([[0.3, 0.1], [-0.2, 0.4]])}
  x = np.asarray(training.outputs(params, batch))
  want = 0.5 * np.sum((x - np.asarray(batch.targets)) ** 2)
  assert float(training.cost(params, batch)) == pytest.approx(want, rel=1e-6)


def test_easy_setting_converges_and_generalizes():
  cfg = LatchConfig(T=10, L=3, epochs=300)
  res = sweep.run(functools.partial(run_latch, cfg=cfg),
                  {"w0": [1.5], "s": [0.0], "lr": [0.01]}, trials=16, seed=0,
                  block=16)
  r = res.records
  assert r["converged"].mean() >= 0.8
  assert np.all(r["test_acc"][r["converged"]] == 1.0)  # no noise: exact
  assert np.all(r["epoch"][r["converged"]] >= 0)
  assert np.all(r["epoch"][~r["converged"]] == -1)


def test_fresh_noise_differs_from_fixed_noise():
  run = lambda noise: sweep.run(
      functools.partial(run_latch, cfg=LatchConfig(T=12, epochs=40, noise=noise)),
      {"w0": [1.25], "s": [0.3], "lr": [0.01]}, trials=8, seed=0, block=8)
  a, b = run("fixed"), run("fresh")
  assert not np.array_equal(a.records["w"], b.records["w"])


@pytest.mark.parametrize("kwargs,match", [
    (dict(L=0), "1 <= L < T"), (dict(L=20, T=20), "1 <= L < T"),
    (dict(epochs=0), "epochs"), (dict(n_per_class=0), "n_per_class"),
    (dict(noise="sometimes"), "noise"), (dict(h_init=-1.0), "h_init"),
    (dict(tol=0.0), "tol"),
])
def test_bad_config_raises(kwargs, match):
  with pytest.raises(ValueError, match=match):
    LatchConfig(**kwargs)


def test_summarize_counts_per_cell():
  def fake(key, swept):
    u = jax.random.uniform(key)
    conv = u < swept["p"]
    return {"converged": conv, "epoch": jnp.where(conv, 7, -1),
            "test_acc": jnp.where(conv, 0.95, 0.0), "diverged": jnp.bool_(False)}
  res = sweep.run(fake, {"p": [0.0, 0.5, 1.0]}, trials=400, seed=0)
  t = training.summarize(res, heldout_acc=0.9)
  np.testing.assert_array_equal(t["trials"], [400] * 3)
  assert t["converged"][0] == 0 and t["converged"][2] == 400
  assert abs(t["rate"][1] - 0.5) < 4 * 0.025
  assert list(t)[:4] == ["p", "trials", "converged", "rate"]
  assert "density" in training.summarize(res, rate_name="density")
  assert np.isnan(t["median_epoch"][0]) and t["median_epoch"][2] == 7
  np.testing.assert_array_equal(t["heldout_ok"], t["converged"])
  t2 = training.summarize(res, heldout_acc=0.99)
  np.testing.assert_array_equal(t2["heldout_ok"], [0, 0, 0])
