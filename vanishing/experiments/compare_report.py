"""The comparison's report: Table I as Markdown, and its figure.

:func:`markdown` lays the per-(problem, method, T) summary of
:mod:`vanishing.experiments.compare` out as the paper's Table I, with the
paper's quoted numbers beside ours; :func:`figure` draws final training error
and function evaluations against the span T.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
  from vanishing.experiments.compare import Settings

# The paper's quoted numbers (spec section 5), by (problem, method): what is
# measured and its value. "trials" in the paper's table is read here as
# function evaluations (one pass over the training set).
PAPER_QUOTES = {
    ("latch", None): ("evaluations to solve (all methods)", 1600.0),
    ("parity", "annealing"): ("evaluations to classification error 0", 810000.0),
    ("parity", "discrete"): ("evaluations to classification error 0.05", 54000.0),
}


def markdown(table: dict[str, np.ndarray], settings: Settings) -> str:
  """Table I of the paper: final error and evaluations, methods x problems."""
  Ts = sorted(set(table["T"].tolist()))
  lines = [
      "# Training methods compared (Bengio, Simard & Frasconi 1994, Table I)",
      "",
      f"{settings.trials} trials per cell; budget {settings.budget:,} function "
      f"evaluations (one = cost over the {2 * settings.n_per_class} training "
      f"sequences), stuck after {settings.patience:,} without improvement; "
      f"solved = no training error and cost < {settings.target_cost:g}. "
      f"Noise: {settings.noise_kind} {settings.noise_scale:g}; lengths uniform "
      "in [T/2, T]. Nets: latch 3 parameters, 2-sequence 25 (5 tanh units, "
      "targets +-0.8), parity 7 (a tanh hidden unit, then a logistic output "
      "unit reading it in the same step; targets 1 odd / 0 even).",
      "",
      "Each cell: final training classification error (mean over trials) / "
      "mean function evaluations; in brackets the fraction of trials solved.",
      ""]
  for p in dict.fromkeys(table["problem"]):
    lines += [f"## {p}", "",
              "| method | " + " | ".join(f"T = {T}" for T in Ts) + " |",
              "|---|" + "---|" * len(Ts)]
    for m in dict.fromkeys(table["method"]):
      cells = []
      for T in Ts:
        sel = np.flatnonzero((table["problem"] == p) & (table["method"] == m)
                             & (table["T"] == T))
        if not len(sel):
          cells.append("")
          continue
        i = sel[0]
        cells.append(f"{table['final_error'][i]:.3f} / "
                     f"{table['evaluations'][i]:,.0f} "
                     f"({table['solved_rate'][i]:.2f})")
      lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")
  lines += ["## The paper's quoted numbers beside ours", "",
            "| problem | method | paper: measure | paper | ours (mean evaluations"
            " of solved trials at the largest T; all trials in brackets) |",
            "|---|---|---|---|---|"]
  Tmax = max(Ts)
  for (p, m), (what, value) in PAPER_QUOTES.items():
    sel = (table["problem"] == p) & (table["T"] == Tmax)
    if m is not None:
      sel &= table["method"] == m
    if not sel.any():
      ours = "not run"
    else:
      idx = np.flatnonzero(sel)
      solved = lambda i: ("none solved" if np.isnan(table["evaluations_solved"][i])
                          else f"{table['evaluations_solved'][i]:,.0f}")
      ours = "; ".join(
          f"{table['method'][i]}: {solved(i)} "
          f"({table['evaluations'][i]:,.0f})" for i in idx)
    lines.append(f"| {p} | {m or 'all'} | {what} | {value:,.0f} | {ours} |")
  lines.append("")
  return "\n".join(lines)


def figure(table: dict[str, np.ndarray]):
  """Per problem: final error versus T and evaluations versus T, log scales."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  import matplotlib.ticker

  probs = list(dict.fromkeys(table["problem"]))
  fig, axes = plt.subplots(2, len(probs), figsize=(4.2 * len(probs), 6.4),
                           squeeze=False, constrained_layout=True)
  for j, p in enumerate(probs):
    for m in dict.fromkeys(table["method"]):
      sel = (table["problem"] == p) & (table["method"] == m)
      T = table["T"][sel]
      axes[0, j].plot(T, np.maximum(table["final_error"][sel], 1e-3), "o-",
                      label=m)
      axes[1, j].plot(T, table["evaluations"][sel], "o-", label=m)
    axes[0, j].set_title(p)
    spans = sorted(set(table["T"][table["problem"] == p].tolist()))
    for ax in axes[:, j]:
      ax.set_xscale("log")
      ax.set_yscale("log")
      ax.set_xticks(spans, [str(t) for t in spans])
      ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
      ax.set_xlabel("span T")
    axes[0, j].set_ylabel("final training error (floor 1e-3)")
    axes[1, j].set_ylabel("function evaluations")
  axes[0, -1].legend(fontsize=8)
  return fig
