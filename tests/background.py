"""The test suite's second processes and its compilation caches.

``tests/conftest.py`` starts, once the tests are collected, the jobs the
selected tests read (``start``): the reproduction regression
(``benchmarks/regression.py``) and the GPU check's dry run
(``benchmarks/gpu_check.py``), one after the other in a second process.
Each process has a JAX compilation cache of its own, kept from run to run
under pytest's cache (``cache_dir``).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGRESSION = ROOT / "benchmarks" / "regression.py"
GPU_CHECK = ROOT / "benchmarks" / "gpu_check.py"

# A kept compilation cache past this size is emptied before a run. A full
# run of the suite writes about 100 MB (2026-12-06: 72 MB for this
# process's, 22 MB for the regression's, 3 MB for the GPU check's); each edit
# adds the programs it changed, and JAX never removes an entry.
CACHE_LIMIT_BYTES = 2 << 30


def cache_dir(config, name: str,
              limit: int = CACHE_LIMIT_BYTES) -> tuple[str, bool]:
  """``(directory, kept)``: the compilation cache ``name`` under pytest's
  cache (``.pytest_cache``), kept from run to run and emptied first where it
  has grown past ``limit`` bytes; a new temporary one, for the caller to
  remove, where pytest's cache is off (``-p no:cacheprovider``).
  ``pytest --cache-clear`` starts every kept one empty."""
  cache = getattr(config, "cache", None)
  if cache is None:
    return tempfile.mkdtemp(prefix=f"vanishing-{name}-"), False
  path = Path(cache.mkdir(name))
  if sum(f.stat().st_size for f in path.iterdir()) > limit:
    shutil.rmtree(path)
    path = Path(cache.mkdir(name))
  return str(path), True


class Background:
  """Commands run one after the other in a second process at a time.

  The reproduction regression (about four minutes, mostly single-threaded
  compiling) and the GPU check's dry run (about a minute) each use about one
  core, while the rest of the suite, in the test process, compiles on the
  other; the tests that read their results run last
  (``pytest_collection_modifyitems``) so that nothing waits for them before
  it must.
  """

  def __init__(self, work: Path):
    self.work, self.jobs, self.proc = work, {}, None
    self.stopped = False

  def add(self, name: str, argv: list[str], env: dict) -> None:
    self.jobs[name] = {"argv": argv, "env": env, "done": threading.Event(),
                       "result": None}

  def start(self) -> None:
    threading.Thread(target=self._run, daemon=True).start()

  def _run(self) -> None:
    for name, job in self.jobs.items():
      out, err = self.work / f"{name}.out", self.work / f"{name}.err"
      try:
        if not self.stopped:
          with open(out, "w") as o, open(err, "w") as e:
            self.proc = subprocess.Popen(job["argv"], env=job["env"],
                                         stdout=o, stderr=e, text=True)
            rc = self.proc.wait()
          job["result"] = subprocess.CompletedProcess(
              job["argv"], rc, out.read_text(), err.read_text())
      finally:
        job["done"].set()

  def wait(self, name: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """The finished job ``name``: its status, stdout and stderr."""
    job = self.jobs[name]
    assert job["done"].wait(timeout), f"{name}: not done after {timeout} s"
    assert job["result"] is not None, f"{name}: not run"
    return job["result"]

  def stop(self) -> None:
    self.stopped = True
    if self.proc is not None and self.proc.poll() is None:
      self.proc.kill()
      self.proc.wait()
    shutil.rmtree(self.work, ignore_errors=True)


def own_cache(env: dict, cache: str) -> dict:
  """``env`` with the compilation cache ``cache`` in place of the test
  process's: a job running beside the tests writes a cache of its own (JAX
  writes an entry in place, so a reader can meet a half-written one)."""
  env = {k: v for k, v in env.items()
         if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))}
  env.update(JAX_COMPILATION_CACHE_DIR=cache,
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  return env


def start(config, need: set[str]) -> Background | None:
  """The jobs of ``need`` (of ``"regression"``, ``"gpu_check"``) started
  in that order, or None if it is empty.

  Each job has a compilation cache of its own (``cache_dir``), shared by
  the processes it starts: a hit is the same program, so the regression's
  numbers are still what ``python benchmarks/regression.py`` measures.
  """
  if not need:
    return None
  work = Path(tempfile.mkdtemp(prefix="vanishing-background-"))
  jobs = Background(work)

  def env(name: str) -> dict:
    where, kept = cache_dir(config, name)
    if not kept:  # removed with the jobs' folder
      where = shutil.move(where, work / name)
    return own_cache(os.environ, str(where))

  if "regression" in need:
    jobs.add("regression", [sys.executable, str(REGRESSION), "--measured",
                            str(work / "measured.json")], env("jax-regression"))
  if "gpu_check" in need:
    jobs.add("gpu_check", [sys.executable, str(GPU_CHECK), "--dry-run",
                           "--json", str(work / "check.json"), "--out_dir",
                           str(work / "gpu_check")], env("jax-gpu-check"))
  jobs.start()
  return jobs
