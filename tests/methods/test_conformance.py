"""What every registered method guarantees, by the protocol of ``base``.

Parametrised over ``methods.NAMES``: a method gets these tests by being
listed. Each runs one tiny latch block (T = 4, 8 sequences, a budget of 40
evaluations) with its numeric hyper-parameters passed as traced arrays;
trial 0 starts from a NaN point, so it stops at its first evaluation while
the others run on.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import methods, problems
from vanishing.methods import base

PROBLEM = problems.Problem("latch", 4, n_per_class=4, test_per_class=1)
BUDGET = base.Budget(evaluations=40, patience=12)
KEYS = jax.random.split(jax.random.key(0), 4)
SPOIL = jnp.asarray([True, False, False, False])
# Guessing: several rounds in the budget, and a criterion it meets at times.
STATIC = {"guessing": {"batch": 8, "criterion": "midpoint"}}


def numbers(name: str) -> dict:
  """The method's numeric defaults as arrays (traced under jit)."""
  m = methods.get(name)
  return {k: jnp.asarray(v) for k, v in m.defaults.items()
          if k not in m.static}


def trial_fn(name: str):
  def trial(key, spoil, nums):
    fit, _, theta0 = PROBLEM.draw(key)
    theta0 = jnp.where(spoil, jnp.nan, theta0)
    return methods.solve(name, jax.random.fold_in(key, 1), fit, theta0,
                         BUDGET, {**STATIC.get(name, {}), **nums})
  return trial


_RUNS: dict = {}


def runs(name: str):
  """``(block function, block result, single results)`` of ``name``."""
  if name not in _RUNS:
    trial = trial_fn(name)
    block = jax.jit(jax.vmap(trial, in_axes=(0, 0, None)))
    single = jax.jit(trial)
    nums = numbers(name)
    _RUNS[name] = (block, block(KEYS, SPOIL, nums),
                   [single(k, s, nums) for k, s in zip(KEYS, SPOIL)])
  return _RUNS[name]


def lane(r: base.Result, i: int) -> base.Result:
  return jax.tree_util.tree_map(lambda a: a[i], r)


def assert_same(a: base.Result, b: base.Result) -> None:
  for f in base.Result._fields:
    np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


@pytest.mark.parametrize("name", methods.NAMES)
def test_respects_the_budget(name):
  _, r, _ = runs(name)
  ev = np.asarray(r.evaluations)
  assert np.all((ev >= 1) & (ev <= BUDGET.evaluations)), ev


@pytest.mark.parametrize("name", methods.NAMES)
def test_stops_with_at_most_one_reason(name):
  # finish: solved, stuck and diverged exclude each other; a run with none
  # of them used its whole budget.
  _, r, _ = runs(name)
  flags = np.stack([r.solved, r.stuck, r.diverged]).astype(int)
  assert np.all(flags.sum(0) <= 1)
  ran_out = flags.sum(0) == 0
  assert np.all(np.asarray(r.evaluations)[ran_out] == BUDGET.evaluations)
  assert np.all(np.isfinite(np.asarray(r.cost))[np.asarray(r.solved)])


# Online RTRL updates the weights sequence by sequence inside a scan; XLA's
# CPU code for it moved one weight by 1 ulp with the lane order (gone with
# --xla_cpu_max_isa=SSE4_2, so a vectorization choice, not the method):
# vmapped, its lanes are held equal to float32 rounding, and the engine runs
# its trials one per lane (``LANES = 1``; tests/experiments/test_compare.py).
LANE_ROUNDING = ("rtrl_online",)


@pytest.mark.parametrize("name", methods.NAMES)
def test_a_stopped_trial_is_frozen_in_its_block(name):
  # The lanes of a block are independent bit for bit: the same trials in
  # another order (so other lanes stop around each) give the same results.
  block, r, _ = runs(name)
  order = np.asarray([2, 0, 3, 1])
  shuffled = block(KEYS[order], SPOIL[order], numbers(name))
  for i, j in enumerate(order):
    if name in LANE_ROUNDING:
      a, b = lane(shuffled, i), lane(r, j)
      for f in ("evaluations", "solved", "stuck", "diverged"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), (f, i)
      np.testing.assert_allclose(a.theta, b.theta, rtol=1e-6, atol=1e-7)
    else:
      assert_same(lane(shuffled, i), lane(r, j))
  if name != "guessing":  # guessing ignores theta0
    assert int(r.evaluations[0]) == 1 and bool(r.diverged[0])
  assert len(set(np.asarray(r.evaluations).tolist())) > 1  # stops differ


