"""Training methods, one module each, on the protocol of ``base``.

``REGISTRY`` maps each method's name to its value, a ``base.Method`` (name,
``init``/``step``, defaults and allowed hyper-parameters, the static ones,
the cell structure it requires, the tasks it can train: :func:`check_task`),
in table order; :func:`solve` runs one trial of any of them through the one
shared loop.

Adding a method: one module here ending with its ``METHOD``, and that
value in ``REGISTRY``.
"""

from __future__ import annotations

from vanishing import cells
from vanishing.engine import layout
from vanishing.methods import (annealing, base, bptt, discrete, guessing, loop,
                               multigrid, pseudo_newton, rtrl, rtrl_online,
                               snap1, time_weighted_newton, uoro)

# In the order of the comparison table: gradient methods, then the paper's
# alternatives, then the baseline: the paper's seven (``PAPER_NAMES``); then
# real-time recurrent learning (Williams & Zipser 1989), batch and online;
# its approximations that scale, SnAp-1 (Menick et al. 2021) and UORO
# (Tallec & Ollivier 2018).
REGISTRY: dict[str, base.Method] = {m.name: m for m in (
    bptt.METHOD, pseudo_newton.METHOD, time_weighted_newton.METHOD,
    annealing.METHOD, multigrid.METHOD, discrete.METHOD, guessing.METHOD,
    rtrl.METHOD, rtrl_online.METHOD, snap1.METHOD, uoro.METHOD)}
PAPER_NAMES = ("bptt", "pseudo_newton", "time_weighted_newton", "annealing",
               "multigrid", "discrete", "guessing")
NAMES = tuple(REGISTRY)

# Cell structure a method may require (``requires``) and a cell provide
# (its ``provides``), ``cells.STRUCTURE``: ``linear``: pre-activations
# a = W x + v u + b of a ``cells.Net``, its ``unpack``, ``unfold`` and
# ``phases``; ``activation_derivatives``: first and second derivatives of
# the unit functions.
TAGS = frozenset(cells.STRUCTURE)


def available() -> tuple[str, ...]:
  """Every method name, in table order."""
  return tuple(REGISTRY)


def get(name: str) -> base.Method:
  """The method ``name``; ValueError listing the valid names for a name
  not in ``REGISTRY``."""
  if name not in REGISTRY:
    raise ValueError(f"unknown method {name!r}; choose from "
                     f"{', '.join(REGISTRY)}")
  return REGISTRY[name]


def solve(name: str, key, fit, theta0, budget: base.Budget, hp=None
          ) -> base.Result:
  """One trial of method ``name`` (``loop.solve``)."""
  return loop.solve(get(name), key, fit, theta0, budget, hp)


def lanes(name: str, width: int) -> int:
  """How many of method ``name``'s trials the engine lays side by side in
  a block on a CPU: the method's ``lanes`` where it declares one (a method
  whose lanes are not independent bit for bit under vmap runs one trial per
  lane, so its numbers do not depend on the chunk and device layout), else
  the experiment's ``width``."""
  return get(name).lanes or width


def block(name: str, width: int) -> layout.Block:
  """Method ``name``'s block width for the sweep engine: :func:`lanes` on a
  CPU, the device's choice elsewhere, fixed where the method declares
  ``lanes``."""
  return layout.Block(lanes(name, width), fixed=get(name).lanes is not None)


def provided(cell) -> frozenset:
  """The structure tags ``cell`` provides (its ``provides``; none for an
  object without one)."""
  return frozenset(getattr(cell, "provides", ()))


def check_supported(name: str, cell) -> None:
  """ValueError, one line naming the method, the cell and the missing
  structure, if method ``name`` requires structure ``cell`` lacks."""
  missing = get(name).requires - provided(cell)
  if missing:
    label = getattr(cell, "name", None) or type(cell).__name__
    raise ValueError(
        f"method {name!r} cannot train cell {label!r}: it needs "
        f"{', '.join(sorted(missing))}, which the cell does not provide "
        f"(it provides: {', '.join(sorted(provided(cell))) or 'nothing'})")


def check_task(name: str, task) -> None:
  """ValueError, one line naming the method and the task, if method
  ``name`` cannot train the task: its cost is of a kind (``tasks.KINDS``)
  the method does not list in ``kinds`` (the methods that compute the
  paper's squared error against two class targets themselves, or its
  curvature or inverse: ``kinds = ("classification",)``; the others evaluate
  ``fit.evaluate`` and train every kind), or it has a target at every step
  and the method computes its own outputs at each sequence's end
  (``readouts = ("end",)``: the Newton methods, discrete propagation,
  guessing, online RTRL)."""
  method = get(name)
  kinds = method.kinds
  if task.kind not in kinds:
    raise ValueError(f"method {name!r} cannot train task {task.name!r}: it "
                     f"computes the cost of {' or '.join(kinds)} tasks only, "
                     f"the task's cost is {task.kind!r}")
  if task.readout not in method.readouts:
    raise ValueError(f"method {name!r} cannot train task {task.name!r}: it "
                     f"reads outputs only at each sequence's end, the task "
                     f"has readout {task.readout!r}")
