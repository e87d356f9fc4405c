"""The gated cells (``cells.LSTM``, ``cells.GRU``): what their definitions
fix beyond the protocol's conformance tests (which run on them through
``cells.CELLS``), and that they train through the shared methods."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells, methods, problems
from vanishing.methods import base

BIG = 40.0  # a pre-activation at which logistic and tanh are 1.0 in float32


def _theta(cell, b):
  """W = 0, V = 0, readout 0, the gate biases ``b (G n,)``."""
  theta = np.zeros(cell.size, np.float32)
  s = cell.gates * cell.n * (cell.n + cell.inputs)       # b after W and V
  theta[s:s + len(b)] = b
  return jnp.asarray(theta)


def _cell_states(cell, theta, T):
  """``c_1 .. c_T`` of one sequence of zero inputs."""
  p = cell.unpack(theta)
  state, out = cell.initial_state(1, jnp.float32), []
  for t in range(T):
    state = cell.step(p, state, jnp.int32(t), jnp.zeros(1), None)
    out.append(float(state["c"][0, 0]))
  return np.asarray(out)


def test_without_forget_gate_the_cell_state_accumulates():
  # i = 1, g = 1: c_t = c_{t-1} + 1, with f = 1 exactly (no forget
  # parameters at all), so c_t = t without bound.
  cell = cells.LSTM(n=1, forget_gate=False)
  assert cell.size == 3 * 3 + 2
  c = _cell_states(cell, _theta(cell, [BIG, BIG, 0.0]), 6)  # i, g, o
  np.testing.assert_array_equal(c, np.arange(1, 7))
  # With a forget gate at b_f = 0 (f = 1/2) the same input leaks:
  # c_t = c_{t-1}/2 + 1 = 2 - 2^(1-t).
  cell = cells.LSTM(n=1)
  c = _cell_states(cell, _theta(cell, [BIG, 0.0, BIG, 0.0]), 6)  # i, f, g, o
  np.testing.assert_allclose(c, 2 - 2.0 ** (1 - np.arange(1, 7)), rtol=1e-6)


def test_forget_bias_lands_on_the_forget_gates_biases():
  cell = cells.LSTM(n=3, inputs=2, forget_bias=1.5)
  theta = cell.init(jax.random.key(0), 0.5)
  b = np.asarray(cell.unpack(theta)["b"])
  assert b.shape == (12,)
  np.testing.assert_array_equal(b[3:6], 1.5)                  # gate f
  assert np.all(np.abs(np.delete(b, np.s_[3:6])) <= 0.5)
  assert np.sum(np.asarray(theta) == 1.5) == 3
  # Without a forget gate there is no forget bias to set.
  free = cells.LSTM(n=3, inputs=2, forget_gate=False)
  assert free.forget_bias_slice.stop == free.forget_bias_slice.start
  assert float(jnp.max(jnp.abs(free.init(jax.random.key(0), 0.5)))) <= 0.5


def test_gru_update_gate_convention():
  # Cho et al.: z = 1 keeps h_{t-1}; z = 0 takes the candidate.
  cell = cells.GRU(n=2)
  p_keep = cell.unpack(_theta(cell, [BIG] * 2 + [0.0] * 2 + [BIG] * 2))
  p_take = cell.unpack(_theta(cell, [-BIG] * 2 + [0.0] * 2 + [BIG] * 2))
  s = {"h": jnp.full((1, 2), 0.25), "y": jnp.zeros(1)}
  np.testing.assert_array_equal(cell.step(p_keep, s, 0, jnp.zeros(1),
                                          None)["h"], 0.25)
  np.testing.assert_array_equal(cell.step(p_take, s, 0, jnp.zeros(1),
                                          None)["h"], 1.0)


@pytest.mark.parametrize("cell,size", [
    # G n (n + D + 1) gate parameters (Elman: n (n + D + 1)) + K n + K.
    (cells.LSTM(n=3, inputs=2, outputs=4, output="linear"), 72 + 16),
    (cells.GRU(n=3, inputs=2, outputs=4, output="logistic"), 54 + 16),
    (cells.Elman(n=3, inputs=2, outputs=4, output="linear",
                 recurrent_init="orthogonal"), 18 + 16)],
    ids=["lstm", "gru", "elman"])
def test_vector_readout_is_batch_by_outputs(cell, size):
  k1, k2 = jax.random.split(jax.random.key(1))
  inputs = jax.random.normal(k1, (5, 6, 2))
  lengths = jnp.array([5, 1, 3, 5, 2, 4])
  theta = cell.init(k2, 1.0)
  assert cell.size == size
  y = cells.forward(cell, theta, inputs, lengths)
  assert y.shape == (6, 4)
  np.testing.assert_allclose(
      np.asarray(y), cell.numpy_forward(cell, theta, inputs, lengths, None),
      rtol=1e-5, atol=1e-5)
  if cell.output == "logistic":
    assert np.all((np.asarray(y) > 0) & (np.asarray(y) < 1))


def test_bad_options_are_refused():
  with pytest.raises(ValueError, match="output must be one of"):
    cells.LSTM(output="softmax")
  with pytest.raises(ValueError, match="outputs must be >= 1"):
    cells.GRU(outputs=0)
  with pytest.raises(ValueError, match="recurrent_init must be one of"):
    cells.Elman(recurrent_init="zeros")


def test_new_problems_use_one_hidden_size():
  sizes = {}
  for name, spec in problems.REGISTRY.items():
    cell = spec.cell()
    if name in problems.PAIRS.values() and spec.task.name.endswith("_1997"):
      continue  # the LSTM paper's replay nets: its sizes (LSTM_1997_NETS)
    if cell.name in ("lstm", "lstm_noforget", "gru", "rnn_orthogonal",
                     "rnn_identity"):
      assert cell.n == 4, name
      assert f"{cell.size} weights" in spec.summary
      if name.startswith(("adding", "copying")):  # D inputs, linear outputs
        assert cell.output == "linear", name
        continue
      sizes[cell.name] = cell.size
      want = "logistic" if name.startswith("parity") else "tanh"
      assert cell.output == want, name
  assert sizes == {"lstm": 101, "lstm_noforget": 77, "gru": 77,
                   "rnn_orthogonal": 29, "rnn_identity": 29}


def test_bptt_reduces_the_cost_of_latch2_lstm():
  problem = problems.Problem("latch2_lstm", 4, n_per_class=4,
                             test_per_class=1)
  fit, _, theta0 = problem.draw(jax.random.key(0))
  r = jax.jit(lambda k, th: methods.solve(
      "bptt", k, fit, th, base.Budget(evaluations=60, patience=60)))(
          jax.random.key(1), theta0)
  before = float(fit.cost(theta0))
  assert float(r.cost) < 0.5 * before, (before, float(r.cost))

