"""The options of HS2001's parity nets (vanishing.cells.paper): the hidden
units' function and A2's output self-weight, against a numpy reference."""

import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells


def numpy_layered(net, theta, inputs, lengths):
  """Reference forward pass of a layered net: hidden units first, then the
  output from the hidden states of the same step; outputs at each end."""
  p = {k: np.asarray(v, np.float64) for k, v in net.unpack(jnp.asarray(theta)).items()}
  W, v, b = p["W"], p["v"], p["b"]
  fns = {"tanh": np.tanh, "logistic": lambda a: 1 / (1 + np.exp(-a))}
  f, g = fns[net.hidden_fn], fns[net.output_fn]
  o = net.output
  hid = [i for i in range(net.n) if i != o]
  T, B = inputs.shape
  ys = np.zeros(B)
  for j in range(B):
    x = np.zeros(net.n)
    for t in range(lengths[j]):
      u = inputs[t, j]
      new = x.copy()
      new[hid] = f(W[hid] @ x + v[hid] * u + b[hid])
      new[o] = g(W[o] @ new + v[o] * u + b[o])
      x = new
    ys[j] = x[o]
  return ys


def _data(seed, T=9, B=6):
  rng = np.random.default_rng(seed)
  inputs = rng.choice([-1.0, 1.0], size=(T, B)).astype(np.float32)
  lengths = rng.integers(3, T + 1, size=B).astype(np.int32)
  return inputs, lengths


@pytest.mark.parametrize("hidden_fn", ["tanh", "logistic"])
@pytest.mark.parametrize("output_self", [True, False])
def test_a2_forward_pass_matches_the_numpy_reference(hidden_fn, output_self):
  net = cells.parity_a2(n_hidden=3, output_self=output_self,
                        hidden_fn=hidden_fn)
  inputs, lengths = _data(1)
  rng = np.random.default_rng(2)
  thetas = rng.uniform(-3, 3, size=(4, net.size)).astype(np.float32)
  got = np.asarray(cells.forward_many(net, jnp.asarray(thetas),
                                      jnp.asarray(inputs), jnp.asarray(lengths),
                                      jnp.zeros(inputs.shape[1], jnp.int32)))
  want = np.stack([numpy_layered(net, th, inputs, lengths) for th in thetas])
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_a2_without_output_self_weight_is_a2_with_it_at_zero():
  full = cells.parity_a2()
  lean = cells.parity_a2(output_self=False)
  assert lean.size == full.size - 1 == 52
  assert cells.parity_a2(self_loops=False, output_self=False).size == 42
  out = full.output
  assert np.asarray(full.W_free)[out, out] and not np.asarray(lean.W_free)[out, out]
  inputs, lengths = _data(3, T=12, B=8)
  theta = np.random.default_rng(4).uniform(-5, 5, lean.size).astype(np.float32)
  p = lean.unpack(jnp.asarray(theta))
  # The same weights in the full net, its output self-weight 0.
  W = np.asarray(p["W"])
  assert W[out, out] == 0
  full_theta = np.concatenate([W[np.asarray(full.W_free)],
                               np.asarray(p["v"])[np.asarray(full.v_free)],
                               np.asarray(p["b"])[np.asarray(full.b_free)]])
  run = lambda net, th: np.asarray(cells.forward_many(
      net, jnp.asarray(th)[None], jnp.asarray(inputs), jnp.asarray(lengths),
      jnp.zeros(8, jnp.int32)))[0]
  np.testing.assert_allclose(run(full, full_theta), run(lean, theta),
                             rtol=1e-6, atol=1e-7)


def test_hidden_fn_reaches_the_hidden_units_only():
  for net in (cells.parity_a1(hidden_fn="logistic"),
              cells.parity_a2(hidden_fn="logistic")):
    assert net.hidden_fn == "logistic" and net.output_fn == "logistic"
  # Defaults are the registry's nets (tanh hidden units, output self-weight).
  assert cells.parity_a1().hidden_fn == "tanh"
  assert cells.parity_a2().size == 53
  assert cells.parity_a1(hidden_fn="logistic").size == cells.parity_a1().size
