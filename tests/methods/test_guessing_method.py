import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells, methods, problems, tasks
from vanishing.experiments.guessing.variants import net as variant_net
from vanishing.methods import base, guessing

TOL = {"criterion": "tolerance", "tolerance": 0.1}


def tiny_latch2(seed: int = 0) -> tasks.SequenceBatch:
  """Latch variant II, 6 sequences of length 5..8: solvable, not at once."""
  return tasks.latch(jax.random.key(seed), 3, 5, 8, tasks.Noise("gaussian", 0.2),
                     first=(1.0, -1.0), targets=(1.0, -1.0))


def sequential_reference(key, net, batch, limit=500):
  """The procedure itself: draw candidate j from fold_in(key, j), run it
  through cells.run, stop at the first whose outputs all lie within 0.1."""
  run = jax.jit(lambda th: cells.run(net, th, batch.inputs, batch.lengths,
                                     batch.classes))
  for j in range(limit):
    th = jax.random.uniform(jax.random.fold_in(key, j), (net.size,),
                            jnp.float32, -100.0, 100.0)
    if bool(jnp.all(jnp.abs(run(th) - batch.targets) < 0.1)):
      return j + 1, th
  raise AssertionError("no solution in the reference stream")


@pytest.mark.parametrize("order", cells.ORDERS)
@pytest.mark.parametrize("net_name", ["latch1", "latch2", "parity_a1", "parity_a2",
                                      "parity_a1_n3"])
def test_outputs_equal_cells_run(net_name, order):
  # parity_a1_n3: hidden units that see each other (the dense hidden block).
  net = (cells.parity_a1(3) if net_name == "parity_a1_n3"
         else variant_net(net_name))
  net = dataclasses.replace(net, order=order)
  batch = (tasks.parity(jax.random.key(1), 3, 6, 9) if net_name.startswith("parity")
           else tasks.latch(jax.random.key(1), 3, 6, 9))
  th = jax.random.uniform(jax.random.key(2), (5, net.size), minval=-3, maxval=3)
  ref = jax.vmap(lambda t: cells.run(net, t, batch.inputs, batch.lengths,
                                     batch.classes))(th)
  np.testing.assert_allclose(cells.forward_many(net, th, batch.inputs, batch.lengths,
                           batch.classes), ref, atol=1e-5)


def test_layered_outputs_let_the_output_read_this_steps_hidden_state():
  net = cells.parity_a1()  # unit 0 hidden (tanh), unit 1 output (logistic)
  batch = tasks.parity(jax.random.key(3), 2, 4, 6, targets=(1.0, 0.0))
  th = jax.random.uniform(jax.random.key(4), (3, net.size), minval=-2, maxval=2)
  assert net.order == "layered"
  got = cells.forward_many(net, th, batch.inputs, batch.lengths,
                           batch.classes)
  x, L = np.asarray(batch.inputs, np.float64), np.asarray(batch.lengths)
  for k in range(3):
    p = {n: np.asarray(v, np.float64) for n, v in net.unpack(th[k]).items()}
    W, v, b = p["W"], p["v"], p["b"]
    for s in range(x.shape[1]):
      h = o = 0.0
      for t in range(L[s]):
        h = np.tanh(W[0, 0] * h + W[0, 1] * o + v[0] * x[t, s] + b[0])
        o = 1 / (1 + np.exp(-(W[1, 0] * h + W[1, 1] * o + v[1] * x[t, s] + b[1])))
      assert float(got[k, s]) == pytest.approx(o, abs=1e-5)


def test_candidates_are_the_fold_in_stream_whatever_the_batch():
  key = jax.random.key(5)
  a = guessing.candidates(key, 3, 4, 7, -100.0, 100.0)
  want = jax.random.uniform(jax.random.fold_in(key, 5), (7,), jnp.float32,
                            -100.0, 100.0)
  np.testing.assert_array_equal(a[2], want)
  assert float(jnp.min(a)) >= -100 and float(jnp.max(a)) <= 100


@pytest.mark.parametrize("seed", [0, 3])
def test_trial_count_equals_the_sequential_procedure(seed):
  # The reference stops at draws 48 (seed 0) and 40 (seed 3): inside a
  # batch for K = 7, at a batch's last slot for K = 4 and seed 0.
  net, batch = cells.latch2_net(), tiny_latch2(seed)
  key = jax.random.key(100 + seed)
  n, theta = sequential_reference(key, net, batch)
  assert n > 7
  budget = base.Budget(evaluations=1000)
  for K in (4, 7):
    r = jax.jit(lambda k: guessing.search(k, net, batch, budget,
                                          dict(TOL, batch=K)))(key)
    assert bool(r.solved) and int(r.evaluations) == n
    np.testing.assert_array_equal(r.theta, theta)  # the solving draw
    assert float(r.error) == 0.0 and not bool(r.stuck)


def test_budget_is_respected():
  net, batch = cells.latch2_net(), tiny_latch2(0)  # first solution: 48
  key = jax.random.key(100)
  for evals in (10, 47):  # neither a multiple of K = 4 ... 47 is not either
    r = guessing.search(key, net, batch, base.Budget(evaluations=evals),
                        dict(TOL, batch=4))
    assert int(r.evaluations) == evals and not bool(r.solved)
  # A criterion no draw meets (cost below -1): every allowed draw is made.
  r = guessing.search(key, net, batch, base.Budget(evaluations=13,
                                                   target_cost=-1.0,
                                                   patience=2), {"batch": 5})
  assert int(r.evaluations) == 13 and not bool(r.solved)
  assert not bool(r.stuck) and not bool(r.diverged)


def test_solves_an_easy_latch_through_the_registry():
  assert "guessing" in methods.available()
  fit, test, th0 = problems.Problem("latch", 20, n_per_class=10).draw(
      jax.random.key(7))
  r = jax.jit(lambda k: methods.solve(
      "guessing", k, fit, th0, base.Budget(evaluations=2000),
      {"criterion": "midpoint", "batch": 8}))(jax.random.key(8))
  assert bool(r.solved) and int(r.evaluations) < 200
  assert float(fit.evaluate(r.theta).error) == 0.0
  assert float(test.evaluate(r.theta).error) < 0.05


def test_bad_hyper_parameters_raise():
  net, batch = cells.latch2_net(), tiny_latch2(0)
  b = base.Budget(evaluations=4)
  for hp in ({"criterion": "best"}, {"low": 1.0, "high": 1.0},
             {"batch": 0}, {"step": 1}):
    with pytest.raises(ValueError):
      guessing.search(jax.random.key(0), net, batch, b, hp)
