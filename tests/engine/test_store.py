import numpy as np
import pytest

from vanishing.engine import store, sweep
from vanishing.experiments.latch.training import LatchConfig, latch_runs

FN = latch_runs(LatchConfig(T=10, epochs=30))
AXES = {"w0": [1.0, 2.0], "s": [0.0, 0.3], "lr": [0.05]}
CONFIG = {"grid": AXES, "trials": 12, "seed": 4, "block": 8, "chunk": 16}


def sweep_with(st, **kw):
  return sweep.run(FN, AXES, 12, 4, chunk=16, block=8, store=st, **kw)


def same(a, b):
  assert a.records.keys() == b.records.keys()
  for k in a.records:
    np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)


@pytest.fixture(scope="module")
def reference():
  return sweep.run(FN, AXES, 12, 4, chunk=16, block=8)


def test_store_gives_the_same_records_and_files_per_chunk(tmp_path, reference):
  st = store.ChunkStore(tmp_path / "s", CONFIG)
  same(sweep_with(st), reference)
  assert len(list((tmp_path / "s").glob("chunk_*.npz"))) == 3  # 48 runs / 16
  assert (tmp_path / "s" / "manifest.json").exists()


def test_resume_recomputes_nothing_finished(tmp_path, reference):
  st = store.ChunkStore(tmp_path / "s", CONFIG)
  sweep_with(st)
  calls = []
  again = sweep_with(store.ChunkStore(tmp_path / "s", CONFIG),
                     progress=lambda d, t, e, r: calls.append((d, r)))
  same(again, reference)
  assert calls == [(48, 48)]  # all 48 runs resumed, none computed


def test_lost_and_corrupted_chunks_are_recomputed_and_reported(tmp_path, reference):
  d = tmp_path / "s"
  sweep_with(store.ChunkStore(d, CONFIG))
  (d / "chunk_000000.json").unlink()            # killed between the renames
  blob = (d / "chunk_000001.npz").read_bytes()
  (d / "chunk_000001.npz").write_bytes(blob[: len(blob) // 2])  # truncated
  blob = bytearray((d / "chunk_000002.npz").read_bytes())
  blob[-10] ^= 0xFF
  (d / "chunk_000002.npz").write_bytes(bytes(blob))             # bit flip
  st = store.ChunkStore(d, CONFIG)
  calls = []
  same(sweep_with(st, progress=lambda dn, t, e, r: calls.append(r)), reference)
  assert calls[-1] == 0  # nothing could be reused
  assert len(st.reports) == 2 and all("checksum" in r for r in st.reports)


def test_another_configuration_is_refused(tmp_path):
  store.ChunkStore(tmp_path / "s", CONFIG)
  with pytest.raises(store.ConfigMismatch, match="differs in: seed, trials"):
    store.ChunkStore(tmp_path / "s", dict(CONFIG, seed=5, trials=3))
  # chunk does not change results: another value is accepted, the stored wins
  st = store.ChunkStore(tmp_path / "s", dict(CONFIG, chunk=64))
  assert st.config["chunk"] == 16
  st = store.ChunkStore(tmp_path / "s", dict(CONFIG, seed=5), overwrite=True)
  assert st.config["seed"] == 5


def test_shards_split_the_chunks_and_the_plain_sweep_assembles_them(
    tmp_path, reference):
  st1 = store.ChunkStore(tmp_path / "s", CONFIG)
  assert sweep_with(st1, shard=(1, 2)) is None  # computes chunk 1 only
  assert sorted(p.name for p in (tmp_path / "s").glob("*.npz")) == ["chunk_000001.npz"]
  st0 = store.ChunkStore(tmp_path / "s", CONFIG)
  assert sweep_with(st0, shard=(0, 2)) is None  # chunks 0 and 2, no waiting
  assert len(list((tmp_path / "s").glob("*.npz"))) == 3
  calls = []
  whole = sweep_with(store.ChunkStore(tmp_path / "s", CONFIG),
                     progress=lambda d, t, e, r: calls.append((d, r)))
  same(whole, reference)
  assert calls == [(48, 48)]  # assembled: every run found finished


def test_a_shard_needs_a_store(tmp_path):
  with pytest.raises(ValueError, match="needs a chunk store"):
    sweep.run(FN, AXES, 12, 4, chunk=16, block=8, shard=(0, 2))


def test_uncollected_result_streams_the_same_records_and_summary(tmp_path, reference):
  from vanishing.experiments.latch import training
  res = sweep_with(store.ChunkStore(tmp_path / "s", CONFIG), collect=False)
  assert res.records is None and res.n_runs == reference.n_runs
  pieces = list(res.iter_chunks())
  assert len(pieces) == 3
  for k, v in reference.records.items():
    np.testing.assert_array_equal(np.concatenate([p[k] for p in pieces]), v)
  # 12 trials per cell, 16 runs per chunk: cells straddle chunk boundaries.
  a, b = training.summarize(res), training.summarize(reference)
  for k in b:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
