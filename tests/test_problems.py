import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import problems


@pytest.mark.parametrize("name,P", [("latch", 3), ("two_sequence", 25),
                                    ("parity", 7)])
def test_draw_gives_train_test_and_initial_parameters(name, P):
  pr = problems.Problem(name, 12, n_per_class=5, test_per_class=7)
  train, test, theta0 = pr.draw(jax.random.key(0))
  assert train.size == 10 and test.size == 14
  assert theta0.shape == (P,)
  assert float(jnp.max(jnp.abs(theta0))) <= 0.5
  assert int(train.batch.lengths.min()) >= 6
  assert int(train.batch.lengths.max()) <= 12


def test_cost_and_error_follow_their_definitions():
  pr = problems.Problem("parity", 8, n_per_class=20)
  fit, _, theta = pr.draw(jax.random.key(1))
  y = np.asarray(fit.outputs(theta))
  d = np.asarray(fit.batch.targets)
  e = fit.evaluate(theta)
  assert float(e.cost) == pytest.approx(0.5 * np.mean((y - d) ** 2), rel=1e-6)
  # Logistic output, targets 1 (odd) / 0 (even): the midpoint is 0.5.
  np.testing.assert_array_equal(np.unique(d), [0.0, 1.0])
  assert float(e.error) == pytest.approx(np.mean((y > 0.5) != (d > 0.5)))
  assert float(fit.cost(theta)) == pytest.approx(float(e.cost))


def test_parity_net_is_layered_with_a_logistic_output():
  net = problems.Problem("parity", 8).net
  assert (net.size, net.order, net.output_fn) == (7, "layered", "logistic")


def test_span_below_T_keeps_the_array_size():
  pr = problems.Problem("latch", 20)
  batch = jax.jit(lambda k, s: pr.draw(k, s)[0].batch)(jax.random.key(2),
                                                      jnp.float32(6))
  assert batch.inputs.shape[0] == 20
  assert int(batch.lengths.max()) <= 6 and int(batch.lengths.min()) >= 3


def test_bad_problems_are_refused():
  with pytest.raises(ValueError, match="unknown problem"):
    problems.Problem("xor", 10)
  with pytest.raises(ValueError, match="T must be >= 2"):
    problems.Problem("parity", 1)
  with pytest.raises(ValueError, match="two_sequence needs"):
    problems.Problem("two_sequence", 4, N=3)


def test_parity_sign_is_the_threshold_net_on_0_1_bits_and_solvable():
  p = problems.Problem("parity_sign", 50)
  fit, test, theta0 = p.draw(jax.random.key(0))
  net = fit.net
  assert (net.hidden_fn, net.output_fn, net.initial, net.size) == (
      "sign", "sign", -1.0, 7)
  assert set(np.unique(np.asarray(fit.batch.targets)).tolist()) == {-1.0, 1.0}
  # A hand-made threshold solution (cells.parity_sign_net): W row-major
  # (w_hh, w_ho, w_oh, w_oo), v (hidden, output), the hidden bias. Its
  # smallest net input is 1 and the input weights 3, so noise of 0.2 on
  # every bit cannot move a decision.
  theta = jnp.asarray([0.0, -3.0, -3.0, -2.0, -3.0, -3.0, -2.0])
  for f in (fit, test):
    e = f.evaluate(theta)
    assert float(e.error) == 0.0 and float(e.cost) == 0.0
  assert float(fit.evaluate(theta0).error) > 0.2
