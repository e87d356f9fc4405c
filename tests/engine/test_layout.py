"""The layout by device (vanishing.engine.layout): widths, wide blocks, resume."""

import json
import types

import jax
import numpy as np
import pytest

from vanishing.engine import chunks, layout, store, sweep
from vanishing.experiments.latch.training import LatchConfig, latch_runs

CPU = [types.SimpleNamespace(platform="cpu")]
GPU = [types.SimpleNamespace(platform="gpu")]


def test_a_cpu_keeps_each_experiments_width():
  assert layout.width(None, CPU, 10**6, steps=False) == sweep.BLOCK == 512
  assert layout.width(layout.Block(8), CPU, 10**6, steps=True) == 8
  assert layout.width(layout.Block(1), CPU, 10**6, steps=False) == 1
  assert layout.chunk(CPU, 512) == chunks.DEFAULT_CHUNK == 4096


def test_a_gpu_is_as_wide_as_the_sweep_up_to_its_width():
  assert layout.width(None, GPU, 7744, steps=False) == 7744
  assert layout.width(layout.Block(8), GPU, 96, steps=True) == 96
  assert layout.width(None, GPU, 2 * layout.GPU_WIDTH,
                      steps=False) == layout.GPU_WIDTH
  assert layout.width(layout.Block(8), GPU, 3 * layout.GPU_STEPS_WIDTH,
                      steps=True) == layout.GPU_STEPS_WIDTH
  assert layout.chunk(GPU * 2, 65536) == 4 * 65536 * 2


