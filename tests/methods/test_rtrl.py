"""RTRL (batch and online) against reverse mode, and the local recursion.

Float64 throughout the gradient checks; the measure is
``max |g_rtrl - g_bptt| / max |g_bptt|`` (relative to the gradient's size, so
an entry that is zero in both is no obstacle).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells, methods, problems, tasks
from vanishing.methods import base, rtrl, rtrl_online

FULL = ("latch", "two_sequence", "parity")
LOCAL = ("latch_local", "two_sequence_local", "parity_local")
TOL = 1e-6


def _fit64(name, T=6, n_per_class=3, key=1):
  """A small float64 training set of problem ``name``, a point away from 0."""
  fit, _, theta = problems.Problem(name, T, n_per_class=n_per_class,
                                   N=2).draw(jax.random.key(key))
  batch = jax.tree_util.tree_map(
      lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x,
      fit.batch)
  return problems.Fit(fit.net, batch, fit.task), 2.0 * theta.astype(jnp.float64)


def _rel(a, b):
  return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


@functools.lru_cache(maxsize=None)
def _gradients(name):
  """``{bptt, generic, local?}`` gradients and costs, one jit, float64."""
  with jax.enable_x64(True):
    fit, theta = _fit64(name)

    @jax.jit
    def all_of(th):
      out = {"bptt": (fit.cost(th), jax.grad(fit.cost)(th)),
             "generic": rtrl.gradient(fit, th, "generic"),
             "auto": rtrl.gradient(fit, th)}
      if rtrl.is_local(fit.net):
        out["local"] = rtrl.gradient_local(fit, th)
      return out
    return jax.tree_util.tree_map(np.asarray, all_of(theta)), fit.evaluate(
        theta)


@pytest.mark.parametrize("name", FULL + LOCAL)
def test_rtrl_gradient_equals_bptt(name):
  g, ev = _gradients(name)
  cost, grad = g["bptt"]
  for kind in ("generic", "auto") + (("local",) if name in LOCAL else ()):
    c, e, gr = g[kind]
    assert _rel(gr, grad) <= TOL, (kind, _rel(gr, grad))
    np.testing.assert_allclose(c, cost, rtol=1e-12)
    assert float(e) == pytest.approx(float(ev.error))


@pytest.mark.parametrize("name", LOCAL)
def test_local_recursion_equals_the_generic_one(name):
  g, _ = _gradients(name)
  assert _rel(g["local"][2], g["generic"][2]) <= 1e-12


def test_the_local_recursion_is_used_only_for_local_nets():
  for name in LOCAL:
    assert rtrl.is_local(problems.Problem(name, 6).net), name
  for name in FULL + ("parity_a1", "parity_a2", "latch2", "latch2_elman"):
    assert not rtrl.is_local(problems.Problem(name, 6).net), name
  # A self-loop on the output or a weight from the output into a hidden
  # unit breaks the structure.
  net = cells.local_feedback_net(2)
  for i, j in ((2, 2), (0, 2), (0, 1)):
    W = np.asarray(net.W_free)
    W[i, j] = True
    bad = cells.Net(net.n, tuple(map(tuple, W.tolist())), net.v_free,
                    net.v_fixed, net.b_free, net.output, order="layered")
    assert not rtrl.is_local(bad), (i, j)
  fit, theta = problems.Problem("latch", 4).draw(jax.random.key(0))[::2]
  with pytest.raises(ValueError, match="not a local-feedback net"):
    rtrl.gradient_local(fit, theta)


def every_step_task(key, n_per_class, min_len, max_len, *, noise, targets,
                    size):
  """The latch's targets asked at every step of each sequence."""
  b = tasks.latch(key, n_per_class, min_len, max_len, noise=noise,
                  targets=targets, size=size, first=(1.0, -1.0))
  return b._replace(targets=tasks.mask(b) * b.targets[None, :])


