"""Every experiment's testing run, ``execute(presets["testing"])``, as the
test suite shares it (the ``testing_outcome`` fixture of
``tests/conftest.py``).

``python tests/outcomes.py DIR`` runs them one after the other: it creates
``DIR/<name>.begun`` as it begins each, and writes the outcome, pickled, to
``DIR/<name>.pkl`` (atomically) as it finishes:
the suite starts it in a second process at collection, so that these runs
(about 90 s of compiling on 2 cores) overlap the tests of this process.
"""

import os
import pickle
import sys
from pathlib import Path
from typing import Mapping


def materialised(name: str):
  """``execute(testing preset)`` of experiment ``name``, a table streamed in
  pieces (an iterator, read once) kept as its list of pieces."""
  from vanishing import experiments
  exp = experiments.REGISTRY[name]
  out = exp.execute(exp.presets["testing"])
  out.tables = {k: v if isinstance(v, Mapping) else list(v)
                for k, v in out.tables.items()}
  return out


def main(out_dir: Path) -> None:
  # As tests/conftest.py sets this process up: the same numbers.
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  from vanishing.engine import devices
  devices.use_all_cores()
  from vanishing import experiments
  for name in experiments.REGISTRY:
    (out_dir / f"{name}.begun").touch()
    out = materialised(name)
    tmp = out_dir / f"{name}.pkl.tmp"
    tmp.write_bytes(pickle.dumps(out))
    tmp.replace(out_dir / f"{name}.pkl")


if __name__ == "__main__":
  main(Path(sys.argv[1]))
