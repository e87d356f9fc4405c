"""Shared test settings."""

import dataclasses
import os
import shutil
import time
from pathlib import Path
from typing import Mapping

# Tests run on the CPU whatever the machine has, one device per core as the
# command line asks (the default path is the tested one).
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from vanishing.engine import devices  # noqa: E402

devices.use_all_cores()

import jax  # noqa: E402
import pytest  # noqa: E402

import background  # noqa: E402  (tests/background.py)


@pytest.hookimpl(trylast=True)  # after pytest's cache (and --cache-clear)
def pytest_configure(config):
  """One persistent JAX compilation cache, kept from run to run.

  Most of the suite's time is XLA compiling (BUILD_NOTES, "Where the suite's
  time goes"). Many tests compile a sweep another test (or process) already
  compiled: ``sweep.run`` builds a fresh jit each call, and every ``python -m
  vanishing`` a command-line test starts is a fresh interpreter. The next
  run of the suite compiles again every program it did not change. With the
  cache, a compile whose program was compiled before loads that executable
  from disk. JAX keys an entry by the program itself, the compile options,
  the backend and the versions of jax and jaxlib, so a hit is the same
  program and the numbers cannot change (the resume tests compare files byte
  for byte). This process and the subprocesses it starts (through the
  environment) share it; the package itself never sets it.
  """
  cache, kept = background.cache_dir(config, "jax-compilation")
  mp = pytest.MonkeyPatch()
  mp.setenv("JAX_COMPILATION_CACHE_DIR", cache)
  mp.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  # Before this process compiles anything: JAX decides at its first compile
  # whether it uses a cache.
  jax.config.update("jax_compilation_cache_dir", cache)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

  def cleanup():
    mp.undo()
    if not kept:
      shutil.rmtree(cache, ignore_errors=True)

  config.add_cleanup(cleanup)


@pytest.fixture(autouse=True, scope="module")
def _compiled_programs_freed():
  """JAX's in-memory caches of traced and compiled programs emptied after
  each test module.

  A compiled CPU program stays mapped into this process for as long as a
  cache holds it (about 6 to 20 memory maps each), and the package's own
  jitted functions hold every variant a test ever asked for. Late in a full
  run (about 850 tests) that state once crashed XLA's compiler with a
  segmentation fault, three runs out of three, where the same tests alone
  pass. Emptied per module, a later module compiles afresh or loads from
  the session's persistent cache: the same programs, the same numbers.
  Emptying only past 15,000 maps compiled 21% fewer programs in a full run
  but was not faster (BUILD_NOTES, "Where the suite's time goes").
  """
  yield
  jax.clear_caches()


_OUTCOMES: dict = {}


@pytest.fixture(scope="session")
def testing_outcome():
  """``testing_outcome(name)``: ``execute(testing preset)`` of experiment
  ``name``, run once per session and shared: by the experiment's own tests
  and by the report page opened in a browser (``tests/cli/test_report.py``).

  Each call hands out its own copy of the outcome: a table streamed in
  pieces (an iterator, read once) is kept as its list of pieces and handed
  out as a new iterator over them, as ``execute`` gives it.
  """
  from vanishing import experiments

  def get(name: str):
    if name not in _OUTCOMES:
      exp = experiments.REGISTRY[name]
      out = exp.execute(exp.presets["testing"])
      out.tables = {k: v if isinstance(v, Mapping) else list(v)
                    for k, v in out.tables.items()}
      _OUTCOMES[name] = out
    out = _OUTCOMES[name]
    return dataclasses.replace(out, tables={
        k: iter(v) if isinstance(v, list) else v for k, v in out.tables.items()})
  return get


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


def _poll(ready, proc=None, what="it was ready", timeout=120.0):
  """Waits until ``ready()`` is truthy and returns its value; fails if the
  process ``proc`` (a Popen) ends first or ``timeout`` seconds pass."""
  deadline = time.monotonic() + timeout
  while not (got := ready()):
    assert proc is None or proc.poll() is None, f"the sweep ended before {what}"
    assert time.monotonic() < deadline, f"timed out before {what}"
    time.sleep(0.02)
  return got


@pytest.fixture
def poll():
  """``poll(ready, proc, what, timeout=120)``: waits for ``ready()``
  while the process under test runs (:func:`_poll`)."""
  return _poll


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


background_jobs = pytest.StashKey["background.Background"]()


def _uses(item, fixture: str) -> bool:
  return fixture in getattr(item, "fixturenames", ())


def pytest_collection_finish(session):
  """Start the background jobs the selected tests read, once collected
  (``tests/background.py``)."""
  if session.config.option.collectonly:
    return
  items = session.items
  need = {job for job, fixture in (("regression", "background_regression"),
                                   ("gpu_check", "background_gpu_check"))
          if any(_uses(i, fixture) for i in items)}
  jobs = background.start(session.config, need)
  if jobs is not None:
    session.config.stash[background_jobs] = jobs
    session.config.add_cleanup(jobs.stop)


