"""Peak resident memory of a density sweep at 10^4, 10^5 and 10^6 runs.

Each size runs as its own process (``python -m vanishing density`` with a
short budget, ``--epochs 5``, so a million runs take seconds) and its peak RSS
is read from the operating system when it exits:

    python benchmarks/memory.py [--sizes 10000 100000 1000000] [--chunk 4096]

Peak memory should be set by the chunk size, not by the grid: the per-run
records of finished chunks live on disk until the end, when the per-cell
table is built from them.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time


def peak_rss(args: list[str]) -> tuple[float, float]:
  """Runs ``python -m vanishing *args``; returns (peak RSS MiB, seconds)."""
  t0 = time.perf_counter()
  proc = subprocess.Popen([sys.executable, "-m", "vanishing", *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  _, status, usage = os.wait4(proc.pid, 0)
  if os.waitstatus_to_exitcode(status) != 0:
    raise SystemExit(proc.stderr.read().decode())
  return usage.ru_maxrss / 1024, time.perf_counter() - t0


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--sizes", type=int, nargs="*", default=[10**4, 10**5, 10**6])
  ap.add_argument("--chunk", type=int, default=4096)
  ap.add_argument("--records", action="store_true",
                  help="also write the per-run CSV (its writer is streamed too)")
  args = ap.parse_args()
  print(f"chunk = {args.chunk} runs; epochs = 5")
  print("      runs   cells x trials   peak RSS MiB   seconds")
  for n in args.sizes:
    side = max(1, round(math.sqrt(n / 100)))
    trials = n // (side * side)
    with tempfile.TemporaryDirectory() as out:
      rss, sec = peak_rss([
          "density", f"--w0=0.5:3:{side}", f"--s=0:1:{side}",
          f"--trials={trials}", "--epochs=5", f"--chunk={args.chunk}",
          f"--out_dir={out}", "--records" if args.records else "--norecords"])
    print(f"{side * side * trials:10d}   {side:3d}x{side:<3d} x {trials:4d}"
          f"   {rss:12.0f}   {sec:7.1f}", flush=True)


if __name__ == "__main__":
  main()
