"""Conformance of every registered task to the task protocol.

Parametrised over ``tasks.TASKS``: a task added to the registry gets these
tests, and fails the definition test until a check of its defining property
is added to ``DEFINITIONS`` below.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import problems, tasks


def latch_definition(task, b, noise_scale):
  """Only the first step carries the class (here: nothing, or the task's
  ``first`` values); every later step is noise in the noise law's range."""
  x = np.asarray(b.inputs)
  first = dict(task.options)["first"]
  want0 = (0.0 if first is None
           else np.where(np.asarray(b.classes) == 0, first[0], first[1]))
  np.testing.assert_allclose(x[0], want0)
  assert np.all(np.abs(x[1:]) <= noise_scale + 1e-6)


def two_sequence_definition(task, b, noise_scale):
  """The first N steps are the class's prototype plus noise; later steps
  are noise only."""
  N = dict(task.options)["N"]
  proto = np.asarray(tasks.prototypes(N))[np.asarray(b.classes)].T   # (N, B)
  x = np.asarray(b.inputs)
  assert np.all(np.abs(x[:N] - proto) <= noise_scale + 1e-6)
  live = np.arange(x.shape[0])[:, None] < np.asarray(b.lengths)[None]
  assert np.all(np.abs(x[N:][live[N:]]) <= noise_scale + 1e-6)


def parity_definition(task, b, noise_scale):
  """Bits are +-1 plus noise; class 0 has an odd number of +1 bits."""
  x = np.asarray(b.inputs)
  live = np.arange(x.shape[0])[:, None] < np.asarray(b.lengths)[None]
  assert np.all(np.abs(np.abs(x[live]) - 1) <= noise_scale + 1e-6)
  ones = np.sum((x > 0) & live, axis=0)
  np.testing.assert_array_equal(ones % 2 == 1, np.asarray(b.classes) == 0)


def adding_definition(task, b, noise_scale):
  """Values in [0, 1]; exactly two markers, one in each half of the
  sequence; the target is the sum of the two marked values."""
  del task, noise_scale
  x, L = np.asarray(b.inputs), np.asarray(b.lengths)
  values, marks = x[..., 0], x[..., 1]
  assert np.all((values >= 0) & (values <= 1))
  np.testing.assert_array_equal(marks.sum(0), 2)
  for s in range(x.shape[1]):
    i, j = np.nonzero(marks[:, s])[0]
    assert 0 <= i < L[s] // 2 <= j < L[s]
  np.testing.assert_allclose(np.sum(values * marks, 0), b.targets, rtol=1e-6)


def copying_definition(task, b, noise_scale):
  """10 data symbols, blanks, the delimiter 10 steps before the end,
  blanks; the target is blank until the delimiter's 10 blanks begin, then
  the 10 data symbols."""
  del task, noise_scale
  x = np.argmax(np.asarray(b.inputs), -1)
  d, L = np.asarray(b.targets), np.asarray(b.lengths)
  for s in range(x.shape[1]):
    span = L[s] - 20
    data = x[:10, s]
    assert np.all((data >= 1) & (data <= 8))
    want = np.concatenate([data, [0] * (span - 1), [9], [0] * 10])
    np.testing.assert_array_equal(x[:L[s], s], want)
    np.testing.assert_array_equal(d[:L[s], s],
                                  np.concatenate([[0] * (span + 10), data]))


def two_sequence_1997_definition(task, b, noise_scale):
  """HS97's 3a: the first N inputs 1.0 (class 0) or -1.0 (class 1), then
  Gaussian noise of variance 0.2 (whatever noise law is asked); targets
  1.0 and 0.0."""
  del noise_scale
  N = dict(task.options)["N"]
  x, c = np.asarray(b.inputs), np.asarray(b.classes)
  np.testing.assert_array_equal(x[:N], np.broadcast_to(
      np.where(c == 0, 1.0, -1.0), x[:N].shape))
  np.testing.assert_array_equal(np.asarray(b.targets), np.where(c == 0, 1, 0))
  live = np.arange(x.shape[0])[:, None] < np.asarray(b.lengths)[None]
  assert 0.15 < np.var(x[N:][live[N:]]) < 0.25