@pytest.mark.parametrize("name", methods.NAMES)
def test_block_equals_single_runs(name):
  # Same outcomes; values to float32 rounding (a vmapped program's
  # reductions may differ from a single run's in the last bit).
  _, r, singles = runs(name)
  for i, s in enumerate(singles):
    b = lane(r, i)
    for f in ("evaluations", "solved", "stuck", "diverged"):
      assert np.array_equal(getattr(b, f), getattr(s, f)), (f, i)
    for f in ("theta", "cost", "error"):
      np.testing.assert_allclose(getattr(b, f), getattr(s, f), rtol=1e-5,
                                 atol=1e-6, err_msg=f)


@pytest.mark.parametrize("name", methods.NAMES)
def test_deterministic_by_key(name):
  block, r, _ = runs(name)
  assert_same(block(KEYS, SPOIL, numbers(name)), r)


@pytest.mark.parametrize("name", methods.NAMES)
def test_numbers_are_traced(name):
  # Other values of the numeric hyper-parameters: the same compiled block.
  block, _, _ = runs(name)
  nums = numbers(name)
  other = {k: (v if v.dtype != jnp.float32 else v * 0.5) for k, v in
           nums.items()}
  r = block(KEYS, SPOIL, other)
  assert block._cache_size() == 1
  assert np.all(np.asarray(r.evaluations) <= BUDGET.evaluations)


@pytest.mark.parametrize("name", methods.NAMES)
def test_unknown_hyper_parameters_are_refused(name):
  fit, _, theta0 = PROBLEM.draw(jax.random.key(0))
  known = sorted(methods.get(name).defaults)
  with pytest.raises(ValueError, match=f"{name}: unknown .*not_a_parameter.*"
                     f"known: {', '.join(known)}"):
    methods.solve(name, jax.random.key(1), fit, theta0, BUDGET,
                  {"not_a_parameter": 1.0})


@pytest.mark.parametrize("name", [n for n in methods.NAMES
                                  if methods.get(n).static])
def test_a_static_choice_cannot_be_traced(name):
  fit, _, theta0 = PROBLEM.draw(jax.random.key(0))
  k = sorted(methods.get(name).static)[0]
  with pytest.raises(ValueError, match=f"{name}: {k} is a static choice"):
    methods.solve(name, jax.random.key(1), fit, theta0, BUDGET,
                  {k: jnp.asarray(1)})


class GatedCell:
  """A cell with none of the structure of a ``cells.Net``."""
  name = "gru"
  provides = frozenset()


@pytest.mark.parametrize("name", methods.NAMES)
def test_check_supported(name):
  net = PROBLEM.net
  methods.check_supported(name, net)  # a Net has everything
  need = methods.get(name).requires
  if not need:
    methods.check_supported(name, GatedCell())
    return
  with pytest.raises(ValueError) as e:
    methods.check_supported(name, GatedCell())
  msg = str(e.value)
  assert "\n" not in msg and f"'{name}'" in msg and "'gru'" in msg
  assert all(tag in msg for tag in need)


def test_requirements_are_what_the_methods_read():
  req = {n: methods.get(n).requires for n in methods.NAMES}
  assert req["bptt"] == req["annealing"] == req["multigrid"] == frozenset()
  assert req["guessing"] == frozenset()  # any cell, via cells.forward_many
  # A threshold output needs no inverse (every Net has inverse_output for
  # its tanh and logistic outputs).
  assert req["discrete"] == {"linear"}
  for n in ("pseudo_newton", "time_weighted_newton"):
    assert req[n] == {"linear", "activation_derivatives"}
