"""One run at a time in an --out_dir (vanishing.engine.dirlock)."""

import json
import os
import socket

import pytest

from vanishing.engine import dirlock

SMALL = ["density", "--w0=1", "--s=0", "--trials=8", "--epochs=5",
         "--norecords"]
GROUP = "2 shards"


def test_a_second_run_is_refused_naming_the_holder(tmp_path, invoke):
  with dirlock.DirLock(tmp_path):
    code, err = invoke(*SMALL, f"--out_dir={tmp_path}")
  assert code == 2
  lines = err.strip().splitlines()
  assert len(lines) == 1, err
  assert lines[0].startswith(f"error: --out_dir: {tmp_path} is in use by "
                             f"process {os.getpid()} on host "
                             f"{socket.gethostname()}")
  assert not (tmp_path / "density.csv").exists()
  assert not (tmp_path / dirlock.NAME).exists()  # released, removed


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, invoke):
  # What a killed run leaves: the file with its holder, nobody locking it.
  (tmp_path / dirlock.NAME).write_text(json.dumps(
      {"host": "elsewhere", "pid": 999999, "group": None}))
  code, err = invoke(*SMALL, f"--out_dir={tmp_path}")
  assert code == 0, err
  assert (f"warning: --out_dir: {tmp_path} was locked by process 999999 on "
          "host elsewhere, which no longer holds it") in err
  assert (tmp_path / "density.json").exists()
  assert not (tmp_path / dirlock.NAME).exists()


def test_processes_of_one_sweep_share_the_directory(tmp_path):
  first, second = dirlock.DirLock(tmp_path, GROUP), dirlock.DirLock(tmp_path, GROUP)
  first.acquire()
  second.acquire()  # a fellow process: let in
  for other in (None, "3 shards"):
    with pytest.raises(dirlock.Busy, match=f"process {os.getpid()} on host"):
      dirlock.DirLock(tmp_path, other).acquire(patience_s=0.2)
  first.release()
  with pytest.raises(dirlock.Busy):  # the second still holds it
    dirlock.DirLock(tmp_path).acquire(patience_s=0.2)
  second.release()  # the last one out removes the file
  assert not (tmp_path / dirlock.NAME).exists()
  with dirlock.DirLock(tmp_path):
    pass
