"""Sweeps on a real Ray cluster: a head and a second node on 127.0.0.1.

Each node is ``ray start --block`` in its own session (one CPU each), so
the fixture ends exactly the processes it started, not another Ray
cluster of this machine. The experiment runs as ``python -m vanishing
... --cluster=ray`` and its files are compared byte for byte with the
same command on this machine.
"""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="ray is not installed (pip install "
                                "-e '.[ray]'; the test extras have it)")

# 1,024 runs in 16 chunks of 64 (a block each): each chunk is a few tenths
# of a second on one core, so a stop after two chunks leaves most to do.
ARGS = ["density", "--w0=1,2,3,4", "--s=0.5", "--trials=256", "--epochs=300",
        "--block=64", "--chunk=64"]
N_CHUNKS = 16
RAY = Path(sys.executable).with_name("ray")
# The test's own cluster listens on loopback only; without token auth its
# nodes and drivers need no shared token file (which another Ray session of
# this machine may have replaced).
ENV = dict(os.environ, RAY_AUTH_MODE="disabled")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _node(*args) -> subprocess.Popen:
  """``ray start ARGS --block``, once it says the node is up."""
  proc = subprocess.Popen(
      [str(RAY), "start", "--block", "--num-cpus=1", "--disable-usage-stats",
       *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
      start_new_session=True, env=ENV)
  seen = []
  deadline = time.monotonic() + 120
  for line in proc.stdout:
    seen.append(line)
    if "Ray runtime started" in line:
      return proc
    assert time.monotonic() < deadline, "".join(seen)
  raise AssertionError("ray start ended: " + "".join(seen))


def _stop(proc: subprocess.Popen) -> None:
  for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
      os.killpg(proc.pid, sig)
    except ProcessLookupError:
      return
    try:
      proc.wait(timeout=3)
      return
    except subprocess.TimeoutExpired:
      pass


@pytest.fixture(scope="module")
def cluster():
  """The address of a two-node Ray cluster on this machine."""
  port = _free_port()
  head = _node("--head", f"--port={port}", "--node-ip-address=127.0.0.1",
               "--include-dashboard=false")
  try:
    worker = _node(f"--address=127.0.0.1:{port}",
                   "--node-ip-address=127.0.0.1")
    try:
      yield f"127.0.0.1:{port}"
    finally:
      _stop(worker)
  finally:
    _stop(head)


def vanishing(*args) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "vanishing", *args],
                        capture_output=True, text=True, timeout=600, env=ENV)


def on_ray(out, address, *extra) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, "-m", "vanishing", *ARGS, *extra,
                           f"--out_dir={out}", "--cluster=ray",
                           f"--ray_address={address}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=ENV)


def tables(out: Path):
  return [(out / f).read_bytes() for f in ("density.csv", "density_runs.csv")]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
  out = tmp_path_factory.mktemp("local")
  p = vanishing(*ARGS, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  return tables(out)


def test_a_sweep_on_ray_gives_the_files_of_one_machine(tmp_path, cluster,
                                                       local):
  proc = on_ray(tmp_path, cluster)
  _, err = proc.communicate(timeout=600)
  assert proc.returncode == 0, err
  assert tables(tmp_path) == local
  meta = (tmp_path / "density.json").read_text()
  assert f'"cluster": "ray ({cluster})"' in meta and '"platform": "cpu"' in meta
  # Where it ran is not part of the replay.
  assert "--cluster" not in (tmp_path / "density.flags").read_text()


def _computing() -> list[int]:
  """Process ids of Ray workers computing a chunk now."""
  ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True,
                      text=True).stdout
  return [int(line.split()[0]) for line in ps.splitlines()
          if line.split()[1:2] == ["ray::compute"]]


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path, cluster, local,
                                                poll):
  proc = on_ray(tmp_path, cluster)
  pids = poll(_computing, proc, "a worker was killed", 300)
  os.kill(pids[0], signal.SIGKILL)
  _, err = proc.communicate(timeout=600)
  assert proc.returncode == 0, err
  assert not any(p == pids[0] for p in _computing())
  assert tables(tmp_path) == local


def test_an_interrupted_driver_resumes_to_the_same_files(tmp_path, cluster,
                                                         local, poll):
  chunks = tmp_path / ".density_chunks" / "all"
  proc = on_ray(tmp_path, cluster)
  poll(lambda: len(list(chunks.glob("chunk_*.json"))) >= 2, proc,
       "it could be stopped", 300)
  proc.send_signal(signal.SIGINT)
  _, err = proc.communicate(timeout=60)
  assert proc.returncode == 130, err
  finished = len(list(chunks.glob("chunk_*.json")))
  assert 2 <= finished < N_CHUNKS, finished
  assert err.strip().splitlines()[-1].startswith("density: stopped by SIGINT; ")
  # The driver's tasks end with it.
  poll(lambda: not _computing(), None, "the stopped driver's tasks ended", 20)
  kept = {p: p.stat().st_mtime_ns for p in chunks.glob("chunk_*.npz")}
  again = on_ray(tmp_path, cluster, "--keep_chunks")
  _, err = again.communicate(timeout=600)
  assert again.returncode == 0, err
  assert tables(tmp_path) == local
  # The chunks finished before the stop were kept, not computed again.
  assert {p: p.stat().st_mtime_ns for p in kept} == kept


def test_no_cluster_at_the_address_is_one_line(tmp_path, invoke):
  code, err = invoke(*ARGS, f"--out_dir={tmp_path}", "--cluster=ray",
                     f"--ray_address=127.0.0.1:{_free_port()}")
  assert code == 2
  lines = err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(
      "error: --ray_address: no Ray cluster at 127.0.0.1:"), err
  assert not list(tmp_path.glob("density*"))
