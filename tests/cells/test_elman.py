"""The worked example of docs/extending.md: a cell written from scratch
(``cells.Elman``), one registry line, one problem line, and it trains like any
problem."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells, methods, problems
from vanishing.methods import base


def test_registered_cell_trains_on_a_paper_task_through_the_shared_methods():
  problem = problems.Problem("latch2_elman", 4)
  assert isinstance(problem.net, cells.Elman) and problem.net.size == 29
  budget = base.Budget(evaluations=300, patience=300)

  def trial(key):
    fit, test, theta0 = problem.draw(key)
    r = methods.solve("multigrid", jax.random.fold_in(key, 1), fit, theta0,
                      budget)
    return r.solved, r.evaluations, test.evaluate(r.theta).error

  solved, evals, test_error = jax.jit(jax.vmap(trial))(
      jax.random.split(jax.random.key(0), 4))
  assert np.asarray(solved).sum() >= 2
  assert np.all(np.asarray(evals) <= 300)
  assert np.all(np.asarray(test_error)[np.asarray(solved)] < 0.1)


@pytest.mark.parametrize("problem,given,refused,cell", [
    ("latch2_elman", "bptt,discrete", "discrete", "elman"),
    ("latch2_lstm", "pseudo_newton", "pseudo_newton", "lstm")])
def test_methods_that_need_a_masked_net_refuse_it_before_compiling(
    invoke, problem, given, refused, cell):
  code, err = invoke("compare", "--problems", problem, "--methods", given,
                     "--out_dir", "/nonexistent/never")
  assert code == 2
  lines = err.strip().splitlines()
  assert len(lines) == 1 and "--methods" in lines[0]
  assert f"'{refused}'" in lines[0] and f"'{cell}'" in lines[0]


def test_default_init_is_the_plain_uniform_draw():
  # latch2_elman is pinned by the regression benchmark: the options kept
  # its parameters and its layout.
  key = jax.random.key(3)
  np.testing.assert_array_equal(
      cells.Elman(n=4).init(key, 0.5),
      jax.random.uniform(key, (29,), minval=-0.5, maxval=0.5))


def test_orthogonal_and_identity_recurrent_matrices():
  key = jax.random.key(4)
  uniform = cells.Elman(n=6, inputs=2).init(key, 0.3)
  for init in ("orthogonal", "identity"):
    cell = cells.get(f"rnn_{init}", n=6, inputs=2)
    assert cell.recurrent_init == init
    theta = cell.init(key, 0.3)
    p = cell.unpack(theta)
    W = np.asarray(p["W"], np.float64)
    np.testing.assert_allclose(W.T @ W, np.eye(6), atol=1e-5)
    if init == "identity":
      np.testing.assert_array_equal(W, np.eye(6))
    else:
      assert np.sum(np.abs(W) > 0.1) > 12   # not a permutation
    np.testing.assert_array_equal(p["b"], 0.0)
    # V and the readout are the uniform draw of the same key.
    np.testing.assert_array_equal(theta[36:48], uniform[36:48])
    np.testing.assert_array_equal(theta[54:], uniform[54:])
  # Orthogonal draws differ by key and are Haar (sign-corrected QR): the
  # mean of the diagonal over draws is near 0, not biased to +-1.
  cell = cells.get("rnn_orthogonal", n=6)
  Ws = jax.vmap(lambda k: cell.unpack(cell.init(k, 0.3))["W"])(
      jax.random.split(jax.random.key(5), 400))
  assert abs(float(jnp.mean(jnp.diagonal(Ws, axis1=1, axis2=2)))) < 0.05
