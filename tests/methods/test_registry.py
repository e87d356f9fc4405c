"""The method registry: every listed method is there, a broken one raises."""

import importlib

import jax
import jax.numpy as jnp
import pytest

from vanishing import methods


def test_every_listed_method_is_available_with_the_protocol():
  assert methods.available() == methods.NAMES
  for name in methods.NAMES:
    m = methods.get(name)
    assert m.NAME == name and callable(m.init) and callable(m.step)
    assert isinstance(m.DEFAULTS, dict)
    assert m.STATIC <= set(m.DEFAULTS) and m.REQUIRES <= methods.TAGS


def test_unknown_name_lists_the_valid_ones():
  with pytest.raises(ValueError, match="choose from bptt, pseudo_newton"):
    methods.get("newton_raphson")


def _extra_method(monkeypatch, tmp_path, name, source):
  """Lists ``name`` after the real methods and makes
  ``vanishing.methods.<name>`` the module ``source`` (in ``tmp_path``)."""
  (tmp_path / f"{name}.py").write_text(source)
  monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(tmp_path)])
  monkeypatch.setattr(methods, "NAMES", methods.NAMES + (name,))
  importlib.invalidate_caches()


def test_a_method_whose_import_fails_raises_naming_it(monkeypatch, tmp_path):
  _extra_method(monkeypatch, tmp_path, "broken",
                "import a_dependency_that_is_not_installed\n"
                "NAME = 'broken'\n"
                "def init(run):\n"
                "  pass\n"
                "def step(run, state, tracker):\n"
                "  pass\n")
  for call in (methods.available, lambda: methods.get("broken")):
    with pytest.raises(ImportError, match="method 'broken'.*"
                       "a_dependency_that_is_not_installed") as e:
      call()
    assert isinstance(e.value.__cause__, ModuleNotFoundError)
  # The methods that do import are still reachable one by one.
  assert methods.get("bptt").NAME == "bptt"


def test_a_method_without_step_raises(monkeypatch, tmp_path):
  _extra_method(monkeypatch, tmp_path, "no_step",
                "NAME = 'no_step'\ndef init(run):\n  pass\n")
  with pytest.raises(ImportError, match=r"method 'no_step'.*no step\(\)"):
    methods.available()


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


solve = loop.solver(__name__)
'''


def test_a_new_method_is_one_file_and_one_name(monkeypatch, tmp_path, quad,
                                               never):
  # The recipe of docs/design.md ("The method protocol"): a module with
  # NAME, DEFAULTS, ALLOWED, STATIC, REQUIRES, init and step, and its name in NAMES.
  _extra_method(monkeypatch, tmp_path, "gaussian_search", NEW_METHOD)
  assert methods.available()[-1] == "gaussian_search"
  budget = never._replace(evaluations=300)
  r = jax.jit(lambda k: methods.solve("gaussian_search", k, quad, jnp.zeros(4),
                                      budget))(jax.random.key(0))
  assert int(r.evaluations) == 300
  assert float(r.cost) < float(quad.cost(jnp.zeros(4)))
  methods.check_supported("gaussian_search", object())  # needs no structure
