"""Experiments: settings (data) plus analysis (tables, figures) on the engine.

``REGISTRY`` names every experiment of ``python -m vanishing``, in the order
``--help`` lists them; what a module must declare is in
:mod:`vanishing.experiments.flags`. Adding one is one new module plus one
line here. A listed experiment whose module fails to import, or lacks part
of the protocol, is an ``ImportError`` naming it, never a silently missing
command.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY = {
    "density": "vanishing.experiments.latch.density",
    "length": "vanishing.experiments.latch.length",
    "gradients": "vanishing.experiments.latch.gradients",
    "compare": "vanishing.experiments.compare",
    "guessing": "vanishing.experiments.guessing",
    "rtrl": "vanishing.experiments.rtrl",
    "remedies": "vanishing.experiments.remedies",
}

# What every experiment module declares (vanishing.experiments.flags).
PROTOCOL = ("NAME", "SUMMARY", "FLAGS", "DEFAULT", "PAPER", "from_flags",
            "TABLES", "execute")


def get(name: str) -> ModuleType:
  """The module of experiment ``name``.

  Raises:
    KeyError: ``name`` is not in ``REGISTRY``.
    ImportError: its module fails to import or lacks part of ``PROTOCOL``
      (the message names the experiment).
  """
  path = REGISTRY[name]
  try:
    mod = importlib.import_module(path)
  except ImportError as e:
    raise ImportError(f"experiment {name!r}: its module {path} failed to "
                      f"import ({type(e).__name__}: {e})") from e
  missing = [a for a in PROTOCOL if not hasattr(mod, a)]
  if missing:
    raise ImportError(f"experiment {name!r}: module {path} does not declare "
                      f"{', '.join(missing)}")
  if mod.NAME != name:
    raise ImportError(f"experiment {name!r}: module {path} says NAME = "
                      f"{mod.NAME!r}")
  return mod


def all_experiments() -> dict[str, ModuleType]:
  """Every registered experiment, by name, in ``REGISTRY`` order."""
  return {name: get(name) for name in REGISTRY}
