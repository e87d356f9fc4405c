"""The gradients experiment's fifth measurement: the state Jacobian of every
kind of cell, the tanh latch beside the later remedies.

``||ds_t/ds_0||`` (spectral norm, float64) for t = 1..T by
:func:`vanishing.theory.cell_jacobian_norms`, n = 4 units for every cell
but the latch, parameters drawn by each cell's own ``init(key, 0.5)`` with
``key = jax.random.key(seed)`` unless the setting says otherwise, all on one
input sequence ``u_t`` i.i.d. N(0, 0.1^2) (``np.random.default_rng(seed)``):

* ``latch``: the paper's latch neuron at self-weight w, its class input
  h_1 = a_bar (it starts on the attractor) and zero input after it: the
  decay is ``|M'(a_bar)|^t`` exactly, the theory's prediction;
* ``elman`` (uniform init), ``rnn_orthogonal``, ``rnn_identity``: the tanh
  RNN with its three recurrent initialisations;
* ``lstm``: forget gate, forget bias 1 (the cell's default); the whole
  state (h, c) and the cell-state block ``dc_t/dc_0``;
* ``lstm_noforget``: the 1997 memory cell with its input gate closed
  (b_i = -50): c_t = c_{t-1} up to ~1e-21, the constant error carousel,
  ``||dc_t/dc_0|| = 1``; whole state and cell-state block;
* ``gru``;
* ``lru`` (Orvieto et al. 2023; ring r_min = 0.9, r_max = 0.999) and
  ``linear_diag`` (decays a in [0.5, 0.99]): diagonal linear recurrences,
  whose state Jacobian is diag(lambda) whatever the input, so
  ``||ds_t/ds_0|| = max |lambda|^t`` exactly: their ``predicted`` and
  ``predicted_rate`` columns.

The per-step rate is ``exp`` of the least-squares slope of ``log norm``
over the second half of the horizon (:func:`fitted_rate`, the decay
measurement's fit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells, theory

N_UNITS = 4         # units of every cell but the latch
SCALE = 0.5         # init(key, SCALE): U[-0.5, 0.5], the cells' default
INPUT_STD = 0.1     # u_t ~ N(0, INPUT_STD^2)
CLOSED_GATE = -50.0  # b_i of the closed-input-gate LSTM
FLOOR = 1e-35       # the panel's lower limit (the table has the rest)

# (cell, setting, parts measured): the rows of the table, in order.
SETTINGS = (
    ("latch", "w = cells_w, h_1 = a_bar, zero input", ("state",)),
    ("elman", "uniform init", ("state",)),
    ("rnn_orthogonal", "orthogonal W, b = 0", ("state",)),
    ("rnn_identity", "W = I, b = 0", ("state",)),
    ("lstm", "forget bias 1 (default)", ("state", "c")),
    ("lstm_noforget", f"input gate closed, b_i = {CLOSED_GATE:g}",
     ("state", "c")),
    ("gru", "uniform init", ("state",)),
    ("lru", "ring |lambda| in [0.9, 0.999]", ("state",)),
    ("linear_diag", "decays a in [0.5, 0.99]", ("state",)),
)


def fitted_rate(t: np.ndarray, y: np.ndarray) -> np.ndarray:
  """``exp`` of the least-squares slope of ``log y`` over t >= t[-1] // 2
  (``y (T,)`` or ``(T, k)``: one rate per column); values are floored at
  the smallest normal float64 so an underflow to 0 stays finite."""
  tail = t >= t[-1] // 2
  logs = np.log(np.maximum(y[tail], np.finfo(np.float64).tiny))
  return np.exp(np.polyfit(t[tail], logs, 1)[0])


def _parameters(name: str, key) -> tuple:
  """``(cell, theta)`` of one setting (the latch's is filled in later)."""
  cell = cells.get(name, n=N_UNITS)
  theta = np.array(cell.init(key, SCALE), np.float64)
  if name == "lstm_noforget":
    b0 = cell.gates * cell.n * (cell.n + cell.inputs)  # b_i leads b
    theta[b0:b0 + cell.n] = CLOSED_GATE
  return cell, theta


def measure(T: int, w: float, seed: int) -> dict[str, np.ndarray]:
  """The table: one row per (cell, part, t), t = 1..T.

  Columns: ``cell``, ``setting``, ``part`` (``state``: the whole recurrent
  state; ``c``: the LSTM's cell-state block), ``input`` (its law),
  ``t``, ``norm``, ``rate`` (:func:`fitted_rate` of the row's curve),
  ``predicted`` and ``predicted_rate`` (``|M'(a_bar)|^t`` and ``|M'(a_bar)|``
  for the latch, ``max |lambda|^t`` and ``max |lambda|`` for the diagonal
  cells, NaN for the others).
  """
  t = np.arange(1, T + 1)
  key = jax.random.key(seed)
  u = INPUT_STD * np.random.default_rng(seed).normal(size=T)
  a_bar = float(theory.attractor(w))
  m = float(np.abs(theory.contraction_at_attractor(w)))
  cols = {k: [] for k in ("cell", "setting", "part", "input", "t", "norm",
                          "rate", "predicted", "predicted_rate")}
  for name, setting, parts in SETTINGS:
    if name == "latch":
      cell, theta, inputs = cells.latch_net(), [w, a_bar, -a_bar], np.zeros(T)
      law, predicted, rate = "zero", m ** t, m
      setting = setting.replace("cells_w", f"{w:g}")
    else:
      (cell, theta), inputs = _parameters(name, key), u
      law, predicted, rate = f"N(0, {INPUT_STD:g}^2)", np.full(T, np.nan), np.nan
      if "diagonal" in cell.provides:
        with jax.enable_x64(True):
          rate = float(np.max(np.abs(cell.transition(
              cell.unpack(jnp.asarray(theta)), 0,
              jnp.zeros((1, cell.inputs)))[0])))
        predicted = rate ** t
    for part in parts:
      norm = theory.cell_jacobian_norms(
          cell, theta, inputs, part=None if part == "state" else part)
      for k, v in (("cell", name), ("setting", setting), ("part", part),
                   ("input", law), ("rate", fitted_rate(t, norm)),
                   ("predicted_rate", rate)):
        cols[k].append(np.full(T, v))
      cols["t"].append(t)
      cols["norm"].append(norm)
      cols["predicted"].append(predicted)
  return {k: np.concatenate(v) for k, v in cols.items()}


def rows(table) -> list[tuple[str, str, np.ndarray]]:
  """``(cell, part, row mask)`` of each curve, in the table's order."""
  seen = dict.fromkeys(zip(table["cell"], table["part"]))
  return [(c, p, (table["cell"] == c) & (table["part"] == p)) for c, p in seen]


def panel(ax, table) -> None:
  """log10 of the norm against t, each cell; the latch's prediction dotted."""
  names = [n for n, _, _ in SETTINGS]
  for cell, part, sel in rows(table):
    t, norm = table["t"][sel], table["norm"][sel]
    color = f"C{names.index(cell)}"
    label = f"{cell} ({table['setting'][sel][0]})" + (
        ", dc_t/dc_0" if part == "c" else "")
    ax.semilogy(t, norm, color=color, ls="--" if part == "c" else "-",
                label=label)
    if cell == "latch":
      ax.semilogy(t, table["predicted"][sel], color="k", ls=":", lw=1.2,
                  label=f"|M'(a_bar)|^t = {table['predicted_rate'][sel][0]:.4f}^t")
  ax.set_ylim(FLOOR, 10.0)
  ax.set_xlabel("t")
  ax.set_ylabel("||ds_t / ds_0||  (spectral)")
  ax.set_title(f"State Jacobian of every cell (n = {N_UNITS}, inputs N(0, "
               f"{INPUT_STD:g}^2)): the tanh latch decays as |M'|^t, the "
               f"closed-gate LSTM's\ncell state stays at 1 (constant error "
               f"carousel); black dotted: the theory; panel floor {FLOOR:g}",
               fontsize=10)
  ax.legend(fontsize=7, ncol=3, loc="upper center",
            bbox_to_anchor=(0.5, -0.13))


def summary(table) -> list[str]:
  """One line per curve: the norm at the horizon and the fitted rate."""
  T = int(table["t"].max())
  out = [f"state Jacobian of every cell over t = 1..{T}:",
         "  cell            part   ||ds_T/ds_0||  rate/step  predicted"]
  for cell, part, sel in rows(table):
    pred = table["predicted_rate"][sel][0]
    out.append(f"  {cell:14s}  {part:5s}  {table['norm'][sel][-1]:13.3e}  "
               f"{table['rate'][sel][0]:9.6f}  "
               + (f"{pred:.6f}" if np.isfinite(pred) else "-"))
  return out