def pytest_collection_modifyitems(session, config, items):
  """The tests that wait for a background job run last, in the jobs' order
  (the regression's, then the GPU check's); ``--quick`` keeps the quick
  subset."""
  if config.getoption("quick"):
    _quick(config, items)
  last = ("background_regression", "background_gpu_check")
  rank = lambda i: next((k + 1 for k, f in enumerate(last) if _uses(i, f)), 0)
  items[:] = sorted(items, key=rank)  # stable: each group keeps its order


def pytest_addoption(parser):
  parser.addoption("--quick", action="store_true", default=False,
                   help="the quick subset: every test module, without the "
                        "tests listed in tests/slow.txt (on 2 cores: under "
                        "a minute once the kept compilation caches are warm, "
                        "about 2 minutes from empty ones)")
  parser.addoption("--compile-times", type=int, default=0, metavar="N",
                   help="after the run, the N tests that spent the most "
                        "time in XLA's compiler in this process (seconds, "
                        "programs compiled, wall seconds)")


_COMPILES: dict = {}   # test id -> [compile seconds, programs, wall seconds]


def _count_compile(event, seconds, **_):
  if event == "/jax/core/compile/backend_compile_duration" and _COMPILES:
    entry = _COMPILES[next(reversed(_COMPILES))]
    entry[0] += seconds
    entry[1] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
  """With ``--compile-times``: each test's compile seconds and programs
  (jax.monitoring's backend-compile events, setup and teardown included)."""
  if not item.config.getoption("compile_times"):
    yield
    return
  if not _COMPILES:
    jax.monitoring.register_event_duration_secs_listener(_count_compile)
  _COMPILES[item.nodeid] = entry = [0.0, 0, time.perf_counter()]
  yield
  entry[2] = time.perf_counter() - entry[2]


def pytest_terminal_summary(terminalreporter, config):
  n = config.getoption("compile_times")
  if not (n and _COMPILES):
    return
  rows = sorted(_COMPILES.items(), key=lambda kv: -kv[1][0])
  total = [sum(r[k] for r in _COMPILES.values()) for k in range(3)]
  terminalreporter.write_sep("=", f"compile times (all: {total[0]:.0f} s in "
                             f"{total[1]} programs of {total[2]:.0f} s)")
  for nodeid, (seconds, programs, wall) in rows[:n]:
    terminalreporter.write_line(f"{seconds:7.1f} s {programs:5d} programs "
                                f"{wall:7.1f} s wall  {nodeid}")


def _background(request, name: str, output: str):
  """``(completed process, its output file)`` of background job ``name``,
  waited for, or None where it was not started."""
  jobs = request.config.stash.get(background_jobs, None)
  if jobs is None or name not in jobs.jobs:
    return None
  return jobs.wait(name), jobs.work / output


@pytest.fixture(scope="session")
def background_regression(request):
  """The regression started at collection: its measured numbers' file."""
  return _background(request, "regression", "measured.json")


@pytest.fixture(scope="session")
def background_gpu_check(request):
  """The GPU check's dry run started at collection: its JSON file."""
  return _background(request, "gpu_check", "check.json")


SLOW = Path(__file__).with_name("slow.txt")


def _slow_ids() -> set[str]:
  """The test ids ``tests/slow.txt`` lists (``#`` starts a comment)."""
  lines = (l.split("#")[0].strip() for l in SLOW.read_text().splitlines())
  return {l for l in lines if l}


def _quick(config, items) -> None:
  """``--quick``: deselects the tests ``tests/slow.txt`` lists (a listed id
  without ``[...]`` stands for all its parametrisations), and fails if
  that leaves a collected test module without a test: the subset covers
  every module (``tests/test_suite.py`` checks the list names real tests).
  A test that waits for a background job is left out whether listed or not
  (one unlisted regression group once made the quick run wait for the
  whole regression)."""
  slow = _slow_ids()
  base = lambda nodeid: nodeid.split("[")[0]
  waits = lambda i: any(_uses(i, f) for f in ("background_regression",
                                              "background_gpu_check"))
  keep = [i for i in items if i.nodeid not in slow
          and base(i.nodeid) not in slow and not waits(i)]
  gone = [i for i in items if i not in keep]
  modules = {i.nodeid.split("::")[0] for i in items}
  empty = sorted(modules - {i.nodeid.split("::")[0] for i in keep})
  if empty:
    raise pytest.UsageError(f"--quick leaves no test in {', '.join(empty)}; "
                            "take one of its tests out of tests/slow.txt")
  config.hook.pytest_deselected(items=gone)
  items[:] = keep
