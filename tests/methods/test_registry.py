"""The method registry: every entry is a method value under its own name."""

import importlib
import sys

import jax
import jax.numpy as jnp
import pytest

from vanishing import methods
from vanishing.methods import base


def test_every_entry_is_a_method_value_with_the_protocol():
  assert methods.available() == methods.NAMES == tuple(methods.REGISTRY)
  assert methods.NAMES[:len(methods.PAPER_NAMES)] == methods.PAPER_NAMES
  for name in methods.NAMES:
    m = methods.get(name)
    assert isinstance(m, base.Method)
    assert m.name == name and callable(m.init) and callable(m.step)
    assert isinstance(m.defaults, dict) and callable(m.check)
    assert m.static <= set(m.defaults) and m.requires <= methods.TAGS
    assert m.reports in ("best", "solution") and m.lanes in (None, 1)


def test_unknown_name_lists_the_valid_ones():
  with pytest.raises(ValueError, match="choose from bptt, pseudo_newton"):
    methods.get("newton_raphson")


NEW_METHOD = '''
"""Random search: one Gaussian move from the best point per evaluation."""
import jax
from vanishing.methods import base, loop

NAME = "gaussian_search"
DEFAULTS = {"sigma": 0.5}
ALLOWED = {"sigma": base.POSITIVE}
STATIC = frozenset()
REQUIRES = frozenset()


def init(run):
  e = run.fit.evaluate(run.theta0)
  return (), (base.one(run.theta0, e.cost, e.error),)


def step(run, state, tracker):
  key = jax.random.fold_in(run.key, tracker.evaluations)
  theta = tracker.best_theta + run.numbers["sigma"] * jax.random.normal(
      key, tracker.best_theta.shape)
  e = run.fit.evaluate(theta)
  return state, base.one(theta, e.cost, e.error)


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES)
'''


def test_a_new_method_is_one_file_and_one_registry_line(
    monkeypatch, tmp_path, quad, never):
  # The recipe of docs/extending.md: a module with NAME, DEFAULTS, ALLOWED,
  # STATIC, REQUIRES, init and step ending with its METHOD, and that value in
  # methods.REGISTRY.
  (tmp_path / "gaussian_search.py").write_text(NEW_METHOD)
  monkeypatch.syspath_prepend(str(tmp_path))
  importlib.invalidate_caches()
  monkeypatch.delitem(sys.modules, "gaussian_search", raising=False)
  import gaussian_search
  monkeypatch.setitem(methods.REGISTRY, "gaussian_search",
                      gaussian_search.METHOD)
  assert methods.available()[-1] == "gaussian_search"
  budget = never._replace(evaluations=300)
  r = jax.jit(lambda k: methods.solve("gaussian_search", k, quad, jnp.zeros(4),
                                      budget))(jax.random.key(0))
  assert int(r.evaluations) == 300
  assert float(r.cost) < float(quad.cost(jnp.zeros(4)))
  methods.check_supported("gaussian_search", object())  # needs no structure
