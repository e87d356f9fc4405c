"""The RTRL experiment's figure and terminal summary (``experiments.rtrl``)."""

from __future__ import annotations

import numpy as np

TASKS = (("latch", "latch"), ("two_sequence", "2-sequence"),
         ("parity", "parity"))


def _label(problem: str, method: str) -> str:
  net = "local feedback" if problem.endswith("_local") else "fully recurrent"
  return f"{method}, {net}"


def _cost_panel(ax, costs, column: str, slopes, ylabel: str, title: str):
  """``column`` of the cost table against n on log-log axes, a line per
  method labelled with its fitted slope (positive values only)."""
  for method in dict.fromkeys(costs["method"]):
    sel = (costs["method"] == method) & (costs[column] > 0)
    ax.loglog(costs["n"][sel], costs[column][sel], "o-",
              label=f"{method} (slope {slopes.get(method, np.nan):.2f})")
  n = np.asarray(sorted(set(costs["n"])), float)
  ax.set_xticks(n, [f"{int(v)}" for v in n])
  ax.minorticks_off()
  ax.set_xlabel("units n")
  ax.set_ylabel(ylabel)
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=7)


def figure(table, costs, fits, memory):
  """Cost (time, temporary memory) against n on log-log axes with the
  O(n^2), O(n^4) and O(weights) lines; success frequency against T per
  task (Wilson 95% bars)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 5, figsize=(20, 4.2), constrained_layout=True)
  n = np.asarray(sorted(set(costs["n"])), float)
  s0 = float(np.min(costs["seconds_per_step"]))
  for power, name in ((2, "n^2 (BPTT)"), (4, "n^4 (RTRL)"),
                      (1, "weights ~ n (local)")):
    axes[0].loglog(n, s0 * (n / n[0]) ** power, ":", color="gray", lw=1)
    axes[0].annotate(name, (n[-1], s0 * (n[-1] / n[0]) ** power), fontsize=7,
                     color="gray", ha="right", va="bottom")
  _cost_panel(axes[0], costs, "seconds_per_step", fits,
              "seconds per sequence step (one gradient)",
              "cost of one gradient")
  _cost_panel(axes[1], costs, "peak_bytes", memory,
              "compiled temporary bytes (one gradient)",
              "memory of one gradient")
  for ax, (task, title) in zip(axes[2:], TASKS):
    for problem in (task, f"{task}_local"):
      for method in dict.fromkeys(table["method"]):
        sel = (table["problem"] == problem) & (table["method"] == method)
        if not sel.any():
          continue
        T, f = table["T"][sel], table["solved_rate"][sel]
        yerr = np.stack([f - table["solved_lo"][sel],
                         table["solved_hi"][sel] - f])
        ax.errorbar(T, f, yerr=yerr, marker="o", capsize=3,
                    ls="--" if problem.endswith("_local") else "-",
                    label=_label(problem, method))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("span T")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{title}: solved fraction (95% Wilson)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
      ax.legend(fontsize=7)
  axes[2].set_ylabel("solved fraction")
  return fig


def summary(table, check, costs, fits, memory, compile_s: float,
            run_s: float) -> str:
  """The lines printed at the end of the experiment."""
  lines = [f"rtrl: gradient check, {len(check['T'])} (problem, T): max relative "
           f"difference of RTRL and BPTT {np.max(check['max_rel_diff']):.2e} "
           f"(float64)"]
  lines.append("cost exponents in n (seconds per step): " + ", ".join(
      f"{m} {e:.2f}" for m, e in fits.items()))
  lines.append("memory exponents in n (temporary bytes): " + ", ".join(
      f"{m} {e:.2f}" for m, e in memory.items()))
  lines.append(f"success table (compile {compile_s:.1f} s, run {run_s:.1f} s)")
  lines.append(f"{'problem':20s} {'method':12s} {'T':>4s} {'solved':>7s} "
               f"{'error':>6s} {'evals':>8s}")
  for i in range(len(table["T"])):
    lines.append(f"{table['problem'][i]:20s} {table['method'][i]:12s} "
                 f"{table['T'][i]:4d} {table['solved_rate'][i]:7.2f} "
                 f"{table['final_error'][i]:6.3f} {table['evaluations'][i]:8.0f}")
  return "\n".join(lines)
