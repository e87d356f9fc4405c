"""The adding and copying problems (``vanishing.tasks.followed``), the vector
readout of the forward pass, and the methods that train or refuse them.

The cells these tasks need (two input channels and a linear output; K
logits) are defined here, small: the suite's gated cells come separately.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells, methods, problems, tasks
from vanishing.cells import scan
from vanishing.methods import base, rtrl
from vanishing.tasks import followed


@dataclasses.dataclass(frozen=True)
class LinearElman(cells.Elman):
  """An Elman net with the linear output a regression needs,
  ``y_t = w_out . h_t + b_out`` (``cells.Elman``'s is tanh of it)."""
  name: str = "elman_linear"

  def step(self, p, state, t, u, context):
    h = super().step(p, state, t, u, context)["h"]
    return {"h": h, "y": h @ p["w_out"] + p["b_out"]}


@dataclasses.dataclass(frozen=True)
class Logits:
  """A tanh recurrent net read out as K logits: ``h_t = tanh(W h_{t-1} +
  V u_t + b)``, ``y_t = A h_t + c`` ``(B, K)``."""
  n: int = 4
  inputs: int = followed.CHANNELS
  K: int = followed.OUTPUTS
  name: str = "logits"
  provides = frozenset()

  @property
  def size(self) -> int:
    n, D, K = self.n, self.inputs, self.K
    return n * n + n * D + n + K * n + K

  def init(self, key, scale=0.5):
    return jax.random.uniform(key, (self.size,), minval=-scale, maxval=scale)

  def unpack(self, theta):
    n, D, K = self.n, self.inputs, self.K
    W, V, b, A, c = jnp.split(theta, np.cumsum([n * n, n * D, n, K * n]))
    return {"W": W.reshape(n, n), "V": V.reshape(n, D), "b": b,
            "A": A.reshape(K, n), "c": c, "p": theta}

  def initial_state(self, batch, dtype):
    return {"h": jnp.zeros((batch, self.n), dtype),
            "p": jnp.zeros((batch, self.size), dtype)}

  def step(self, p, state, t, u, context):
    del t, context
    h = jnp.tanh(state["h"] @ p["W"].T + u @ p["V"].T + p["b"])
    # The readout's parameters ride with the state (as Elman's output does).
    return {"h": h, "p": jnp.broadcast_to(p["p"], state["p"].shape)}

  def readout(self, state):
    p = self.unpack(state["p"][0])
    return state["h"] @ p["A"].T + p["c"]

  def numpy_logits(self, theta, inputs, lengths):
    """Logits at every step (0 after each end), ``(T, B, K)``, float64."""
    p = {k: np.asarray(v, np.float64) for k, v in self.unpack(theta).items()}
    x = np.asarray(inputs, np.float64)
    out = np.zeros(x.shape[:2] + (self.K,))
    for s in range(x.shape[1]):
      h = np.zeros(self.n)
      for t in range(int(lengths[s])):
        h = np.tanh(p["W"] @ h + p["V"] @ x[t, s] + p["b"])
        out[t, s] = p["A"] @ h + p["c"]
    return out


def register(monkeypatch, name, task, cell):
  monkeypatch.setitem(problems.REGISTRY, name,
                      problems.Spec(task, lambda: cell, f"test: {name}",
                                    (name, "test")))


# --- The adding problem ----------------------------------------------------

def test_adding_markers_values_and_target():
  task = tasks.get("adding")
  b = task.sample(jax.random.key(0), 500, 10, 10)
  x = np.asarray(b.inputs)
  assert x.shape == (10, 1000, 2)
  values, marks = x[..., 0], x[..., 1]
  assert np.all((values >= 0) & (values < 1))
  np.testing.assert_array_equal(marks.sum(0), 2)
  first, second = np.nonzero(marks[:5].T)[1], np.nonzero(marks[5:].T)[1] + 5
  assert first.shape == second.shape == (1000,)        # one in each half
  # Each half's marker covers its half.
  assert set(first) == set(range(5)) and set(second) == set(range(5, 10))
  cols = np.arange(1000)
  np.testing.assert_allclose(np.asarray(b.targets),
                             values[first, cols] + values[second, cols],
                             rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(b.lengths), 10)
  np.testing.assert_array_equal(np.asarray(b.classes), 0)


def test_adding_is_a_function_of_the_key():
  task = tasks.get("adding")
  a, b, c = (task.sample(jax.random.key(k), 4, 8, 8) for k in (1, 1, 2))
  for x, y in zip(a, b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert not np.array_equal(np.asarray(a.inputs), np.asarray(c.inputs))
  assert not np.array_equal(np.asarray(a.targets), np.asarray(c.targets))


def test_adding_baseline_is_the_cost_of_predicting_one():
  task = tasks.get("adding")
  b = task.sample(jax.random.key(3), 20000, 20, 20)
  measured = float(task.loss(jnp.ones_like(b.targets), b.targets))
  # 0.5 (s - 1)^2 has sd 0.099; over 40,000 sequences the mean's sd is 5e-4.
  assert measured == pytest.approx(task.baseline(20), abs=2e-3)
  assert task.baseline(20) == pytest.approx(1 / 12)


def test_adding_rules_tolerance_and_solved():
  task = tasks.get("adding")
  d = jnp.asarray([0.5, 1.2, 1.9])
  near = d + jnp.asarray([0.039, -0.039, 0.0])
  assert float(task.error(near, d)) == 0.0
  far = d.at[1].add(0.041)
  assert float(task.error(far, d)) == pytest.approx(1 / 3)
  assert float(task.loss(far, d)) == pytest.approx(0.5 * 0.041 ** 2 / 3,
                                                   rel=1e-4)
  assert bool(task.solved(task.loss(near, d), task.error(near, d), 0.01))
  assert not bool(task.solved(task.loss(far, d), task.error(far, d), 0.01))


def test_adding_problem_lengths_fixed_or_hs97(monkeypatch):
  adding = tasks.get("adding")
  register(monkeypatch, "adding_x", adding, LinearElman(n=4, inputs=2))
  register(monkeypatch, "adding_hs97", adding.with_lengths("tenth"),
           LinearElman(n=4, inputs=2))
  fit, test, theta0 = problems.Problem("adding_x", 8).draw(jax.random.key(0))
  assert fit.batch.inputs.shape == (8, 50, 2)
  np.testing.assert_array_equal(np.asarray(fit.batch.lengths), 8)
  assert fit.outputs(theta0).shape == (50,)
  assert np.isfinite(float(fit.evaluate(theta0).cost))
  # A swept span: the arrays keep T's steps, every length is the span.
  b = jax.jit(lambda s: problems.Problem("adding_x", 8).data(
      jax.random.key(1), 3, s))(6)
  assert b.inputs.shape == (8, 6, 2)
  np.testing.assert_array_equal(np.asarray(b.lengths), 6)
  assert np.all(np.asarray(b.inputs)[6:] == 0)
  # HS97's lengths T..T + T/10.
  b = problems.Problem("adding_hs97", 20).data(jax.random.key(2), 100)
  lengths = np.asarray(b.lengths)
  assert b.inputs.shape[0] == 22 and set(lengths) == {20, 21, 22}


# --- The copying problem ---------------------------------------------------

def test_copying_layout_one_hot_and_targets():
  T = 5
  b = tasks.get("copying").sample(jax.random.key(0), 3, T, T)
  x = np.asarray(b.inputs)
  assert x.shape == (T + 20, 6, 10) and b.targets.shape == (T + 20, 6)
  np.testing.assert_array_equal(x.sum(-1), 1)            # one-hot
  sym = x.argmax(-1)
  d = np.asarray(b.targets)
  for s in range(6):
    data = sym[:10, s]
    assert np.all((data >= 1) & (data <= 8))
    np.testing.assert_array_equal(sym[10:10 + T - 1, s], 0)   # T - 1 blanks
    assert sym[T + 9, s] == 9                                 # delimiter
    np.testing.assert_array_equal(sym[T + 10:, s], 0)         # 10 blanks
    np.testing.assert_array_equal(d[:T + 10, s], 0)
    np.testing.assert_array_equal(d[T + 10:, s], data)
  np.testing.assert_array_equal(np.asarray(b.lengths), T + 20)


def memoryless_logits(T, B, K):
  """Blank surely for T + 10 steps, then uniform over the 8 data symbols."""
  blank = jnp.full((K,), -1e4).at[0].set(0.0)
  uniform = jnp.full((K,), -1e4).at[1:9].set(0.0)
  t = jnp.arange(T + 20)[:, None, None]
  return jnp.broadcast_to(jnp.where(t < T + 10, blank, uniform),
                          (T + 20, B, K))


@pytest.mark.parametrize("K", [9, 10])
def test_copying_baseline_is_the_memoryless_cost(K):
  T = 12
  task = tasks.get("copying")
  b = task.sample(jax.random.key(1), 4, T, T)
  y = memoryless_logits(T, 8, K)
  cost = float(task.loss(y, b.targets, tasks.mask(b)))
  assert cost == pytest.approx(task.baseline(T), rel=1e-5)
  assert task.baseline(T) == pytest.approx(10 * math.log(8) / (T + 20))
  assert float(task.error(y, b.targets, tasks.mask(b))) > 0.5


def test_copying_error_counts_wrong_recalls_only():
  T = 4
  task = tasks.get("copying")
  b = task.sample(jax.random.key(2), 2, T, T)
  m = tasks.mask(b)
  perfect = 30.0 * jax.nn.one_hot(b.targets, 9)
  assert float(task.error(perfect, b.targets, m)) == 0.0
  assert float(task.loss(perfect, b.targets, m)) < 1e-6
  # A wrong blank before the recall costs, but is no recall error.
  early = perfect.at[3, 0].set(30.0 * jax.nn.one_hot(5, 9))
  assert float(task.error(early, b.targets, m)) == 0.0
  assert float(task.loss(early, b.targets, m)) > 0.1
  # One wrong recalled symbol: that sequence is wrong.
  wrong = int(b.targets[T + 15, 1]) % 8 + 1
  late = perfect.at[T + 15, 1].set(30.0 * jax.nn.one_hot(wrong, 9))
  assert float(task.error(late, b.targets, m)) == pytest.approx(1 / 4)


def test_copying_problem_with_a_k_output_cell(monkeypatch):
  register(monkeypatch, "copying_x", tasks.get("copying"), Logits())
  fit, _, theta0 = problems.Problem("copying_x", 5, n_per_class=3).draw(
      jax.random.key(0))
  assert fit.batch.inputs.shape == (25, 6, 10)
  y = fit.outputs(theta0)
  assert y.shape == (25, 6, 9)
  e = fit.evaluate(theta0)
  assert float(e.cost) == pytest.approx(
      float(fit.task.loss(y, fit.batch.targets, tasks.mask(fit.batch))))
  assert float(e.error) == 1.0


# --- The forward pass with a vector readout ---------------------------------

def test_every_step_forward_with_k_outputs():
  cell = Logits(n=3, inputs=2, K=4)
  theta = cell.init(jax.random.key(0))
  x = jax.random.normal(jax.random.key(1), (7, 5, 2))
  lengths = jnp.asarray([7, 3, 1, 5, 6], jnp.int32)
  every = scan.forward(cell, theta, x, lengths, every_step=True)
  assert every.shape == (7, 5, 4)
  want = cell.numpy_logits(theta, x, lengths)
  np.testing.assert_allclose(np.asarray(every), want, rtol=1e-5, atol=1e-6)
  live = np.arange(7)[:, None] < np.asarray(lengths)[None]
  assert np.all(np.asarray(every)[~live] == 0)            # 0 after each end
  end = scan.forward(cell, theta, x, lengths)
  np.testing.assert_allclose(np.asarray(end),
                             want[np.asarray(lengths) - 1, np.arange(5)],
                             rtol=1e-5, atol=1e-6)


def forward_before(cell, theta, inputs, lengths, context=None):
  """The every-step forward pass as it was written before the vector
  readout (one copy of ``theta``)."""
  p = cell.unpack(theta)

  def step(state, t, u):
    new = cell.step(p, state, t, u, context)
    return new, jnp.where(t < lengths, cell.readout(new), 0.0)

  return scan.scan(step, cell.initial_state(inputs.shape[1], inputs.dtype),
                   inputs, lengths)[1]


@pytest.mark.parametrize("cell", [cells.Elman(n=3),
                                  cells.latch2_net()], ids=lambda c: c.name)
def test_a_scalar_every_step_forward_is_unchanged(cell):
  theta = cell.init(jax.random.key(4), 0.5)
  x = jax.random.normal(jax.random.key(5), (9, 6))
  lengths = jnp.asarray([9, 4, 6, 2, 9, 7], jnp.int32)
  classes = jnp.asarray([0, 1, 0, 1, 0, 1], jnp.int32)
  new = jax.jit(lambda th: scan.forward(cell, th, x, lengths, classes,
                                        every_step=True))(theta)
  old = jax.jit(lambda th: forward_before(cell, th, x, lengths, classes))(
      theta)
  np.testing.assert_array_equal(np.asarray(new), np.asarray(old))


# --- Methods on the new tasks -----------------------------------------------

REFUSE = {"adding": {"pseudo_newton", "time_weighted_newton", "discrete",
                     "guessing"},
          "copying": {"pseudo_newton", "time_weighted_newton", "discrete",
                      "guessing", "rtrl_online"}}


@pytest.mark.parametrize("task", sorted(REFUSE))
def test_methods_that_cannot_compute_the_cost_refuse_in_one_line(task):
  for name in methods.NAMES:
    if name not in REFUSE[task]:
      methods.check_task(name, tasks.get(task))
      continue
    with pytest.raises(ValueError) as e:
      methods.check_task(name, tasks.get(task))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"method {name!r} cannot train task {task!r}: ")
    if name != "rtrl_online":
      assert f"the task's cost is {tasks.get(task).kind!r}" in msg


def test_compare_refuses_at_flag_time(monkeypatch):
  import types
  from vanishing.experiments import compare, flags
  from vanishing.experiments.flags import FlagError
  register(monkeypatch, "adding_x", tasks.get("adding"),
           LinearElman(n=4, inputs=2))
  fv = dict(paper=False, problems="adding_x", methods="bptt,guessing",
            T_values="8", trials=None, budget=None, patience=None,
            target_cost=None, hparams=None, noise_kind=None,
            noise_scale=None, n_per_class=None, test_per_class=None, seed=0,
            chunk=None)
  with pytest.raises(FlagError) as e:
    flags.build(compare.EXPERIMENT, types.SimpleNamespace(**fv))
  msg = str(e.value)
  assert "\n" not in msg and msg.startswith(
      "--methods: method 'guessing' cannot train task 'adding'")
  fv["methods"] = "bptt,annealing,multigrid,rtrl,rtrl_online"
  st = flags.build(compare.EXPERIMENT, types.SimpleNamespace(**fv))
  assert st.problem_names() == ("adding_x",)


@pytest.mark.parametrize("name,cell", [
    ("adding", LinearElman(n=3, inputs=2)),
    ("copying", Logits(n=3))], ids=["adding", "copying"])
def test_rtrl_gradient_is_the_gradient_of_the_task_cost(monkeypatch, name,
                                                        cell):
  register(monkeypatch, f"{name}_x", tasks.get(name), cell)
  fit, _, theta = problems.Problem(f"{name}_x", 6, n_per_class=3).draw(
      jax.random.key(7))
  cost, error, grad = jax.jit(lambda th: rtrl.gradient(fit, th))(theta)
  e = fit.evaluate(theta)
  want = jax.grad(fit.cost)(theta)
  assert float(cost) == pytest.approx(float(e.cost), rel=1e-5)
  assert float(error) == float(e.error)
  np.testing.assert_allclose(np.asarray(grad), np.asarray(want), rtol=2e-4,
                             atol=1e-6)


def test_bptt_learns_the_adding_problem_at_a_short_span(monkeypatch):
  register(monkeypatch, "adding_x", tasks.get("adding"),
           LinearElman(n=6, inputs=2))
  problem = problems.Problem("adding_x", 4, n_per_class=50,
                             test_per_class=200)
  fit, test, theta0 = problem.draw(jax.random.key(0))
  budget = base.Budget(evaluations=1500, patience=1500, target_cost=1e-4)
  r = jax.jit(lambda th: methods.solve(
      "bptt", jax.random.key(1), fit, th, budget,
      {"lr": 0.1, "clip": 1.0}))(theta0)
  base_cost = fit.task.baseline(4)
  assert float(fit.evaluate(theta0).cost) > 0.5 * base_cost
  # Far below the memoryless predictor, on the training and the test set.
  assert float(r.cost) < 0.1 * base_cost
  assert float(test.evaluate(r.theta).cost) < 0.2 * base_cost


@pytest.mark.parametrize("task,name", [
    ("copying", "bptt"), ("copying", "annealing"), ("copying", "multigrid"),
    ("copying", "rtrl"), ("adding", "rtrl_online"), ("copying", "snap1"),
    ("copying", "uoro")])
def test_the_methods_that_accept_a_task_train_it(monkeypatch, task, name):
  cell = Logits(n=3) if task == "copying" else LinearElman(n=3, inputs=2)
  register(monkeypatch, f"{task}_x", tasks.get(task), cell)
  methods.check_task(name, tasks.get(task))
  fit, _, theta0 = problems.Problem(f"{task}_x", 4, n_per_class=4).draw(
      jax.random.key(5))
  r = jax.jit(lambda th: methods.solve(
      name, jax.random.key(6), fit, th,
      base.Budget(evaluations=40, patience=40)))(theta0)
  assert not bool(r.diverged) and int(r.evaluations) == 40
  assert float(r.cost) < float(fit.evaluate(theta0).cost)    # it moved down
