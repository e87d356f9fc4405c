import jax.numpy as jnp
import pytest

from vanishing import methods
from vanishing.methods import base

B = base.Budget(evaluations=10, patience=3, target_cost=0.1)


def feed(costs, errors=None, budget=B):
  tr = base.start(jnp.zeros(1))
  errors = errors or [1.0] * len(costs)
  for i, (c, e) in enumerate(zip(costs, errors)):
    if not base.running(tr, budget):
      break
    tr = base.record(tr, jnp.full(1, float(i)), jnp.float32(c),
                     jnp.float32(e), budget)
  return tr


def test_record_counts_and_keeps_the_best_point():
  tr = feed([5.0, 3.0, 4.0])
  assert int(tr.evaluations) == 3
  assert float(tr.best_cost) == 3.0 and float(tr.best_theta[0]) == 1.0


def test_solved_needs_zero_error_and_low_cost():
  tr = feed([0.05, 0.05], errors=[0.1, 0.0])
  assert bool(tr.solved) and int(tr.evaluations) == 2
  assert not bool(feed([0.2], errors=[0.0]).solved)


def test_stuck_after_patience_without_improvement():
  tr = feed([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
  assert int(tr.evaluations) == 4  # improvement at 1, then 3 without
  r = base.finish(tr, B)
  assert bool(r.stuck) and not bool(r.solved)


def test_budget_and_divergence():
  tr = feed([10.0 - i for i in range(20)])
  assert int(tr.evaluations) == B.evaluations
  tr = feed([1.0, float("nan"), 0.5])
  r = base.finish(tr, B)
  assert bool(r.diverged) and int(r.evaluations) == 2
  assert float(r.cost) == 1.0  # the last finite best


def test_record_many_counts_like_the_sequential_procedure():
  costs = [5.0, 4.0, 0.05, 0.01, 3.0]
  errors = [1.0, 1.0, 0.0, 0.0, 1.0]
  seq = feed(costs, errors)
  tr = base.record_many(base.start(jnp.zeros(1)),
                        jnp.arange(5.0)[:, None], jnp.asarray(costs),
                        jnp.asarray(errors), B)
  assert int(tr.evaluations) == int(seq.evaluations) == 3
  assert bool(tr.solved) and float(tr.best_theta[0]) == 2.0
  # Budget: only the first two of a batch of five count.
  tight = B._replace(evaluations=2)
  tr = base.record_many(base.start(jnp.zeros(1)), jnp.arange(5.0)[:, None],
                        jnp.asarray(costs), jnp.asarray(errors), tight)
  assert int(tr.evaluations) == 2 and not bool(tr.solved)
  assert float(tr.best_cost) == 4.0


def test_check_hp_rejects_unknown_names():
  assert base.check_hp("m", {"lr": 1.0}, {"lr": 2.0}) == {"lr": 2.0}
  with pytest.raises(ValueError, match="unknown hyper-parameter"):
    base.check_hp("m", {"lr": 1.0}, {"eta": 2.0})



@pytest.mark.parametrize("name", methods.NAMES)
def test_every_hyper_parameter_declares_what_it_allows(name):
  """``allowed`` names exactly the ``defaults``, and each default is allowed."""
  m = methods.get(name)
  assert set(m.allowed) == set(m.defaults)
  for key, value in m.defaults.items():
    word = str(value).lower() if isinstance(value, bool) else str(value)
    assert m.allowed[key].parse(word) == value, (key, value)


def test_allowed_reads_ranges_choices_and_integers():
  assert base.POSITIVE.parse("0.5") == 0.5
  for bad in ("0", "-1", "nan", "inf", "x"):
    with pytest.raises(ValueError, match="must be a number > 0"):
      base.POSITIVE.parse(bad)
  assert base.MOMENTUM.parse("0") == 0.0
  with pytest.raises(ValueError, match=">= 0 and < 1"):
    base.MOMENTUM.parse("1")
  assert base.count(0).parse("3") == 3
  with pytest.raises(ValueError, match="an integer >= 1"):
    base.count(1).parse("0")
  assert base.BOOLEAN.parse("True") is True and base.BOOLEAN.parse("false") is False
  with pytest.raises(ValueError, match="one of a, b"):
    base.one_of("a", "b").parse("c")
