import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells


def numpy_latch(w, inputs, a0=0.0):
  a = np.full(inputs.shape[1:], a0, np.float64)
  path = []
  for h in inputs:
    a = w * np.tanh(a) + h
    path.append(a)
  return np.stack(path)


@pytest.mark.parametrize("T", [1, 7, 20, 60])  # full and partial unrolling
def test_latch_matches_numpy_loop(T):
  rng = np.random.default_rng(T)
  inputs = rng.normal(size=(T, 5)).astype(np.float32)
  for w in (0.5, 1.25, 3.0, -1.5):
    want = numpy_latch(w, inputs.astype(np.float64))
    path = np.asarray(cells.latch_trajectory(jnp.float32(w), jnp.asarray(inputs)))
    np.testing.assert_allclose(path, want, rtol=1e-5, atol=1e-5)
    final = np.asarray(cells.latch_final(jnp.float32(w), jnp.asarray(inputs)))
    np.testing.assert_allclose(final, want[-1], rtol=1e-5, atol=1e-5)


def test_latch_step_is_the_paper_map():
  a, h, w = 0.3, -0.2, 1.7
  assert float(cells.latch_step(w, a, h)) == pytest.approx(w * np.tanh(a) + h)


def test_initial_state_is_used():
  inputs = jnp.zeros((3, 2))
  got = np.asarray(cells.latch_final(2.0, inputs, a0=1.0))
  want = numpy_latch(2.0, np.zeros((3, 2)), a0=1.0)[-1]
  np.testing.assert_allclose(got, want, rtol=1e-6)


# --- Masked fully recurrent nets ---------------------------------------------

from vanishing import tasks  # noqa: E402


def test_parameter_counts_of_the_papers_nets():
  assert cells.latch_net().size == 3
  assert cells.two_sequence_net().size == 25
  assert cells.parity_net().size == 7


def test_unpack_places_free_entries_and_keeps_fixed_ones():
  net = cells.parity_net()
  p = net.unpack(jnp.arange(1.0, 8.0))
  np.testing.assert_array_equal(p["W"], [[1, 2], [3, 4]])
  np.testing.assert_array_equal(p["v"], [5, 6])
  np.testing.assert_array_equal(p["b"], [7, 0])  # no output bias
  p = cells.two_sequence_net().unpack(jnp.zeros(25))
  np.testing.assert_array_equal(p["v"], [1, 0, 0, 0, 0])
  with pytest.raises(ValueError, match="needs 7"):
    net.unpack(jnp.zeros(6))


def test_latch_net_is_the_latch_neuron_with_a_class_input():
  b = tasks.latch(jax.random.key(0), 3, 4, 9, tasks.Noise("uniform", 0.2))
  w, c0, c1 = 1.3, 0.7, -0.4
  y = cells.run(cells.latch_net(), jnp.array([w, c0, c1]), b.inputs,
                b.lengths, b.classes)
  for i in range(6):
    n = int(b.lengths[i])
    h = np.asarray(b.inputs[:n, i]).copy()
    h[0] += c0 if b.classes[i] == 0 else c1
    a = cells.latch_final(w, jnp.asarray(h))
    assert float(y[i]) == pytest.approx(float(jnp.tanh(a)), abs=1e-6)


def test_output_is_read_at_each_sequences_own_end():
  net = cells.parity_net()
  theta = net.init(jax.random.key(1))
  b = tasks.parity(jax.random.key(2), 4, 3, 9)
  y = cells.run(net, theta, b.inputs, b.lengths, b.classes)
  for i in range(8):
    n = int(b.lengths[i])
    yi = cells.run(net, theta, b.inputs[:n, i:i + 1], b.lengths[i:i + 1],
                   b.classes[i:i + 1])
    assert float(y[i]) == pytest.approx(float(yi[0]), abs=1e-6)
  x = cells.unfold(net, theta, b.inputs, b.lengths, b.classes).states
  np.testing.assert_allclose(x[-1, :, net.output], y, atol=1e-6)


def test_per_step_copies_give_the_same_output_and_split_the_gradient():
  net = cells.two_sequence_net()
  theta = net.init(jax.random.key(3))
  b = tasks.two_sequence(jax.random.key(4), 3, 4, 8)
  f = lambda th: jnp.sum(cells.run(net, th, b.inputs, b.lengths, b.classes))
  copies = jnp.broadcast_to(theta, (8, net.size))
  assert float(f(copies)) == pytest.approx(float(f(theta)), abs=1e-5)
  np.testing.assert_allclose(jax.grad(f)(copies).sum(0), jax.grad(f)(theta),
                             atol=1e-5)