def adding_1997_definition(task, b, noise_scale):
  """HS97's experiment 4: values in [-1, 1]; two markers 1.0 among the
  first floor(T/2) steps (the first in the first ten), -1.0 at the first
  and the last step unless marked there, a marked first value zeroed;
  target 0.5 + (X1 + X2)/4."""
  del task, noise_scale
  x, L = np.asarray(b.inputs), np.asarray(b.lengths)
  values, marks = x[..., 0], x[..., 1]
  half = L.min() // 2           # the set's T: every length is >= T
  assert np.all(np.abs(values) <= 1)
  for s in range(x.shape[1]):
    ones = np.nonzero(marks[:, s] == 1)[0]
    assert len(ones) == 2 and ones.max() < half and ones.min() < 10
    want = np.zeros(L[s])
    want[[0, L[s] - 1]] = -1
    want[ones] = 1
    np.testing.assert_array_equal(marks[:L[s], s], want)
    if 0 in ones:
      assert values[0, s] == 0
    np.testing.assert_allclose(0.5 + values[ones, s].sum() / 4, b.targets[s],
                               rtol=1e-6)


# task name -> check of the generator against the task's definition.
DEFINITIONS = {"latch": latch_definition,
               "two_sequence": two_sequence_definition,
               "parity": parity_definition,
               "adding": adding_definition,
               "copying": copying_definition,
               "two_sequence_1997": two_sequence_1997_definition,
               "adding_1997": adding_1997_definition}
# The paper's two-class tasks (their rules are checked below; the others'
# in tests/tasks/test_followed.py).
CLASSIFICATION = sorted(n for n, t in tasks.TASKS.items()
                        if t.kind == "classification")


@pytest.fixture(params=sorted(tasks.TASKS))
def task(request):
  return tasks.get(request.param)


@pytest.mark.parametrize("size", [None, 12])
def test_batch_layout(task, size):
  lo, hi = max(task.min_len, 4), 9
  b = task.sample(jax.random.key(0), 5, lo, hi, tasks.Noise("uniform", 0.2),
                  size=size)
  T = task.steps(hi if size is None else size)
  assert b.inputs.shape[:2] == (T, 10)
  assert b.targets.shape == ((T, 10) if task.readout == "every" else (10,))
  assert b.lengths.dtype == jnp.int32 and b.classes.dtype == jnp.int32
  lengths = np.asarray(b.lengths)
  assert lengths.min() >= task.steps(lo) and lengths.max() <= task.steps(hi)
  if task.kind == "classification":
    np.testing.assert_array_equal(np.asarray(b.classes), [0] * 5 + [1] * 5)
    np.testing.assert_array_equal(
        np.asarray(b.targets), np.where(np.asarray(b.classes) == 0,
                                        *task.targets).astype(np.float32))
  else:  # no classes
    np.testing.assert_array_equal(np.asarray(b.classes), 0)
  m = np.asarray(tasks.mask(b))
  np.testing.assert_array_equal(m.sum(0), lengths)
  assert np.all(np.asarray(b.inputs)[m == 0] == 0)  # zero after each end


def test_generator_matches_its_definition(task):
  check = DEFINITIONS.get(task.name)
  assert check is not None, (
      f"task {task.name}: add a check of its definition to DEFINITIONS")
  for seed in range(3):
    b = task.sample(jax.random.key(seed), 50, max(task.min_len, 5), 12,
                    tasks.Noise("uniform", 0.2))
    check(task, b, 0.2)


