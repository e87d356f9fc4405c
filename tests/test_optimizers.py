import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vanishing import optimizers


def test_sgd_is_plain_gradient_descent():
  opt = optimizers.make("sgd", 0.1)
  p = {"w": jnp.array(2.0)}
  g = {"w": jnp.array(3.0)}
  upd, _ = opt.update(g, opt.init(p), p)
  assert float(upd["w"]) == pytest.approx(-0.3)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
def test_named_optimizers_match_optax(name):
  ref = {"sgd": optax.sgd(0.05), "momentum": optax.sgd(0.05, momentum=0.9),
         "nesterov": optax.sgd(0.05, momentum=0.9, nesterov=True),
         "adam": optax.adam(0.05), "rmsprop": optax.rmsprop(0.05)}[name]
  ours = optimizers.make(name, 0.05)
  p = jnp.array([1.0, -2.0])
  s1, s2 = ref.init(p), ours.init(p)
  for i in range(3):
    g = jnp.array([0.3, -0.1]) * (i + 1)
    u1, s1 = ref.update(g, s1, p)
    u2, s2 = ours.update(g, s2, p)
    np.testing.assert_allclose(u1, u2, rtol=2e-5)  # lr held as float32


def test_learning_rate_is_traced_not_static():
  traces = []

  @jax.jit
  def step(lr):
    traces.append(1)
    opt = optimizers.make("adam", lr)
    p = jnp.ones(2)
    return opt.update(jnp.ones(2), opt.init(p), p)[0]

  a, b = step(0.1), step(0.2)
  assert len(traces) == 1
  assert not np.allclose(a, b)


def test_unknown_name_lists_choices():
  with pytest.raises(ValueError, match="unknown optimizer 'nope'.*adam"):
    optimizers.make("nope", 0.1)
  assert {"sgd", "momentum", "adam"} <= set(optimizers.available())
