"""Conformance of every registered cell to the cell protocol.

Parametrised over ``cells.CELLS``: a cell added to the registry gets these
tests, and fails the forward-pass test until a plain NumPy loop of its
definition exists: a ``numpy_forward`` of the cell's class (as
``cells.Elman``'s) or an entry of ``NUMPY_FORWARD`` below.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells

# The forward pass compiled once per cell and shape (static: the cell and
# every_step, parallel), as the sweeps run it; eager, each call compiles
# its operations anew.
forward = jax.jit(cells.forward, static_argnums=0,
                  static_argnames=("every_step", "parallel"))


def numpy_net(net: cells.Net, theta, inputs, lengths, classes):
  """The masked net of ``cells.net`` step by step, in float64: each phase
  recomputes ``a = W x + v u_t + b (+ c[class] on unit 0 at t = 0)`` from
  the current states and updates its own units (the hidden units'
  function, the output unit's own), from the initial state, until each
  sequence's own length."""
  p = {k: np.asarray(v, np.float64) for k, v in net.unpack(theta).items()}
  x_in = np.asarray(inputs, np.float64)
  out = []
  for b in range(x_in.shape[1]):
    x = np.full(net.n, net.initial)
    for t in range(int(lengths[b])):
      for phase in net.phases:
        a = p["W"] @ x + p["v"] * x_in[t, b] + p["b"]
        if net.class_inputs and t == 0:
          a[0] += p["c"][int(classes[b])]
        f = cells.readout.numpy_activation(net.hidden_fn, a)
        f[net.output] = cells.readout.numpy_activation(
            net.output_fn, a[net.output])
        x = np.where(phase, f, x)
    out.append(x[net.output])
  return np.asarray(out)


# cell class -> plain NumPy forward pass of its definition.
NUMPY_FORWARD = {cells.Net: numpy_net}


def _batch(key, T=7, B=6):
  k1, k2 = jax.random.split(key)
  inputs = jax.random.uniform(k1, (T, B), minval=-1.0, maxval=1.0)
  lengths = jax.random.randint(k2, (B,), 1, T + 1).at[0].set(T)
  classes = jnp.arange(B, dtype=jnp.int32) % 2
  return inputs, lengths, classes


@pytest.fixture(params=sorted(cells.CELLS))
def cell(request):
  return cells.get(request.param)


def test_generic_forward_equals_a_numpy_loop(cell):
  reference = (getattr(type(cell), "numpy_forward", None)
               or NUMPY_FORWARD.get(type(cell)))
  assert reference is not None, (
      f"cell {cell.name}: add a NumPy loop of its definition to NUMPY_FORWARD")
  inputs, lengths, classes = _batch(jax.random.key(0))
  for seed in range(3):
    theta = cell.init(jax.random.key(seed), 2.0)
    got = forward(cell, theta, inputs, lengths, classes)
    want = reference(cell, theta, inputs, lengths, classes)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def scaled(cell) -> np.ndarray:
  """The entries of theta that ``init(key, scale)`` draws on [-scale,
  scale]: all but those an initialisation sets by design (an orthogonal or
  identity recurrent matrix, entries in [-1, 1]; the LSTM's forget bias)."""
  mask = np.ones(cell.size, bool)
  if isinstance(cell, cells.Elman) and cell.recurrent_init != "uniform":
    mask[:cell.n * cell.n] = False
  if isinstance(cell, cells.LSTM):
    mask[cell.forget_bias_slice] = False
  if isinstance(cell, cells.LSTM1997):
    for where in cell.gate_bias_slices():
      mask[where] = False
  if isinstance(cell, cells.LinearDiag):
    mask[cell.decay_slice] = False
  if isinstance(cell, cells.LRU):   # the paper's ring and fan-in draws
    mask[:] = False
    mask[cell.readout_slice] = True
  return mask


def test_protocol_shapes_and_structure(cell):
  theta = cell.init(jax.random.key(1), 0.5)
  assert theta.shape == (cell.size,)
  assert float(jnp.max(jnp.abs(theta[scaled(cell)]))) <= 0.5
  if not isinstance(cell, cells.Diagonal):  # log-decays: test_linear.py
    assert float(jnp.max(jnp.abs(theta))) <= max(0.5, getattr(
        cell, "forget_bias", 1.0))
  state = cell.initial_state(4, jnp.float32)
  new = cell.step(cell.unpack(theta), state, jnp.int32(0), jnp.ones(4),
                  jnp.zeros(4, jnp.int32))
  assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(state)
  assert cell.readout(new).shape == (4,)
  assert set(cell.provides) <= set(cells.STRUCTURE)
  hash(cell)  # static: closed over by compiled sweeps


def test_state_is_frozen_after_each_sequences_end(cell):
  inputs, lengths, classes = _batch(jax.random.key(2))
  theta = cell.init(jax.random.key(3), 1.0)
  y = forward(cell, theta, inputs, lengths, classes)
  # Whatever comes after a sequence's end does not reach its output.
  later = jnp.arange(inputs.shape[0])[:, None] >= lengths[None, :]
  noisy = jnp.where(later, 9.0, inputs)
  np.testing.assert_array_equal(
      np.asarray(forward(cell, theta, noisy, lengths, classes)),
      np.asarray(y))


def test_per_step_copies_of_theta_give_the_same_output(cell):
  inputs, lengths, classes = _batch(jax.random.key(4))
  theta = cell.init(jax.random.key(5), 1.0)
  copies = jnp.broadcast_to(theta, (inputs.shape[0], cell.size))
  np.testing.assert_allclose(
      np.asarray(forward(cell, copies, inputs, lengths, classes)),
      np.asarray(forward(cell, theta, inputs, lengths, classes)),
      atol=1e-6)


def test_unknown_cell_lists_the_registry():
  with pytest.raises(ValueError, match="choose from latch"):
    cells.get("gru_typo")


def test_registry_builds_the_papers_nets():
  assert {n: cells.get(n).size for n in ("latch", "two_sequence", "parity")} \
      == {"latch": 3, "two_sequence": 25, "parity": 7}
  assert cells.get("parity_a2").size == 53
  assert cells.get("parity_a2", self_loops=False).size == 43


def test_forward_many_equals_vmap_of_the_forward_pass(cell):
  inputs, lengths, classes = _batch(jax.random.key(6))
  thetas = jax.random.uniform(jax.random.key(7), (5, cell.size), minval=-3,
                              maxval=3)
  want = jax.jit(jax.vmap(lambda th: cells.forward(cell, th, inputs, lengths,
                                                   classes)))(thetas)
  got = jax.jit(cells.forward_many, static_argnums=0)(cell, thetas, inputs,
                                                      lengths, classes)
  assert got.shape == (5, inputs.shape[1])
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5)


def test_every_step_output_is_the_output_of_the_sequence_cut_there(cell):
  inputs, lengths, classes = _batch(jax.random.key(8))
  theta = cell.init(jax.random.key(9), 1.0)
  ys = forward(cell, theta, inputs, lengths, classes, every_step=True)
  assert ys.shape == inputs.shape
  for t in range(inputs.shape[0]):
    cut = jnp.minimum(lengths, t + 1)
    want = forward(cell, theta, inputs, cut, classes)
    live = np.asarray(t < lengths)
    np.testing.assert_allclose(np.asarray(ys[t])[live], np.asarray(want)[live],
                               atol=1e-6)
    assert np.all(np.asarray(ys[t])[~live] == 0)


def test_a_cell_can_read_several_input_channels():
  cell = cells.Elman(n=3, inputs=2)
  assert cell.size == 9 + 6 + 6 + 1
  k1, k2 = jax.random.split(jax.random.key(10))
  inputs = jax.random.normal(k1, (6, 4, 2))
  lengths = jnp.array([6, 3, 1, 5])
  theta = cell.init(k2, 1.0)
  got = forward(cell, theta, inputs, lengths)
  want = cell.numpy_forward(cell, theta, inputs, lengths, None)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