@pytest.mark.parametrize("cell", ["latch2", "local"])
def test_a_target_at_every_step(cell):
  with jax.enable_x64(True):
    task = tasks.Task("every", every_step_task, readout="every")
    net = (cells.latch2_net() if cell == "latch2"
           else cells.local_feedback_net(2))
    b = task.sample(jax.random.key(0), 3, 3, 6, tasks.Noise("uniform", 0.2))
    b = jax.tree_util.tree_map(
        lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x, b)
    fit = problems.Fit(net, b, task)
    theta = net.init(jax.random.key(2), 1.0).astype(jnp.float64)
    c, _, g = rtrl.gradient(fit, theta)
    assert _rel(g, jax.grad(fit.cost)(theta)) <= TOL
    assert float(c) == pytest.approx(float(fit.cost(theta)), rel=1e-12)


def test_online_pass_is_per_sequence_sgd():
  # Weights change only at sequence ends, so a pass is SGD with each
  # sequence's own gradient (jax.grad of its cost) at the current weights.
  with jax.enable_x64(True):
    for name in ("two_sequence", "parity_local"):
      fit, theta = _fit64(name, n_per_class=2)
      order = jnp.asarray([2, 0, 3, 1])
      lr, B = 0.7, fit.size
      got, ok = jax.jit(lambda th: rtrl_online.online_pass(fit, th, lr,
                                                           order))(theta)
      want = theta
      for b in np.asarray(order):
        one = problems.Fit(fit.net, jax.tree_util.tree_map(
            lambda x: x[:, b:b + 1] if x.ndim == 2 else x[b:b + 1],
            fit.batch), fit.task)
        want = want - lr / B * jax.grad(one.cost)(want)
      assert bool(ok)
      assert _rel(got - theta, want - theta) <= TOL, name


def _solve(name, problem, hp=None, trials=4, evaluations=30):
  pr = problems.Problem(problem, 6, n_per_class=4, test_per_class=1)
  budget = base.Budget(evaluations=evaluations, patience=evaluations)

  def one(key):
    fit, _, th = pr.draw(key)
    return methods.solve(name, key, fit, th, budget, hp)
  return jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), trials))


def test_batch_rtrl_follows_bptt():
  # The same gradients and optimizer: the same trajectory to rounding.
  for problem in ("two_sequence", "parity_local"):
    a, b = _solve("rtrl", problem), _solve("bptt", problem)
    np.testing.assert_array_equal(a.evaluations, b.evaluations)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-4, atol=1e-5)
  g = _solve("rtrl", "parity_local", {"recursion": "generic"})
  np.testing.assert_allclose(g.theta, a.theta, rtol=1e-4, atol=1e-5)


def test_online_rtrl_learns_and_counts_passes():
  # Measured 6 of these 8 solved at the default lr.
  r = _solve("rtrl_online", "latch", trials=8, evaluations=200)
  assert np.all((r.evaluations >= 1) & (r.evaluations <= 200))
  assert float(r.solved.mean()) >= 0.5
  fixed = _solve("rtrl_online", "latch_local", {"order": "fixed"}, trials=2)
  assert np.all(np.isfinite(np.asarray(fixed.cost)))


def test_online_divergence_is_recorded():
  r = _solve("rtrl_online", "two_sequence", {"lr": float("inf")})
  assert np.all(np.asarray(r.diverged))
  assert np.all(np.isfinite(np.asarray(r.theta)))


def test_bad_choices_are_refused():
  fit, _, th = problems.Problem("latch", 4).draw(jax.random.key(0))
  b = base.Budget(evaluations=2)
  with pytest.raises(ValueError, match="recursion must be one of"):
    methods.solve("rtrl", jax.random.key(0), fit, th, b, {"recursion": "x"})
  with pytest.raises(ValueError, match="order must be one of"):
    methods.solve("rtrl_online", jax.random.key(0), fit, th, b,
                  {"order": "x"})
  every = tasks.Task("every", every_step_task, readout="every")
  with pytest.raises(ValueError, match="'rtrl_online' cannot train task"):
    methods.check_task("rtrl_online", every)
  methods.check_task("rtrl", every)
