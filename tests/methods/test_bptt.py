import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vanishing import methods, problems, tasks
from vanishing.experiments.latch import training
from vanishing.methods import bptt


def test_gradient_matches_finite_differences():
  with jax.enable_x64(True):
    batch = tasks.latch_minimal(jax.random.key(0), 3, 12, 3, 0.2)
    batch = jax.tree_util.tree_map(
        lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x, batch)
    params = {"w": jnp.float64(1.3),
              "h": jnp.asarray([[0.2, -0.1, 0.3], [-0.4, 0.1, 0.05]])}
    grads = jax.grad(training.cost)(params, batch)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    g_flat, _ = jax.flatten_util.ravel_pytree(grads)
    eps = 1e-6
    for i in range(flat.size):
      e = jnp.zeros_like(flat).at[i].set(eps)
      fd = (training.cost(unravel(flat + e), batch)
            - training.cost(unravel(flat - e), batch)) / (2 * eps)
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


# --- Gradient-norm clipping (Pascanu, Mikolov & Bengio 2013) -----------------

def _one_step(fit, theta0, hp, method=bptt.METHOD):
  """The point after one step of ``method`` from ``theta0``."""
  from vanishing.methods import loop
  run = loop.setup(method, jax.random.key(0), fit, theta0, base.Budget(), hp)
  state, _ = method.init(run)
  (theta, _), p = method.step(run, state, base.start(theta0))
  return theta, p


def test_clip_caps_the_step_of_a_huge_gradient(quad):
  # At 0 the gradient of 1/2 |theta - c|^2 is -c: norm 2e6 for c = 1e6 * quad.
  fit = quad._replace(centre=1e6 * quad.centre)
  theta0 = jnp.zeros(4)
  g = -fit.centre
  for clip in (0.5, jnp.asarray(0.5)):
    theta, p = _one_step(fit, theta0, {"optimizer": "sgd", "lr": 1.0,
                                       "clip": clip})
    step = np.asarray(theta - theta0)
    assert np.linalg.norm(step) == pytest.approx(0.5, rel=1e-5)
    np.testing.assert_allclose(step, -0.5 * g / np.linalg.norm(g), rtol=1e-5)
    assert bool(p.finite[0]) and bool(p.healthy)
  # A clip above the gradient's norm, or 0 (off): the plain step.
  for clip in (0.0, 1e7, jnp.asarray(0.0), jnp.asarray(1e7)):
    theta, _ = _one_step(fit, theta0, {"optimizer": "sgd", "lr": 1.0,
                                       "clip": clip})
    np.testing.assert_array_equal(np.asarray(theta), np.asarray(fit.centre))


def test_rtrl_steps_through_the_same_clip():
  from vanishing.methods import rtrl
  fit, _, theta0 = problems.Problem("latch", 4, n_per_class=3).draw(
      jax.random.key(2))
  plain, _ = _one_step(fit, theta0, {"optimizer": "sgd", "lr": 10.0},
                       rtrl.METHOD)
  assert np.linalg.norm(np.asarray(plain - theta0)) > 0.01
  theta, _ = _one_step(fit, theta0, {"optimizer": "sgd", "lr": 10.0,
                                     "clip": 1e-3}, rtrl.METHOD)
  assert np.linalg.norm(np.asarray(theta - theta0)) == pytest.approx(
      1e-2, rel=1e-4)
  assert rtrl.DEFAULTS["clip"] == bptt.DEFAULTS["clip"] == 0.0


def test_a_negative_clip_is_refused():
  fit, _, theta0 = problems.Problem("latch", 4, n_per_class=2).draw(
      jax.random.key(0))
  for name in ("bptt", "rtrl"):
    with pytest.raises(ValueError, match=f"{name}: clip must be >= 0"):
      methods.solve(name, jax.random.key(0), fit, theta0, base.Budget(),
                    {"clip": -1.0})


def _descend_before(run, state, cost, error, g):
  """``bptt.descend`` as it was before clipping."""
  theta, opt_state = state
  updates, opt_state = bptt._optimizer(run).update(g, opt_state, theta)
  new = optax.apply_updates(theta, updates)
  return (new, opt_state), base.one(theta, cost, error, bptt._all_finite(g),
                                    bptt._all_finite(new))


def test_clip_off_is_the_program_before_clipping(monkeypatch):
  # The default (clip a Python 0) traces exactly the program of the
  # unclipped method: the same jaxpr, so the same numbers bit for bit; a
  # traced clip of 0 gives the same numbers too.
  pr = problems.Problem("parity", 6, n_per_class=4)
  budget = base.Budget(evaluations=80, patience=80)

  def trials(hp=None):
    def one(key, clip=None):
      fit, _, th0 = pr.draw(key)
      extra = {} if clip is None else {"clip": clip}
      return bptt.solve(jax.random.fold_in(key, 1), fit, th0, budget,
                        {**(hp or {}), **extra})
    return one

  keys = jax.random.split(jax.random.key(3), 4)
  now = jax.make_jaxpr(jax.vmap(trials()))(keys)
  new = jax.jit(jax.vmap(trials()))(keys)
  traced = jax.jit(jax.vmap(trials(), in_axes=(0, None)))(keys,
                                                         jnp.asarray(0.0))
  monkeypatch.setattr(bptt, "descend", _descend_before)
  before = jax.make_jaxpr(jax.vmap(trials()))(keys)
  old = jax.jit(jax.vmap(trials()))(keys)
  assert str(now) == str(before)
  for f in base.Result._fields:
    np.testing.assert_array_equal(getattr(new, f), getattr(old, f), f)
    np.testing.assert_array_equal(getattr(traced, f), getattr(old, f), f)
  theta0 = jax.vmap(lambda k: pr.draw(k)[2])(keys)     # the runs trained
  assert np.all(np.abs(np.asarray(old.theta - theta0)).max(1) > 1e-3)
