"""Command-line sweeps that outgrow one process: resume, faults, processes."""

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vanishing import cli, results

# 2,560 runs in 5 chunks of 512, about a second and a half each.
ARGS = ["density", "--w0=0.5,1,2,3,4", "--s=0.5", "--trials=512", "--epochs=1000",
        "--chunk=512"]
SMALL = ["density", "--w0=1,2", "--s=0,0.3", "--trials=300", "--epochs=100",
         "--chunk=512"]


def vanishing(*args, **kw):
  return subprocess.run([sys.executable, "-m", "vanishing", *args],
                        capture_output=True, text=True, timeout=600, **kw)


def tables(out: Path):
  return [(out / f).read_bytes() for f in ("density.csv", "density_runs.csv")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  out = tmp_path_factory.mktemp("whole")
  p = vanishing(*ARGS, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  return tables(out)


def test_killed_sweep_resumes_to_identical_files(tmp_path, uninterrupted):
  out = tmp_path / "r"
  proc = subprocess.Popen([sys.executable, "-m", "vanishing", *ARGS,
                           f"--out_dir={out}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  chunks = out / ".density_chunks" / "all"
  deadline = time.monotonic() + 120
  while len(list(chunks.glob("chunk_*.json"))) < 2:
    assert proc.poll() is None, "the sweep ended before it could be killed"
    assert time.monotonic() < deadline
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  finished = len(list(chunks.glob("chunk_*.json")))
  assert 2 <= finished < 5 and not (out / "density.csv").exists()

  # Another configuration in the same directory is refused, nothing touched.
  p = vanishing(*ARGS, "--seed=1", f"--out_dir={out}")
  assert p.returncode == 2
  assert "another configuration (differs in: settings)" in p.stderr
  assert len(list(chunks.glob("chunk_*.json"))) == finished

  p = vanishing(*ARGS, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  assert tables(out) == uninterrupted
  assert not (out / ".density_chunks").exists()  # removed once written


def test_corrupted_chunk_is_reported_and_recomputed(tmp_path, uninterrupted):
  out = tmp_path / "c"
  p = vanishing(*ARGS, f"--out_dir={out}", "--keep_chunks")
  assert p.returncode == 0, p.stderr
  chunk = out / ".density_chunks" / "all" / "chunk_000003.npz"
  chunk.write_bytes(chunk.read_bytes()[:100])
  for f in ("density.json",):  # as if the run had died writing its files
    (out / f).unlink()
  p = vanishing(*ARGS, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  assert "chunk 3: data does not match its checksum; recomputed" in p.stderr
  assert tables(out) == uninterrupted


def test_two_processes_reproduce_one(tmp_path):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  flags = [f"--out_dir={tmp_path / 'mp'}", "--num_processes=2",
           f"--coordinator_address=127.0.0.1:{port}"]
  other = subprocess.Popen([sys.executable, "-m", "vanishing", *SMALL, *flags,
                            "--process_id=1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  p0 = vanishing(*SMALL, *flags, "--process_id=0")
  out1, err1 = other.communicate(timeout=300)
  assert other.returncode == 0, err1
  assert p0.returncode == 0, p0.stderr
  assert "process 1 of 2 finished its share" in out1
  single = vanishing(*SMALL, f"--out_dir={tmp_path / 'sp'}")
  assert single.returncode == 0, single.stderr
  assert tables(tmp_path / "mp") == tables(tmp_path / "sp")


@pytest.mark.parametrize("args,message", [
    (["--num_processes=2"], "--coordinator_address: a multi-process sweep needs"),
    (["--num_processes=2", "--process_id=2", "--coordinator_address=h:1"],
     "--process_id: must be in [0, 2)"),
    (["--devices=-1"], "--devices: must be >= 0"),
    (["--devices=9"], "--devices: 9 requested, this process has 1"),
    (["--num_processes=2", "--coordinator_address=h:1", "--overwrite"],
     "--overwrite: not with --num_processes > 1"),
])
def test_bad_scale_out_flags(tmp_path, args, message):
  p = vanishing(*SMALL, *args, f"--out_dir={tmp_path}")
  assert p.returncode == 2
  lines = p.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), p.stderr


def test_disk_full_is_a_clear_error_and_keeps_finished_chunks(tmp_path, monkeypatch, capsys):
  real = results.write_bytes
  calls = []

  def fail_second_chunk(path, writer):
    if path.suffix == ".npz":
      calls.append(path)
      if len(calls) == 2:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real(path, writer)

  monkeypatch.setattr(results, "write_bytes", fail_second_chunk)
  out = tmp_path / "full"
  argv = ["vanishing", *SMALL, f"--out_dir={out}", "--keep_chunks"]
  try:
    cli.FLAGS(argv)
    with pytest.raises(SystemExit) as e:
      cli.main(argv[:2])
  finally:
    cli.FLAGS.unparse_flags()
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert err == [f"error: --out_dir: writing to {out} failed: No space left on device"]
  assert not (out / "density.csv").exists()
  kept = list((out / ".density_chunks" / "all").glob("chunk_*.json"))
  assert len(kept) == 1  # the chunk finished before the disk filled is intact