def test_logistic_output_unit():
  net = cells.parity_net(output_fn="logistic")
  b = tasks.parity(jax.random.key(5), 8, 3, 6)
  y = cells.run(net, net.init(jax.random.key(6), 5.0), b.inputs, b.lengths,
                b.classes)
  assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_layered_output_reads_the_hidden_state_of_the_same_step():
  net = cells.parity_net()  # unit 0 hidden, unit 1 output; layered
  assert net.phases == ((True, False), (False, True))
  b = tasks.parity(jax.random.key(7), 3, 4, 7)
  theta = net.init(jax.random.key(8), 2.0)
  y = cells.run(net, theta, b.inputs, b.lengths, b.classes)
  p = {k: np.asarray(v, np.float64) for k, v in net.unpack(theta).items()}
  W, v, bias = p["W"], p["v"], p["b"]
  x = np.asarray(b.inputs, np.float64)
  for s in range(6):
    h = o = 0.0
    for t in range(int(b.lengths[s])):
      h = np.tanh(W[0, 0] * h + W[0, 1] * o + v[0] * x[t, s] + bias[0])
      o = np.tanh(W[1, 0] * h + W[1, 1] * o + v[1] * x[t, s])
    assert float(y[s]) == pytest.approx(o, abs=1e-5)
  uf = cells.unfold(net, theta, b.inputs, b.lengths, b.classes)
  a, xs = uf.pre, uf.states
  np.testing.assert_allclose(xs[-1, :, 1], y, atol=1e-6)
  np.testing.assert_allclose(np.tanh(a), xs, atol=1e-6)


def test_simultaneous_parity_net_reads_the_previous_step():
  net = cells.parity_net(order="simultaneous")
  b = tasks.parity(jax.random.key(7), 3, 4, 7)
  theta = net.init(jax.random.key(8), 2.0)
  y = cells.run(net, theta, b.inputs, b.lengths, b.classes)
  p = {k: np.asarray(v, np.float64) for k, v in net.unpack(theta).items()}
  x = np.asarray(b.inputs, np.float64)
  for s in range(6):
    state = np.zeros(2)
    for t in range(int(b.lengths[s])):
      state = np.tanh(p["W"] @ state + p["v"] * x[t, s] + p["b"])
    assert float(y[s]) == pytest.approx(state[1], abs=1e-5)


def test_unknown_update_order_raises():
  with pytest.raises(ValueError, match="order"):
    cells.parity_net(order="random")


@pytest.mark.parametrize("hidden_fn,output_fn", [("logistic", "logistic"),
                                                 ("sign", "sign"),
                                                 ("tanh", "sign")])
def test_unit_functions_match_a_numpy_loop_and_the_lane_layout(hidden_fn,
                                                               output_fn):
  net = cells.parity_net(output_fn, hidden_fn=hidden_fn)
  b = tasks.parity(jax.random.key(7), 3, 4, 7)
  thetas = jax.random.uniform(jax.random.key(9), (3, net.size), minval=-2.0,
                              maxval=2.0)
  f = {k: (lambda a, k=k: cells.readout.numpy_activation(k, a))
       for k in ("tanh", "logistic", "sign")}
  x = np.asarray(b.inputs, np.float64)
  many = net.forward_many(thetas, b.inputs, b.lengths, b.classes)
  for k in range(3):
    y = cells.run(net, thetas[k], b.inputs, b.lengths, b.classes)
    p = {n: np.asarray(v, np.float64) for n, v in net.unpack(thetas[k]).items()}
    for s in range(6):
      h = o = 0.0
      for t in range(int(b.lengths[s])):
        h = f[hidden_fn](p["W"][0, 0] * h + p["W"][0, 1] * o
                         + p["v"][0] * x[t, s] + p["b"][0])
        o = f[output_fn](p["W"][1, 0] * h + p["W"][1, 1] * o + p["v"][1] * x[t, s])
      assert float(y[s]) == pytest.approx(o, abs=1e-5)
      assert float(many[k, s]) == pytest.approx(o, abs=1e-5)
  if output_fn == "sign":
    assert set(np.unique(np.asarray(many)).tolist()) <= {-1.0, 1.0}
    assert net.provides == {"linear"}


def test_derivatives_follow_each_units_function():
  net = cells.parity_net("tanh", hidden_fn="logistic")
  a = jnp.linspace(-3, 3, 14).reshape(7, 2)
  d1, d2 = net.activation_derivatives(a)
  for unit, f in ((0, jax.nn.sigmoid), (1, jnp.tanh)):
    g1 = jax.vmap(jax.grad(f))(a[:, unit])
    g2 = jax.vmap(jax.grad(jax.grad(f)))(a[:, unit])
    np.testing.assert_allclose(d1[:, unit], g1, atol=1e-6)
    np.testing.assert_allclose(d2[:, unit], g2, atol=1e-6)
  assert "activation_derivatives" in net.provides


def test_sign_unit_is_plus_one_at_zero():
  y = cells.readout.activation("sign", jnp.asarray([-1e-9, 0.0, 2.0]))
  np.testing.assert_array_equal(y, [-1.0, 1.0, 1.0])


def test_unknown_hidden_function_raises():
  with pytest.raises(ValueError, match="hidden_fn"):
    cells.parity_net(hidden_fn="relu")
