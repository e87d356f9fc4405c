"""Recurrent cells: the cell protocol, its one forward pass, the registry.

**The protocol.** A cell is a hashable object (a frozen dataclass) with

* ``name`` and ``size``: the number P of free parameters. Every method
  moves one flat float vector ``theta (P,)`` (gradient steps, annealing's
  coordinate moves, random draws alike);
* ``init(key, scale) -> theta``: the initial parameters of a trial;
* ``unpack(theta) -> params``: the parameters as the pytree ``step`` reads;
* ``initial_state(batch, dtype) -> state``: a pytree with the sequence
  axis first;
* ``step(params, state, t, u_t, context) -> state``: one time step, on a
  batch of sequences (``u_t (B,)``, ``context`` per-sequence side input
  such as class labels);
* ``readout(state) -> y (B,)``: the output;
* ``provides``: a frozenset of the structure tags (``STRUCTURE``) the cell
  exposes to methods that need more than the forward pass (a gated cell
  provides none of them; ``vanishing.methods.check_supported`` refuses a
  method that needs what the cell lacks, before anything compiles).

:func:`forward` (``scan.forward``) is the forward pass of every cell,
written once: states masked by each sequence's length, the output read at
its end. ``run`` is the same function under the name the methods use.
:func:`forward_many` runs K parameter vectors at once (random guessing);
a cell may bring a faster layout of it (``Net``: ``lanes.py``), which the
tests hold equal to ``vmap`` of :func:`forward`.

**The registry.** ``CELLS`` maps a name to a function building the cell
(keyword arguments allowed); :func:`get` looks one up. Adding a cell is
one module defining it plus one line in ``CELLS``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Protocol

import jax

from vanishing.cells import paper
from vanishing.cells.elman import RECURRENT_INITS, Elman
from vanishing.cells.gated import GRU, LSTM
from vanishing.cells.linear_diag import Diagonal, LinearDiag
from vanishing.cells.lru import LRU
from vanishing.cells.lstm1997 import LSTM1997
from vanishing.cells.latch import latch_final, latch_step, latch_trajectory
from vanishing.cells.net import (ORDERS, OUTPUT_FNS, Net, Unfolded, activate,
                                 net_step, run, unfold)
from vanishing.cells.paper import (full_net, latch2_net, latch_net,
                                   local_feedback_net, parity_a1, parity_a2,
                                   parity_net, parity_sign_net,
                                   two_sequence_net)
from vanishing.cells.readout import OUTPUTS, Readout
from vanishing.cells.scan import (MAX_FULL_UNROLL, PARTIAL_UNROLL, forward,
                                  linear_scan, scan as time_scan)

# Structure a cell can expose beyond the protocol's forward pass:
# ``linear``: pre-activations a = W x + v u + b of a masked net, its
# ``unpack`` into W, v, b, its phases and ``unfold``; the derivatives of
# its unit functions.
# ``diagonal``: a diagonal linear recurrence h_t = a_t h_{t-1} + b_t with
# ``transition``, ``hidden`` and ``emit`` (``linear_diag.Diagonal``).
STRUCTURE = ("linear", "activation_derivatives", "diagonal")


class Cell(Protocol):
  """What every cell provides (see the module docstring)."""
  name: str
  provides: frozenset

  @property
  def size(self) -> int: ...
  def init(self, key: jax.Array, scale: float) -> jax.Array: ...
  def unpack(self, theta: jax.Array) -> Any: ...
  def initial_state(self, batch: int, dtype) -> Any: ...
  def step(self, params: Any, state: Any, t: jax.Array, u: jax.Array,
           context: Any) -> Any: ...
  def readout(self, state: Any) -> jax.Array: ...


# name -> constructor. The paper's nets (Section VI), HS2001's, an Elman
# net and the local-feedback net; then the later remedies: the LSTM (with
# and without forget gate), the GRU, and the plain tanh RNN (Elman's net)
# with an orthogonal or identity recurrent matrix; the LSTM as its 1997
# paper built it.
CELLS: dict[str, Callable[..., Cell]] = {
    "latch": latch_net,
    "two_sequence": two_sequence_net,
    "parity": parity_net,
    "parity_a1": parity_a1,
    "parity_a2": parity_a2,
    "latch2": latch2_net,
    "elman": Elman,
    "local_feedback": local_feedback_net,
    "lstm": LSTM,
    "lstm_noforget": functools.partial(LSTM, forget_gate=False,
                                       name="lstm_noforget"),
    "gru": GRU,
    # The 1997 LSTM: cell blocks with shared input and output gates, a
    # fully connected hidden layer, no forget gate.
    "lstm_1997": LSTM1997,
    "rnn_orthogonal": functools.partial(Elman, recurrent_init="orthogonal",
                                        name="rnn_orthogonal"),
    "rnn_identity": functools.partial(Elman, recurrent_init="identity",
                                      name="rnn_identity"),
    # The threshold parity net of discrete error propagation (sign units).
    "parity_sign": parity_sign_net,
    # Diagonal linear recurrences: the minimal real one, and the Linear
    # Recurrent Unit (Orvieto et al. 2023).
    "linear_diag": LinearDiag,
    "lru": LRU,
}


def forward_many(cell: Cell, thetas: jax.Array, inputs: jax.Array,
                 lengths: jax.Array, context: Any = None) -> jax.Array:
  """Outputs ``(K, B)`` of K parameter vectors ``thetas (K, P)`` on one
  batch: the cell's own ``forward_many`` where it has one (a Net's lane
  layout, equal to this default to float32 rounding), else ``vmap`` of
  :func:`forward`."""
  own = getattr(cell, "forward_many", None)
  if own is not None:
    return own(thetas, inputs, lengths, context)
  return jax.vmap(lambda th: forward(cell, th, inputs, lengths, context))(
      thetas)


def get(name: str, **kwargs) -> Cell:
  """The cell ``name`` of ``CELLS`` built with ``kwargs``; ValueError
  listing the registered names for an unknown one."""
  if name not in CELLS:
    raise ValueError(f"unknown cell {name!r}; choose from "
                     f"{', '.join(CELLS)}")
  return CELLS[name](**kwargs)


__all__ = [
    "CELLS", "Cell", "Diagonal", "Elman", "GRU", "LRU", "LSTM", "LSTM1997",
    "LinearDiag", "MAX_FULL_UNROLL", "Net",
    "ORDERS", "OUTPUTS", "OUTPUT_FNS", "PARTIAL_UNROLL", "RECURRENT_INITS",
    "Readout", "STRUCTURE", "Unfolded", "activate", "forward",
    "forward_many",
    "full_net", "get", "linear_scan", "latch2_net", "latch_final", "latch_net", "latch_step",
    "latch_trajectory", "local_feedback_net", "net_step", "paper", "parity_a1", "parity_a2",
    "parity_net", "parity_sign_net", "run", "time_scan", "two_sequence_net", "unfold",
]
