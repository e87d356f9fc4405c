"""Shared test settings."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Tests run on the CPU whatever the machine has, one device per core as the
# command line asks (the default path is the tested one).
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from vanishing.engine import devices  # noqa: E402

devices.use_all_cores()

import jax  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
  """One persistent JAX compilation cache for the session, new each session.

  Many tests compile a sweep another test (or process) already compiled:
  ``sweep.run`` builds a fresh jit each call, and every ``python -m
  vanishing`` a command-line test starts is a fresh interpreter. With the
  cache the second compile loads the first one's executable from disk, so
  it is the same program and the numbers cannot change (the resume tests
  compare files byte for byte). This process and the subprocesses it starts
  (through the environment) share it; the package itself never sets it.
  """
  cache = tempfile.mkdtemp(prefix="vanishing-jax-cache-")
  mp = pytest.MonkeyPatch()
  mp.setenv("JAX_COMPILATION_CACHE_DIR", cache)
  mp.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  # Before this process compiles anything: JAX decides at its first compile
  # whether it uses a cache.
  jax.config.update("jax_compilation_cache_dir", cache)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

  def cleanup():
    mp.undo()
    shutil.rmtree(cache, ignore_errors=True)

  config.add_cleanup(cleanup)


def _invoke(capsys, args) -> tuple[int, str, str]:
  """``python -m vanishing ARGS`` in this process: ``(status, stdout,
  stderr)``.

  It does what ``cli.run`` does once absl is set up: the command line's own
  parser, then ``main``. An exception other than ``SystemExit`` (what would
  print a traceback) fails the test. absl's own flags are unparsed
  afterwards, as in a fresh interpreter.
  """
  from vanishing.cli import main as cli
  try:
    cli.main(cli._parse_flags(["vanishing", *args]))
    code = 0
  except SystemExit as e:
    code = e.code or 0
  finally:
    cli.FLAGS.unparse_flags()
  out = capsys.readouterr()
  return code, out.out, out.err


@pytest.fixture
def invoke(capsys):
  """``invoke(*args)``: ``(exit status, stderr)`` of ``python -m vanishing
  ARGS``, run in this process."""
  def run(*args):
    code, _, err = _invoke(capsys, args)
    return code, err
  return run


@pytest.fixture
def helped(capsys):
  """``helped(*args)``: ``(exit status, stdout, stderr)`` of ``python -m
  vanishing ARGS``, run in this process."""
  return lambda *args: _invoke(capsys, args)


REGRESSION = Path(__file__).resolve().parents[1] / "benchmarks" / "regression.py"
# (process, file of measured numbers, its stderr) of the background regression.
regression_run = pytest.StashKey[tuple]()


def pytest_collection_finish(session):
  """Start the reproduction regression in a second process, once collected.

  It is about three minutes, mostly single-threaded compiling, on 2 cores, while
  the rest of the suite leaves a core mostly idle; run in the background it
  overlaps the other tests, and ``tests/benchmarks/test_regression.py`` waits for its
  numbers (same platform, same programs: bit-identical to measuring them
  in-process). Only when a test that needs it was selected. It keeps its
  own compilation cache off, so no two processes write one cache at once.
  """
  if not any(i.nodeid.startswith("tests/benchmarks/test_regression.py::test_reproduced")
             for i in session.items):
    return
  work = Path(tempfile.mkdtemp(prefix="vanishing-regression-"))
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))}
  err = open(work / "stderr.txt", "w")
  proc = subprocess.Popen([sys.executable, str(REGRESSION), "--measured",
                           str(work / "measured.json")], env=env,
                          stdout=subprocess.DEVNULL, stderr=err)
  err.close()
  session.config.stash[regression_run] = (proc, work / "measured.json",
                                          work / "stderr.txt")

  def stop():
    if proc.poll() is None:
      proc.kill()
      proc.wait()
    shutil.rmtree(work, ignore_errors=True)

  session.config.add_cleanup(stop)


@pytest.fixture(scope="session")
def background_regression(request):
  """``(process, measured-numbers file, stderr file)`` of the regression
  started at collection, or None."""
  return request.config.stash.get(regression_run, None)
