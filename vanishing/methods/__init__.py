"""Training methods, one module each, on the protocol of ``base``.

``NAMES`` lists the methods in table order; each is the module
``vanishing.methods.<name>`` with ``NAME``, ``DEFAULTS`` (hyper-parameters),
``STATIC`` (the static ones), ``REQUIRES`` (cell structure it reads),
optionally ``KINDS`` and ``READOUTS`` (the tasks it can train:
:func:`check_task`) and ``init``/``step`` (see ``base``); :func:`solve`
runs one trial of any of them through the one shared loop. Every listed method is part of the suite:
one whose module fails to import (a missing dependency, a broken import) or
lacks ``init`` or ``step`` raises ``ImportError`` naming it, rather than
silently dropping out of the comparison.

Adding a method: one module here and its name in ``NAMES``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from vanishing import cells, tasks
from vanishing.engine import layout
from vanishing.methods import base, loop

# In the order of the comparison table: gradient methods, then the paper's
# alternatives, then the baseline: the paper's seven (``PAPER_NAMES``).
PAPER_NAMES = ("bptt", "pseudo_newton", "time_weighted_newton", "annealing",
               "multigrid", "discrete", "guessing")
# Then real-time recurrent learning (Williams & Zipser 1989), batch and online.
NAMES = PAPER_NAMES + ("rtrl", "rtrl_online")

# Cell structure a method may require (``REQUIRES``) and a cell provide
# (its ``provides``), ``cells.STRUCTURE``: ``linear``: pre-activations
# a = W x + v u + b of a ``cells.Net``, its ``unpack``, ``unfold`` and
# ``phases``; ``activation_derivatives``: first and second derivatives of
# the unit functions.
TAGS = frozenset(cells.STRUCTURE)


def _load(name: str) -> ModuleType:
  """The module of the listed method ``name``; ImportError naming the
  method if it does not import or lacks ``init`` or ``step``."""
  path = f"vanishing.methods.{name}"
  try:
    mod = importlib.import_module(path)
  except ImportError as e:
    raise ImportError(f"method {name!r}: its module {path} failed to "
                      f"import ({type(e).__name__}: {e})") from e
  missing = [f for f in ("init", "step") if not callable(getattr(mod, f, None))]
  if missing:
    raise ImportError(f"method {name!r}: module {path} has no "
                      f"{' or '.join(f + '()' for f in missing)}")
  return mod


def available() -> tuple[str, ...]:
  """Every method name, in table order, once each has been checked to
  import and to have ``init`` and ``step`` (ImportError naming the first
  that fails)."""
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


def solve(name: str, key, fit, theta0, budget: base.Budget, hp=None
          ) -> base.Result:
  """One trial of method ``name`` (``loop.solve``)."""
  return loop.solve(get(name), key, fit, theta0, budget, hp)


def lanes(name: str, width: int) -> int:
  """How many of method ``name``'s trials the engine lays side by side in
  a block on a CPU: the method's ``LANES`` where it declares one (a method
  whose lanes are not independent bit for bit under vmap runs one trial per
  lane, so its numbers do not depend on the chunk and device layout), else
  the experiment's ``width``."""
  return getattr(get(name), "LANES", None) or width


def block(name: str, width: int) -> layout.Block:
  """Method ``name``'s block width for the sweep engine: :func:`lanes` on a
  CPU, the device's choice elsewhere, fixed where the method declares
  ``LANES``."""
  return layout.Block(lanes(name, width),
                      fixed=getattr(get(name), "LANES", None) is not None)


def provided(cell) -> frozenset:
  """The structure tags ``cell`` provides (its ``provides``; none for an
  object without one)."""
  return frozenset(getattr(cell, "provides", ()))


def check_supported(name: str, cell) -> None:
  """ValueError, one line naming the method, the cell and the missing
  structure, if method ``name`` requires structure ``cell`` lacks."""
  missing = get(name).REQUIRES - provided(cell)
  if missing:
    label = getattr(cell, "name", None) or type(cell).__name__
    raise ValueError(
        f"method {name!r} cannot train cell {label!r}: it needs "
        f"{', '.join(sorted(missing))}, which the cell does not provide "
        f"(it provides: {', '.join(sorted(provided(cell))) or 'nothing'})")


def check_task(name: str, task) -> None:
  """ValueError, one line naming the method and the task, if method
  ``name`` cannot train the task: its cost is of a kind (``tasks.KINDS``)
  the method does not list in ``KINDS`` (the methods that compute the
  paper's squared error against two class targets themselves, or its
  curvature or inverse: ``KINDS = ("classification",)``; a method without
  ``KINDS`` evaluates ``fit.evaluate`` and trains every kind), or it has a
  target at every step and the method computes its own outputs at each
  sequence's end (``READOUTS = ("end",)``: the Newton methods, discrete
  propagation, guessing, online RTRL)."""
  method = get(name)
  kinds = getattr(method, "KINDS", tasks.KINDS)
  if task.kind not in kinds:
    raise ValueError(f"method {name!r} cannot train task {task.name!r}: it "
                     f"computes the cost of {' or '.join(kinds)} tasks only, "
                     f"the task's cost is {task.kind!r}")
  readouts = getattr(method, "READOUTS", ("end", "every"))
  if task.readout not in readouts:
    raise ValueError(f"method {name!r} cannot train task {task.name!r}: it "
                     f"reads outputs only at each sequence's end, the task "
                     f"has readout {task.readout!r}")
