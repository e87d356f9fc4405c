"""Command-line sweeps that outgrow one process: resume, faults, shards."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vanishing.cli import main as cli
from vanishing.engine import results

# 4,096 runs in 8 chunks of 512 (one block each), a quarter to a third of a
# second each on the 2-core CPU: once 2 chunks are finished, the 6 still to
# come leave the kill below well over a second to land (it did, with six
# busy loops competing for the cores), while the whole sweep stays short.
ARGS = ["density", "--w0=0.5,1,1.5,2,2.5,3,3.5,4", "--s=0.5", "--trials=512",
        "--epochs=200", "--chunk=512"]
N_CHUNKS = 8
SMALL = ["density", "--w0=1,2", "--s=0,0.3", "--trials=300", "--epochs=100",
         "--chunk=512"]


def vanishing(*args, **kw):
  return subprocess.run([sys.executable, "-m", "vanishing", *args],
                        capture_output=True, text=True, timeout=600, **kw)


def tables(out: Path):
  return [(out / f).read_bytes() for f in ("density.csv", "density_runs.csv")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  """ARGS run in one go, chunk files kept: ``(out_dir, tables)``."""
  out = tmp_path_factory.mktemp("whole")
  p = vanishing(*ARGS, f"--out_dir={out}", "--keep_chunks")
  assert p.returncode == 0, p.stderr
  assert len(list((out / ".density_chunks" / "all").glob("chunk_*.json"))) == N_CHUNKS
  return out, tables(out)


def test_killed_sweep_resumes_to_identical_files(tmp_path, uninterrupted,
                                                 invoke, poll):
  _, want = uninterrupted
  out = tmp_path / "r"
  proc = subprocess.Popen([sys.executable, "-m", "vanishing", *ARGS,
                           f"--out_dir={out}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  chunks = out / ".density_chunks" / "all"
  poll(lambda: len(list(chunks.glob("chunk_*.json"))) >= 2, proc,
       "it could be killed")
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  finished = len(list(chunks.glob("chunk_*.json")))
  assert 2 <= finished < N_CHUNKS and not (out / "density.csv").exists()

  # Another configuration in the same directory is refused, nothing touched.
  code, err = invoke(*ARGS, "--seed=1", f"--out_dir={out}")
  assert code == 2
  assert "another configuration (differs in: settings)" in err
  assert len(list(chunks.glob("chunk_*.json"))) == finished

  p = vanishing(*ARGS, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  assert tables(out) == want
  assert not (out / ".density_chunks").exists()  # removed once written


def test_corrupted_chunk_is_reported_and_recomputed(tmp_path, uninterrupted):
  whole, want = uninterrupted
  out = tmp_path / "c"
  shutil.copytree(whole, out)  # a finished sweep that kept its chunks
  chunk = out / ".density_chunks" / "all" / "chunk_000003.npz"
  chunk.write_bytes(chunk.read_bytes()[:100])
  # As if the run had died writing its files: they can only come back from
  # the chunks, the recomputed one included.
  for f in ("density.json", "density.csv", "density_runs.csv"):
    (out / f).unlink()
  p = vanishing(*ARGS, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  assert "chunk 3: data does not match its checksum; recomputed" in p.stderr
  assert tables(out) == want


def test_shards_then_the_plain_command_reproduce_one_run(tmp_path):
  single = vanishing(*SMALL, f"--out_dir={tmp_path / 'one'}")
  assert single.returncode == 0, single.stderr
  out = tmp_path / "shards"
  for i in range(2):  # a job array's two tasks; neither waits for the other
    p = vanishing(*SMALL, f"--out_dir={out}", f"--shard={i}/2")
    assert p.returncode == 0, p.stderr
    assert f"density: shard {i} of 2 finished its chunks" in p.stdout
    assert not (out / "density.csv").exists()
  assert len(list((out / ".density_chunks" / "all").glob("chunk_*.npz"))) == 3
  whole = vanishing(*SMALL, f"--out_dir={out}")  # assembles, computes nothing
  assert whole.returncode == 0, whole.stderr
  assert tables(out) == tables(tmp_path / "one")


@pytest.mark.parametrize("args,message", [
    (["--shard=2/2"], "--shard: must be I/N with 0 <= I < N, got '2/2'"),
    (["--shard=1"], "--shard: must be I/N with 0 <= I < N, got '1'"),
    (["--devices=-1"], "--devices: must be >= 0"),
    (["--devices=99"], "--devices: 99 requested, this process has "),
    (["--shard=0/2", "--overwrite"], "--overwrite: not with --shard"),
    (["--cluster=slurm"], "--cluster: must be one of local, ray, got 'slurm'"),
    (["--ray_address=h:1"], "--ray_address: needs --cluster=ray"),
    (["--cluster=ray", "--shard=0/2"], "--shard: not with --cluster=ray"),
    (["--cluster=ray", "--ray_address=h"],
     "--ray_address: must be auto or HOST:PORT, got 'h'"),
    (["--cluster=ray", "--ray_resources=cpus=0"],
     "--ray_resources: a task needs a CPU or a GPU"),
    (["--cluster=ray", "--ray_resources=tpus=1"],
     "--ray_resources: must be auto or cpus=N and/or gpus=M"),
])
def test_bad_scale_out_flags(tmp_path, invoke, args, message):
  code, err = invoke(*SMALL, *args, f"--out_dir={tmp_path}")
  assert code == 2
  lines = err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), err


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
    with pytest.raises(SystemExit) as e:
      cli.main(cli._parse_flags(argv))
  finally:
    cli.FLAGS.unparse_flags()
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert err == [f"error: --out_dir: writing to {out} failed: No space left on device"]
  assert not (out / "density.csv").exists()
  kept = list((out / ".density_chunks" / "all").glob("chunk_*.json"))
  assert len(kept) == 1  # the chunk finished before the disk filled is intact


def _stop_when(poll, proc, ready, sig, what):
  """Sends ``sig`` once ``ready()``; ``(seconds it took to exit, stderr)``."""
  poll(ready, proc, what)
  t0 = time.monotonic()
  proc.send_signal(sig)
  _, err = proc.communicate(timeout=60)
  return time.monotonic() - t0, err


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130),
                                        (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_stopped_sweep_says_so_and_resumes_to_identical_files(
    tmp_path, uninterrupted, sig, status, poll):
  _, want = uninterrupted
  out = tmp_path / "s"
  chunks = out / ".density_chunks" / "all"
  proc = subprocess.Popen([sys.executable, "-m", "vanishing", *ARGS,
                           f"--out_dir={out}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
  took, err = _stop_when(
      poll, proc, lambda: len(list(chunks.glob("chunk_*.json"))) >= 2, sig,
      "it could be stopped")
  assert proc.returncode == status and took < 2, (took, err)
  assert "Traceback" not in err
  finished = len(list(chunks.glob("chunk_*.json")))
  assert 2 <= finished < N_CHUNKS
  line = err.strip().splitlines()[-1]
  assert line == (f"density: stopped by {signal.Signals(sig).name}; "
                  f"{finished * 512:,} finished runs are saved in "
                  f"{out / '.density_chunks'}; the same command resumes "
                  "from them")
  # Whole chunks only, no temporary files, the directory's lock released.
  assert sorted(p.suffix for p in chunks.iterdir()) == sorted(
      [".json", ".npz"] * finished + [".json"])
  assert sorted(p.name for p in out.iterdir()) == [".density_chunks"]

  p = vanishing(*ARGS, f"--out_dir={out}")
  assert p.returncode == 0, p.stderr
  assert tables(out) == want


def test_stop_abandons_a_long_chunk(tmp_path, poll):
  # One chunk of 4,096 runs, 10-30 s on 2 cores: the stop does not
  # wait for it.
  out = tmp_path / "long"
  manifest = out / ".density_chunks" / "all" / "manifest.json"
  proc = subprocess.Popen(
      [sys.executable, "-m", "vanishing", "density", "--w0=1,2", "--s=0.5",
       "--trials=2048", "--epochs=10000", "--chunk=4096", f"--out_dir={out}"],
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  started = []

  def computing():  # compiled (the chunk size is recorded), then 1 s more
    if not started and manifest.exists() and '"chunk"' in manifest.read_text():
      started.append(time.monotonic())
    return started and time.monotonic() > started[0] + 1

  took, err = _stop_when(poll, proc, computing, signal.SIGINT,
                         "its chunk finished")
  assert proc.returncode == 130 and took < 2, (took, err)
  assert err.strip().splitlines()[-1].startswith(
      "density: stopped by SIGINT; 0 finished runs are saved in ")
  assert "Traceback" not in err