def test_sampling_is_a_function_of_the_key(task):
  draw = lambda k: task.sample(jax.random.key(k), 4, max(task.min_len, 4), 8)
  for x, y in zip(draw(3), draw(3)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert not np.array_equal(np.asarray(draw(3).inputs),
                            np.asarray(draw(4).inputs))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_rules_cost_error_solved(name):
  task = tasks.get(name)
  d = jnp.asarray([task.targets[0], task.targets[1], task.targets[0]])
  y = jnp.asarray(d).at[2].set(task.targets[1])   # one of three wrong
  assert float(task.loss(d, d)) == 0.0
  gap = task.targets[0] - task.targets[1]
  assert float(task.loss(y, d)) == pytest.approx(0.5 * gap ** 2 / 3)
  assert float(task.error(y, d)) == pytest.approx(1 / 3)
  assert bool(task.solved(task.loss(d, d), task.error(d, d), 0.01))
  assert not bool(task.solved(task.loss(y, d), task.error(y, d), 10.0))
  # The best constant output, the targets' mean, costs the baseline.
  mean = jnp.full(2, 0.5 * (task.targets[0] + task.targets[1]))
  assert float(task.loss(mean, jnp.asarray(task.targets))) == pytest.approx(
      task.baseline(10))


def test_every_problem_pairs_a_registered_task_with_a_registered_cell():
  for name, spec in problems.REGISTRY.items():
    assert spec.task.generator in {t.generator for t in tasks.TASKS.values()}
    cell = spec.cell()
    assert cell.size >= 1, name
  assert problems.PROBLEMS == tuple(problems.REGISTRY)[:3]


def test_the_paper_tasks_come_first_and_keep_their_rules():
  # New tasks go at the end; the paper's keep the paper's cost, its
  # lengths (ceil(T/2)..T) and their generators' arrays.
  assert list(tasks.TASKS)[:3] == ["latch", "two_sequence", "parity"]
  for name in ("latch", "two_sequence", "parity"):
    task = tasks.get(name)
    assert (task.kind, task.lengths, task.readout) == (
        "classification", "half", "end")
    assert task.bounds(9) == (5, 9) and task.steps(9) == 9
  assert tasks.get("adding").bounds(8) == (8, 8)
  assert tasks.get("adding").with_lengths("tenth").bounds(20) == (20, 22)
  with pytest.raises(ValueError, match="lengths must be one of"):
    tasks.get("adding").with_lengths("some")


def test_unknown_names_list_the_registry():
  with pytest.raises(ValueError, match="choose from latch"):
    tasks.get("adding_typo")
  with pytest.raises(ValueError, match="unknown option"):
    tasks.get("parity").with_options(N=3)


def sign_task(key, n_per_class, min_len, max_len, *, noise, targets, size):
  """The worked example of a task (docs/extending.md): the class is the sign
  of the first input (+1 for class 0), every input after it is noise."""
  k_len, k_noise = jax.random.split(key)
  classes = jnp.repeat(jnp.arange(2, dtype=jnp.int32), n_per_class)
  lengths = tasks.draw_lengths(k_len, 2 * n_per_class, min_len, max_len)
  T = max_len if size is None else size
  x = noise.sample(k_noise, (T, 2 * n_per_class)).at[0].set(
      jnp.where(classes == 0, 1.0, -1.0))
  live = jnp.arange(T)[:, None] < lengths[None, :]
  return tasks.SequenceBatch(x * live, jnp.where(classes == 0, *targets),
                             lengths, classes)


def test_a_new_task_is_one_generator_and_one_registry_line(monkeypatch):
  from vanishing import cells, methods
  from vanishing.methods import base
  monkeypatch.setitem(tasks.TASKS, "sign", tasks.Task("sign", sign_task))
  monkeypatch.setitem(problems.REGISTRY, "sign", problems.Spec(
      tasks.get("sign"), cells.latch2_net, "sign of the first input",
      ("sign", "paper")))
  fit, test, theta0 = problems.Problem("sign", 6).draw(jax.random.key(0))
  check = DEFINITIONS["latch"]  # the same definition as latch with first=+-1
  check(tasks.get("latch").with_options(first=(1.0, -1.0)), fit.batch, 0.2)
  r = methods.solve("multigrid", jax.random.key(1), fit, theta0,
                    base.Budget(evaluations=2000, patience=2000))
  assert bool(r.solved) and float(test.evaluate(r.theta).error) < 0.1


def every_step_task(key, n_per_class, min_len, max_len, *, noise, targets,
                    size):
  """The latch asked at every step: the first input is +-1 by class, the
  target at every step inside the sequence is the class's target."""
  b = sign_task(key, n_per_class, min_len, max_len, noise=noise,
                targets=targets, size=size)
  live = tasks.mask(b)
  return b._replace(targets=live * b.targets[None, :])


def test_a_task_with_a_target_at_every_step(monkeypatch):
  from vanishing import cells, methods
  from vanishing.methods import base
  task = tasks.Task("every", every_step_task, readout="every")
  monkeypatch.setitem(problems.REGISTRY, "every", problems.Spec(
      task, cells.latch2_net, "the latch asked at every step",
      ("every", "paper")))
  fit, test, theta0 = problems.Problem("every", 6).draw(jax.random.key(2))
  y = fit.outputs(theta0)
  assert y.shape == fit.batch.targets.shape == fit.batch.inputs.shape
  m = np.asarray(tasks.mask(fit.batch))
  d, yy = np.asarray(fit.batch.targets), np.asarray(y)
  want = 0.5 * np.sum(m * (yy - d) ** 2) / m.sum()
  assert float(fit.evaluate(theta0).cost) == pytest.approx(want, rel=1e-5)
  r = methods.solve("bptt", jax.random.key(3), fit, theta0,
                    base.Budget(evaluations=2000, patience=2000))
  assert float(test.evaluate(theta0).error) == 1.0   # some step wrong
  assert bool(r.solved) and float(test.evaluate(r.theta).error) == 0.0
  # Methods that compute their own end-of-sequence outputs refuse it.
  with pytest.raises(ValueError, match="'guessing' cannot train task 'every'"):
    methods.check_task("guessing", task)
  methods.check_task("bptt", task)
  with pytest.raises(ValueError, match="readout"):
    tasks.Task("bad", every_step_task, readout="sometimes")
