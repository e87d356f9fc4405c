"""The suite's own machinery (tests/conftest.py): the quick subset's list,
the compilation caches kept from run to run (tests/background.py)."""

import ast
import os
import types
from pathlib import Path

import pytest

import background  # tests/background.py

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def conftest(pytestconfig):
  """``tests/conftest.py`` as pytest loaded it (``import conftest`` may give
  another directory's conftest)."""
  return next(p for p in pytestconfig.pluginmanager.get_plugins()
              if getattr(p, "__file__", None) == str(TESTS / "conftest.py"))


def _functions(path: Path) -> set[str]:
  tree = ast.parse(path.read_text())
  return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_every_slow_line_names_a_test_that_exists(conftest):
  slow = conftest._slow_ids()
  assert slow
  for nodeid in slow:
    path, _, name = nodeid.partition("::")
    assert (TESTS.parent / path).is_file(), nodeid
    assert name.split("[")[0] in _functions(TESTS.parent / path), nodeid


class _Config:
  def __init__(self):
    self.deselected = []
    self.hook = types.SimpleNamespace(
        pytest_deselected=lambda items: self.deselected.extend(items))


def _items(*ids, fixtures=()):
  return [types.SimpleNamespace(nodeid=i, fixturenames=fixtures) for i in ids]


def test_quick_deselects_the_listed_tests_and_all_their_parametrisations(
    monkeypatch, conftest):
  monkeypatch.setattr(conftest, "_slow_ids", lambda: {
      "tests/a.py::test_slow", "tests/a.py::test_p[2]"})
  items = _items("tests/a.py::test_fast", "tests/a.py::test_slow",
                 "tests/a.py::test_slow[1]", "tests/a.py::test_p[1]",
                 "tests/a.py::test_p[2]", "tests/b.py::test_b")
  config = _Config()
  conftest._quick(config, items)
  assert [i.nodeid for i in items] == ["tests/a.py::test_fast",
                                       "tests/a.py::test_p[1]",
                                       "tests/b.py::test_b"]
  assert len(config.deselected) == 3


def test_quick_refuses_to_leave_a_module_without_a_test(monkeypatch,
                                                         conftest):
  monkeypatch.setattr(conftest, "_slow_ids", lambda: {"tests/b.py::test_b"})
  items = _items("tests/a.py::test_a", "tests/b.py::test_b")
  with pytest.raises(pytest.UsageError, match="no test in tests/b.py"):
    conftest._quick(_Config(), items)


def test_quick_leaves_out_every_test_that_waits_for_a_background_job(
    monkeypatch, conftest):
  monkeypatch.setattr(conftest, "_slow_ids", lambda: set())
  items = (_items("tests/a.py::test_a")
           + _items("tests/a.py::test_r[new_group]",
                    fixtures=("measured", "background_regression"))
           + _items("tests/a.py::test_g", fixtures=("background_gpu_check",)))
  config = _Config()
  conftest._quick(config, items)
  assert [i.nodeid for i in items] == ["tests/a.py::test_a"]
  assert len(config.deselected) == 2


def test_compile_times_charge_each_compile_to_the_running_test(monkeypatch,
                                                                conftest):
  monkeypatch.setattr(conftest, "_COMPILES", {})
  compile_event = "/jax/core/compile/backend_compile_duration"
  conftest._count_compile(compile_event, 9.0)        # before any test: lost
  conftest._COMPILES["t::a"] = [0.0, 0, 1.0]
  conftest._count_compile(compile_event, 0.5)
  conftest._COMPILES["t::b"] = [0.0, 0, 3.0]
  conftest._count_compile(compile_event, 2.0)
  conftest._count_compile(compile_event, 1.5, fun_name="f")
  conftest._count_compile("/jax/core/compile/jaxpr_trace_duration", 7.0)
  assert conftest._COMPILES == {"t::a": [0.5, 1, 1.0], "t::b": [3.5, 2, 3.0]}
  lines = []
  reporter = types.SimpleNamespace(write_sep=lambda sep, text: lines.append(
      text), write_line=lines.append)
  config = types.SimpleNamespace(getoption=lambda name: 1)
  conftest.pytest_terminal_summary(reporter, config)
  assert lines[0] == "compile times (all: 4 s in 3 programs of 4 s)"
  assert len(lines) == 2 and lines[1].endswith("t::b")
  assert lines[1].split()[:4] == ["3.5", "s", "2", "programs"]


class _Cache:
  """pytest's ``config.cache``: ``mkdir(name)`` under ``root``."""

  def __init__(self, root: Path):
    self.root = root

  def mkdir(self, name: str) -> Path:
    (self.root / name).mkdir(parents=True, exist_ok=True)
    return self.root / name


def test_the_compilation_cache_is_kept_under_pytests_cache(tmp_path):
  config = types.SimpleNamespace(cache=_Cache(tmp_path))
  where, kept = background.cache_dir(config, "jax-x", limit=100)
  assert kept and Path(where) == tmp_path / "jax-x"
  (Path(where) / "entry").write_bytes(b"0" * 60)
  # Kept from run to run below the limit...
  assert background.cache_dir(config, "jax-x", limit=100)[0] == where
  assert (Path(where) / "entry").exists()
  # ... and emptied once past it.
  (Path(where) / "entry2").write_bytes(b"0" * 60)
  where, kept = background.cache_dir(config, "jax-x", limit=100)
  assert kept and Path(where).is_dir() and not any(Path(where).iterdir())


def test_without_pytests_cache_the_compilation_cache_is_a_new_folder():
  config = types.SimpleNamespace(cache=None)
  (a, kept_a), (b, kept_b) = (background.cache_dir(config, "jax-x")
                              for _ in range(2))
  try:
    assert not kept_a and not kept_b and a != b
    assert Path(a).is_dir() and not any(Path(a).iterdir())
  finally:
    Path(a).rmdir()
    Path(b).rmdir()


def test_the_session_uses_the_kept_cache(pytestconfig):
  import jax
  where = jax.config.jax_compilation_cache_dir
  if getattr(pytestconfig, "cache", None) is None:
    pytest.skip("pytest's cache is off (-p no:cacheprovider)")
  assert Path(where) == Path(pytestconfig.cache.mkdir("jax-compilation"))
  assert os.environ["JAX_COMPILATION_CACHE_DIR"] == where


_CORRUPTED = """
import sys, warnings
import jax, jax.numpy as jnp
jax.config.update("jax_compilation_cache_dir", sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
f = jax.jit(lambda x: jnp.sin(x) * 3 + 1)
want = f(jnp.arange(4.0))
for entry in __import__("pathlib").Path(sys.argv[1]).glob("*-cache"):
  entry.write_bytes(entry.read_bytes()[:20])  # a run killed while writing
jax.clear_caches()
with warnings.catch_warnings(record=True) as seen:
  warnings.simplefilter("always")
  got = jax.jit(lambda x: jnp.sin(x) * 3 + 1)(jnp.arange(4.0))
assert (got == want).all()
print(sum("persistent compilation cache" in str(w.message) for w in seen))
"""


def test_a_corrupted_cache_entry_costs_a_warning_and_a_compile(tmp_path):
  """What docs/tests.md promises of a kept cache a killed run left a
  half-written entry in: the same numbers, a warning."""
  import subprocess
  import sys
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))}
  p = subprocess.run([sys.executable, "-c", _CORRUPTED, str(tmp_path)],
                     capture_output=True, text=True, env=env, timeout=120)
  assert p.returncode == 0, p.stderr
  assert int(p.stdout.split()[-1]) >= 1
