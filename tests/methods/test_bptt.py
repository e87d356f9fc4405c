import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import tasks
from vanishing.experiments import convergence
from vanishing.methods import bptt


def test_gradient_matches_finite_differences():
  with jax.enable_x64(True):
    batch = tasks.latch_minimal(jax.random.key(0), 3, 12, 3, 0.2)
    batch = jax.tree_util.tree_map(
        lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x, batch)
    params = {"w": jnp.float64(1.3),
              "h": jnp.asarray([[0.2, -0.1, 0.3], [-0.4, 0.1, 0.05]])}
    grads = jax.grad(convergence.cost)(params, batch)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    g_flat, _ = jax.flatten_util.ravel_pytree(grads)
    eps = 1e-6
    for i in range(flat.size):
      e = jnp.zeros_like(flat).at[i].set(eps)
      fd = (convergence.cost(unravel(flat + e), batch)
            - convergence.cost(unravel(flat - e), batch)) / (2 * eps)
      assert float(g_flat[i]) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)


def quadratic(target):
  def loss_fn(p, epoch):
    loss = 0.5 * jnp.sum((p["x"] - target) ** 2)
    return loss, loss < 1e-6
  return loss_fn


def test_stops_at_criterion_and_records_epoch():
  # Gradient descent with lr 0.5 on 1/2 (x - 1)^2 halves the error each step:
  # from error 1, the loss 1/2 e^2 < 1e-6 first holds at e = 2^-10.
  res = bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, 0.5, epochs=100)
  assert bool(res.converged) and not bool(res.diverged)
  assert int(res.epoch) == 10
  assert float(res.params["x"]) == pytest.approx(1 - 2.0 ** -10)


def test_budget_exhausted_is_not_converged():
  res = bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, 0.01, epochs=5)
  assert not bool(res.converged)
  assert int(res.epoch) == -1
  assert float(res.loss) == pytest.approx(0.5 * 0.99 ** 10, rel=1e-5)


def test_budget_checks_the_last_update():
  # Exactly 10 updates are needed: a budget of 10 converges, of 9 does not.
  assert bool(bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, 0.5, epochs=10).converged)
  assert not bool(bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, 0.5, epochs=9).converged)


def test_divergence_is_recorded_not_raised():
  res = bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, 1e38, epochs=50)
  assert bool(res.diverged) and not bool(res.converged)
  assert np.isfinite(float(res.params["x"]))  # last finite parameters kept


def test_vmapped_runs_are_independent():
  lrs = jnp.asarray([0.5, 1e38, 0.5])
  fn = lambda lr: bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, lr, epochs=100)
  res = jax.vmap(fn)(lrs)
  np.testing.assert_array_equal(res.diverged, [False, True, False])
  np.testing.assert_array_equal(res.epoch, [10, -1, 10])
  single = fn(0.5)
  assert float(res.params["x"][2]) == float(single.params["x"])


def test_history_records_gradient_norms_until_the_stop():
  res = bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, 0.5, epochs=20,
                   history=True)
  h = np.asarray(res.history["x"])
  assert h.shape == (20,)
  # dC/dx = x - 1 = -(1/2)^k at epoch k; the run stops at epoch 10, where the
  # gradient is still computed (and the criterion found met).
  np.testing.assert_allclose(h[:11], 0.5 ** np.arange(11), rtol=1e-6)
  assert np.all(np.isnan(h[11:]))
  assert bptt.train(quadratic(1.0), {"x": jnp.zeros(())}, 0.5, epochs=5).history is None


# --- The comparison protocol ---------------------------------------------------

from vanishing import problems  # noqa: E402
from vanishing.methods import base  # noqa: E402


def _solve_many(problem, budget, hp=None, trials=16):
  def one(key):
    fit, _, th0 = problem.draw(key)
    return bptt.solve(key, fit, th0, budget, hp)
  keys = jax.random.split(jax.random.key(0), trials)
  return jax.jit(jax.vmap(one))(keys)


def test_solve_learns_an_easy_latch_and_counts_evaluations():
  pr = problems.Problem("latch", 3, n_per_class=5,
                        noise=tasks.Noise("none", 0.0))
  budget = base.Budget(evaluations=600, patience=600)
  r = _solve_many(pr, budget)
  # Half the initial points lie in the basin of a local minimum where the
  # class inputs have the wrong signs and w < 0 (measured 8 of 16 solved).
  assert float(r.solved.mean()) >= 0.4
  assert np.all(r.evaluations >= 1) and np.all(r.evaluations <= 600)
  solved = np.asarray(r.solved)
  assert np.all(np.asarray(r.error)[solved] == 0)
  assert np.all(np.asarray(r.cost)[solved] < budget.target_cost)
  # Unsolved runs used the whole budget or stopped as stuck.
  rest = ~solved
  assert np.all((np.asarray(r.evaluations)[rest] == 600)
                | np.asarray(r.stuck)[rest])


def test_solve_records_divergence_instead_of_crashing():
  pr = problems.Problem("parity", 4, n_per_class=4)
  r = _solve_many(pr, base.Budget(evaluations=50, patience=50),
                  {"lr": float("inf"), "optimizer": "sgd"}, trials=4)
  assert np.all(np.asarray(r.diverged))
  assert np.all(np.asarray(r.evaluations) >= 1)
  assert np.all(np.isfinite(np.asarray(r.cost)))  # the last finite best


def test_a_block_of_runs_on_the_lanes_equals_each_run_alone():
  """``runs=(B,)``: each run stops at its own epoch and is frozen there,
  bit for bit as it runs alone (elementwise arithmetic only)."""
  targets = jnp.asarray([0.5, 1.0, 2.0, 40.0])
  lrs = jnp.asarray([0.5, 0.1, 0.02, 1.9])

  def loss(target):
    def fn(p, epoch):
      c = 0.5 * (p["x"] - target) ** 2
      return c, c < 1e-4
    return fn

  block = bptt.train(loss(targets), {"x": jnp.zeros(4)}, lrs, epochs=30,
                     optimizer="momentum", momentum=0.5, history=True,
                     runs=(4,))
  assert block.history["x"].shape == (30, 4)
  epochs = []
  for i in range(4):
    one = bptt.train(loss(targets[i]), {"x": jnp.zeros(())}, lrs[i],
                     epochs=30, optimizer="momentum", momentum=0.5,
                     history=True)
    for name in ("converged", "epoch", "loss", "diverged", "grad_norm"):
      np.testing.assert_array_equal(getattr(block, name)[i],
                                    getattr(one, name), err_msg=name)
    np.testing.assert_array_equal(block.params["x"][i], one.params["x"])
    np.testing.assert_array_equal(block.history["x"][:, i], one.history["x"])
    epochs.append(int(one.epoch))
  assert len(set(epochs)) > 2  # runs stopped at different epochs
  assert -1 in epochs  # and one ran out of budget
