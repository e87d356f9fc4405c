"""Training methods, one module each, sharing the protocol of ``base``.

``NAMES`` lists the methods in table order; each is the module
``vanishing.methods.<name>`` with ``NAME``, ``DEFAULTS`` (hyper-parameters)
and ``solve(key, fit, theta0, budget, hp)``. Every listed method is part of
the suite: one whose module fails to import (a missing dependency, a broken
import) or has no ``solve`` raises ``ImportError`` naming it, rather than
silently dropping out of the comparison.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# In the order of the comparison table: gradient methods, then the paper's
# alternatives, then the baseline.
NAMES = ("bptt", "pseudo_newton", "time_weighted_newton", "annealing",
         "multigrid", "discrete", "guessing")


def _load(name: str) -> ModuleType:
  """The module of the listed method ``name``; ImportError naming the
  method if it does not import or has no ``solve``."""
  path = f"vanishing.methods.{name}"
  try:
    mod = importlib.import_module(path)
  except ImportError as e:
    raise ImportError(f"method {name!r}: its module {path} failed to "
                      f"import ({type(e).__name__}: {e})") from e
  if not callable(getattr(mod, "solve", None)):
    raise ImportError(f"method {name!r}: module {path} has no solve()")
  return mod


def available() -> tuple[str, ...]:
  """Every method name, in table order, once each has been checked to
  import and to have ``solve`` (ImportError naming the first that fails)."""
  for name in NAMES:
    _load(name)
  return NAMES


def get(name: str) -> ModuleType:
  """The method module ``name``; ValueError listing the valid names for a
  name not in ``NAMES``, ImportError if the method's module is broken."""
  if name not in NAMES:
    raise ValueError(f"unknown method {name!r}; choose from "
                     f"{', '.join(NAMES)}")
  return _load(name)
