"""How a sweep lays its runs on a device: lanes per block, runs per chunk.

The sweep engine computes a device's runs in blocks of ``block`` lanes: a
``vmap`` (or a ``runs.Lanes`` block form) over ``block`` runs, or ``block``
refilled lanes for a ``runs.Steps`` run (``runs.refill``). The width is
chosen by the device the sweep runs on:

* **CPU**: the width each experiment measured on the 2-core CPU (the
  engine's 512 vmapped lanes, 8 refilled lanes of a method loop, 1 run per
  block of random guessing), so every pinned number stays what it was;
* **GPU** (any platform but ``cpu``): as wide as the sweep has runs, up to
  ``GPU_WIDTH`` lanes (vmapped blocks) or ``GPU_STEPS_WIDTH`` (refilled
  lanes), and narrower if the compiled chunk does not fit a quarter of the
  device's memory (``chunks.compile_chunk`` halves it). A GPU runs a block
  of 64 lanes as long as a block of 65,536: on the landed 512-lane layout
  one H200 ran the density sweep at 2.3e9 neuron-steps/s, at 1.2e11 with
  blocks of 65,536 in chunks of 262,144 (docs/scaling-out.md, "The suite on a
  GPU").

``--block=INT`` (``override``) fixes the width on every device; a method
that needs one run per lane (``methods.lanes``: online RTRL) keeps its own.
The width decides the last bits of a run's floating-point arithmetic (XLA
compiles a reduction over a block differently for another batch shape), so
the guarantee is stated per platform and width: the same numbers whatever
the chunk size, device count, shards, cluster or resume point. The width a
sweep used is recorded in its chunk store and wins when it resumes.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

# The CPU's widths: vmapped blocks (the fastest of benchmarks/block_width.py,
# docs/performance.md) and chunks.
CPU_WIDTH = 512
CPU_CHUNK = 4096
# A GPU's, from the measurements on one H200 (the density sweep:
# 2.5e10 neuron-steps/s with blocks of 8,192, 1.2e11 with 65,536 in chunks
# of 4 blocks). Refilled lanes carry a training method's whole state
# (training set, optimizer), so they start narrower; benchmarks/gpu_check.py
# measures both where a GPU is lent.
GPU_WIDTH = 65536
GPU_STEPS_WIDTH = 8192
GPU_BLOCKS_PER_CHUNK = 4


@dataclasses.dataclass(frozen=True)
class Block:
  """A sweep's block width, chosen by the device it runs on.

  Attributes:
    cpu: the width on a CPU (the experiment's measured choice).
    fixed: the same width on every device, whatever ``--block`` says (a
      method whose lanes are not independent bit for bit: one per lane).
  """
  cpu: int = CPU_WIDTH
  fixed: bool = False

  def __post_init__(self):
    if self.cpu < 1:
      raise ValueError(f"block width must be >= 1, got {self.cpu}")


def is_cpu(devices: Sequence) -> bool:
  return all(d.platform == "cpu" for d in devices)


def chosen(block: int | Block | None, devices: Sequence,
           override: int | None = None) -> bool:
  """Whether the device chooses the width (a GPU's, for a block neither
  fixed nor overridden): only then may it shrink to fit memory."""
  return (not isinstance(block, int) and override is None
          and not (block and block.fixed) and not is_cpu(devices))


def width(block: int | Block | None, devices: Sequence, n_runs: int, *,
          steps: bool, override: int | None = None) -> int:
  """Lanes per block of a sweep of ``n_runs`` runs on ``devices``.

  Args:
    block: an int fixes the width; a :class:`Block` (None: ``Block()``)
      lets the device choose (module docstring).
    devices: the devices the sweep runs on.
    n_runs: runs in the sweep (a GPU's width never exceeds it).
    steps: refilled lanes of a ``runs.Steps`` run (else vmapped blocks).
    override: ``--block``: this width on every device, unless ``fixed``.
  """
  if isinstance(block, int):
    return block
  block = block or Block()
  if not chosen(block, devices, override):
    return block.cpu if block.fixed or override is None else override
  return _even(max(1, n_runs), GPU_STEPS_WIDTH if steps else GPU_WIDTH)


def _even(n: int, most: int) -> int:
  """The width of the fewest equal parts of at most ``most`` that hold
  ``n`` (70,000 runs: two blocks of 35,000, not 65,536 and a block of
  4,464 runs padded to 65,536)."""
  return -(-n // -(-n // most))


def chunk(devices: Sequence, block: int, n_runs: int | None = None) -> int:
  """Runs per chunk when none is given: the CPU's 4,096 (bounded memory,
  frequent progress); on a GPU a few blocks per device (fewer calls from
  the host), as many as leave the fewest padded blocks in the last chunk
  (546,000 runs in 9 blocks: 3 chunks of 3, not 3 of 4)."""
  if is_cpu(devices):
    return max(CPU_CHUNK, block * len(devices))
  most = GPU_BLOCKS_PER_CHUNK * len(devices)  # blocks per chunk
  if n_runs:
    blocks = -(-n_runs // block)
    most = min(range(1, most + 1), key=lambda k: (-(-blocks // k) * k, -k))
  return max(CPU_CHUNK, most * block)
