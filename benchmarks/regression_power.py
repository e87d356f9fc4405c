"""What the reproduction regression catches: real changes to the density sweep.

Runs the regression's density check (six cells x 512 trials) with one change
at a time and prints every number that left its band:

* ``seed=1``: a new sample of the same experiment (what a broken key
  derivation would give); rates move by sampling error only, so most stay
  in their bands, but ``changed_runs`` sees the runs flip;
* ``lr=0.0105``: a 5% larger learning rate.

    python benchmarks/regression_power.py     # about a minute on 2 cores
"""

from __future__ import annotations

import dataclasses
import json
import sys

import regression
from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

from vanishing.experiments.latch import density

CHANGES = {"seed=1": {"seed": 1}, "lr=0.0105": {"lr": (0.0105,)}}


def main() -> int:
  reference = json.loads(regression.REFERENCE.read_text())
  default = density.DEFAULT
  try:
    for label, change in CHANGES.items():
      density.DEFAULT = dataclasses.replace(default, **change)
      measured = regression.measure(reference, only=["density"], log=lambda *_: None)
      moved = regression.compare_to(reference, measured, only=["density"])
      print(f"{label}: {len(moved)} of {len(measured)} numbers left their bands")
      for line in moved:
        print("  " + line)
  finally:
    density.DEFAULT = default
  return 0


if __name__ == "__main__":
  sys.exit(main())
