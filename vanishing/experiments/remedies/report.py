"""The remedies experiment's summary table, figure and terminal summary
(``experiments.remedies``)."""

from __future__ import annotations

import numpy as np

from vanishing import statistics

LABELS = {"elman": "tanh RNN", "rnn_orthogonal": "tanh RNN, orthogonal",
          "rnn_identity": "tanh RNN, identity", "lstm": "LSTM", "gru": "GRU",
          "lru": "LRU", "linear_diag": "diagonal linear"}

TITLES = {"latch2": "latch (first input +-1)", "two_sequence": "2-sequence",
          "adding": "adding", "copying": "copying"}
STYLES = {"none": "-", "clip": "--", "curriculum": ":",
          "clip_curriculum": "-."}


def task_of(task: str, settings):
  """The registered task behind ``task`` (its kind, its baseline)."""
  return settings.problem(task, settings.cells[0]).task


def summarize(rec, settings) -> dict[str, np.ndarray]:
  """One row per (task, cell, remedy, T): ``solved`` and its Wilson
  interval held out, ``train_solved`` by the training-set rule (module
  docstring)."""
  rows = []
  for (task, cell, remedy, T), sel in statistics.groups(
      rec, ("task", "cell", "remedy", "T")):
    solved = rec["solved"][sel].astype(bool)
    trained = rec["train_solved"][sel].astype(bool)
    n = int(sel.sum())
    rate, _, lo, hi = statistics.wilson(solved.sum(), n)
    seq = rec["sequences"][sel][solved]
    spec = task_of(task, settings)
    test_cost = float(np.mean(rec["test_cost"][sel]))
    rows.append({"task": task, "kind": spec.kind, "cell": cell,
                 "remedy": remedy, "T": int(T),
                 "trials": n, "solved": int(solved.sum()),
                 "frequency": float(rate), "lo": float(lo), "hi": float(hi),
                 "median_sequences": (float(np.median(seq)) if len(seq)
                                      else np.nan),
                 "train_solved": int(trained.sum()),
                 "train_frequency": float(trained.mean()),
                 "test_cost": test_cost,
                 "baseline_cost": spec.baseline(int(T)),
                 "cost_ratio": test_cost / spec.baseline(int(T)),
                 "test_error": float(np.mean(rec["test_error"][sel])),
                 "diverged": int(rec["diverged"][sel].sum())})
  return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}


def figure(table):
  """One panel per task, a colour per cell and a line style per remedy:
  the held-out solved fraction (trials with no test sequence wrong,
  ``frequency``) against T, Wilson 95% bars, for the classification
  tasks; for the others (adding, copying: few or no trials meet their
  strict criteria in a short budget) the mean test cost over the task's
  memoryless baseline, below 1 where a net learnt the dependency."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  task_names = list(dict.fromkeys(table["task"]))
  fig, axes = plt.subplots(1, len(task_names),
                           figsize=(4.2 * len(task_names), 4.2),
                           constrained_layout=True, squeeze=False)
  colours = {c: f"C{i}" for i, c in enumerate(dict.fromkeys(table["cell"]))}
  for ax, task in zip(axes[0], task_names):
    for (cell, remedy), sel in statistics.groups(
        {k: table[k] for k in ("cell", "remedy")}, ("cell", "remedy")):
      sel = sel & (table["task"] == task)
      if not sel.any():
        continue
      style = dict(marker="o", ms=4, color=colours[cell],
                   ls=STYLES.get(remedy, "-"),
                   label=f"{LABELS.get(cell, cell)}, {remedy}")
      T = table["T"][sel]
      if classifies(table, task):
        f = table["frequency"][sel]
        yerr = np.stack([f - table["lo"][sel], table["hi"][sel] - f])
        ax.errorbar(T, f, yerr=yerr, capsize=2, **style)
      else:
        ax.plot(T, table["cost_ratio"][sel], **style)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("span T")
    if classifies(table, task):
      ax.set_ylim(-0.02, 1.02)
      ax.set_ylabel("held-out solved fraction: no test sequence wrong "
                    "(95% Wilson)", fontsize=8)
      ax.set_title(f"{TITLES.get(task, task)}: solved on the test set",
                   fontsize=9)
    else:
      ax.axhline(1.0, color="gray", lw=1, ls=":")
      ax.set_yscale("log")
      ax.set_ylabel("test cost / memoryless baseline")
      ax.set_title(f"{TITLES.get(task, task)}: test cost over baseline",
                   fontsize=9)
  axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1, 0.5))
  return fig


def classifies(table, task) -> bool:
  return bool(np.all(table["kind"][table["task"] == task]
                     == "classification"))


def summary(table, settings, compile_s: float, run_s: float) -> str:
  """The lines printed at the end of the experiment: ``solved`` held out
  (no test sequence wrong) with its Wilson interval, ``train`` the
  training-set rule's rate beside it."""
  lines = [f"remedies: {len(settings.tasks)} tasks x {len(settings.cells)} "
           f"cells x {len(settings.remedies)} remedies, {settings.trials.count} "
           f"trials per T, {settings.trials.training_sets} training sets "
           f"(compile {compile_s:.1f} s, run {run_s:.1f} s); solved: no "
           f"held-out test sequence wrong; train: the training-set rule",
           f"{'task':13s} {'cell':15s} {'remedy':16s} {'T':>5s} {'solved':>7s}"
           f" {'[95% CI]':>13s} {'train':>6s} {'median seq':>11s}"
           f" {'test cost':>10s} {'baseline':>9s}"]
  for i in range(len(table["T"])):
    lines.append(
        f"{table['task'][i]:13s} {table['cell'][i]:15s} "
        f"{table['remedy'][i]:16s} {table['T'][i]:5d} "
        f"{table['frequency'][i]:7.2f} "
        f"[{table['lo'][i]:.2f}, {table['hi'][i]:.2f}] "
        f"{table['train_frequency'][i]:6.2f} "
        f"{statistics.fmt(table['median_sequences'][i]):>11s} "
        f"{table['test_cost'][i]:10.4f} "
        f"{statistics.fmt(table['baseline_cost'][i], '.4f'):>9s}")
  return "\n".join(lines)