@pytest.mark.parametrize("n_runs", [70_000, 546_000, 10**7])
def test_a_gpus_blocks_and_chunks_are_even_so_little_is_padding(n_runs):
  width = layout.width(None, GPU, n_runs, steps=False)
  assert width <= layout.GPU_WIDTH
  blocks = -(-n_runs // width)
  assert blocks == -(-n_runs // layout.GPU_WIDTH)  # as few blocks as fit
  assert blocks * width - n_runs < blocks  # less than a run per block
  chunk = layout.chunk(GPU, width, n_runs)
  assert chunk % width == 0 and chunk <= 4 * width
  computed = -(-n_runs // chunk) * chunk
  assert computed - n_runs < 0.03 * n_runs  # the last chunk pads little
  assert layout.width(None, GPU, 70_000, steps=False) == 35_000


def test_block_override_and_fixed_widths():
  # --block wins on every device, except over a method's one lane per trial.
  assert layout.width(None, GPU, 10**6, steps=False, override=300) == 300
  assert layout.width(layout.Block(8), CPU, 100, steps=True, override=64) == 64
  fixed = layout.Block(1, fixed=True)
  assert layout.width(fixed, GPU, 10**6, steps=True, override=64) == 1
  assert layout.width(17, GPU, 10**6, steps=True, override=64) == 17
  with pytest.raises(ValueError, match="block width must be >= 1"):
    layout.Block(0)


def draw(key, swept):
  return {"u": jax.random.uniform(key) + swept["a"]}


def test_a_device_chosen_width_shrinks_to_fit_memory(monkeypatch):
  """Where the device chooses (a GPU), the width halves like the default
  chunk until the compiled chunk fits the memory budget."""
  monkeypatch.setattr(layout, "is_cpu", lambda devices: False)
  monkeypatch.setattr(chunks, "memory_budget", lambda device: 1)
  monkeypatch.setattr(chunks, "chunk_bytes",
                      lambda compiled: 0 if compiled.width <= 64 else 2)
  real_build = chunks.chunk_function

  class Sized:
    def __init__(self, f, width):
      self.f, self.width = f, width

    def __call__(self, *args):
      return self.f(*args)

  def lower_sized(fn, p, trials, per_dev, block, mesh):
    f = real_build(fn, p, trials, per_dev, block, mesh)
    width = per_dev * len(mesh.devices.flat) * block
    return types.SimpleNamespace(lower=lambda *a: types.SimpleNamespace(
        compile=lambda: Sized(f, width)))

  monkeypatch.setattr(chunks, "chunk_function", lower_sized)
  chunks._COMPILED.clear()
  res = sweep.run(draw, {"a": [0.0, 1.0]}, trials=500, seed=1,
                  devices=jax.local_devices()[:1])
  chunks._COMPILED.clear()
  assert res.block <= 64
  want = sweep.run(draw, {"a": [0.0, 1.0]}, trials=500, seed=1, block=8)
  np.testing.assert_array_equal(res.records["u"], want.records["u"])


CFG = LatchConfig(T=12, L=3, epochs=60)
LATCH = latch_runs(CFG)
AXES = {"w0": [1.0, 2.0], "s": [0.0, 0.3], "lr": [0.05]}


@pytest.fixture(scope="module")
def wide():
  """A forced wide block (2,048 lanes, as on a GPU) over 4 x 1024 runs."""
  return sweep.run(LATCH, AXES, trials=1024, seed=11, block=2048)


def test_a_wide_block_is_the_same_whatever_the_chunk_and_devices(wide):
  assert wide.block == 2048
  for kw in ({"chunk": 2048}, {"chunk": 8192, "devices": jax.local_devices()[:1]}):
    other = sweep.run(LATCH, AXES, trials=1024, seed=11, block=2048, **kw)
    for k in ("converged", "epoch", "w", "loss"):
      np.testing.assert_array_equal(other.records[k], wide.records[k], err_msg=k)


def test_widths_agree_in_distribution(wide):
  """Another width changes last bits, which chaotic training amplifies, so
  runs differ (here 38% of the final weights between 2,048 and 64 lanes on
  the CPU); the densities must not: a two-proportion test per cell,
  |p1 - p2| <= 4 sqrt(p (1 - p) (2 / n)), on 1,024 trials each."""
  narrow = sweep.run(LATCH, AXES, trials=1024, seed=11, block=64)
  assert narrow.block == 64
  assert (narrow.records["w"] != wide.records["w"]).any()
  a = wide.by_cell("converged").reshape(4, -1).astype(float)
  b = narrow.by_cell("converged").reshape(4, -1).astype(float)
  n = a.shape[1]
  p1, p2 = a.mean(1), b.mean(1)
  pooled = (a.sum(1) + b.sum(1) + 1) / (2 * n + 2)
  assert np.all(np.abs(p1 - p2) <= 4 * np.sqrt(pooled * (1 - pooled) * 2 / n))
  assert 0.05 < p1.mean() < 0.95  # the cells are not all trivially 0 or 1


def test_the_store_keeps_the_width_a_sweep_started_with(tmp_path):
  axes = {"a": [0.0, 1.0, 2.0]}
  st = store.ChunkStore(tmp_path, {"x": 1}, free=("chunk", "block"))
  first = sweep.run(draw, axes, trials=40, seed=2, chunk=32, store=st,
                    override=32)
  assert json.loads((tmp_path / "manifest.json").read_text())["block"] == 32
  st = store.ChunkStore(tmp_path, {"x": 1}, free=("chunk", "block"))
  again = sweep.run(draw, axes, trials=40, seed=2, store=st)  # no --block
  assert again.block == 32
  np.testing.assert_array_equal(
      np.concatenate([p["u"] for p in again.iter_chunks()]),
      np.concatenate([p["u"] for p in first.iter_chunks()]))
  with pytest.raises(store.ConfigMismatch, match="differs in: block"):
    sweep.run(draw, axes, trials=40, seed=2, store=st, override=64)


def test_block_flag_is_validated_and_recorded(tmp_path, invoke):
  code, err = invoke("density", "--block=0", f"--out_dir={tmp_path}")
  assert code == 2 and err.strip() == "error: --block: must be >= 1, got 0"
  assert not any(tmp_path.iterdir())
  code, err = invoke("density", "--w0=1", "--s=0", "--trials=8", "--epochs=5",
                     "--block=4", f"--out_dir={tmp_path}")
  assert code == 0, err
  meta = json.loads((tmp_path / "density.json").read_text())
  assert meta["block"] == 4 and meta["platform"] == jax.default_backend()
