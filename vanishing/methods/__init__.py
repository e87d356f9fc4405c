"""Training methods, one module each, sharing the protocol of ``base``.

``REGISTRY`` maps each method name to its module; every module has ``NAME``,
``DEFAULTS`` (hyper-parameters) and ``solve(key, fit, theta0, budget, hp)``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# In the order of the comparison table: gradient methods, then the paper's
# alternatives, then the baseline.
NAMES = ("bptt", "pseudo_newton", "time_weighted_newton", "annealing",
         "multigrid", "discrete", "guessing")


def available() -> tuple[str, ...]:
  """Names of the methods that are installed, in table order."""
  out = []
  for name in NAMES:
    try:
      mod = importlib.import_module(f"vanishing.methods.{name}")
    except ModuleNotFoundError:
      continue
    if hasattr(mod, "solve"):
      out.append(name)
  return tuple(out)


def get(name: str) -> ModuleType:
  """The method module ``name``; ValueError listing the valid names."""
  if name not in available():
    raise ValueError(f"unknown method {name!r}; choose from "
                     f"{', '.join(available())}")
  return importlib.import_module(f"vanishing.methods.{name}")
