"""The LSTM paper's replay beside its published numbers (``replay``).

The published means are the paper's Tables 4 (experiment 3a: T = 100 with
N = 3 and 1, T = 1000 with N = 3) and 7 (experiment 4: T = 100, 500,
1000), each a mean over 10 trials of the training sequences until the stop (Hochreiter & Schmidhuber 1997, Neural Computation
9:1735-1780). Our mean over the trials that stopped is judged against each
by ``statistics.verdict``: *agrees* when the published mean lies within
ours +- 3 standard errors.
"""

from __future__ import annotations

import math

import numpy as np

from vanishing import statistics
from vanishing.experiments.remedies import replay
from vanishing.experiments.skeleton import Outcome

SOURCE = "Hochreiter & Schmidhuber 1997"
# (task, T, N) -> (ST1, ST2 or the adding stop, wrong of 2,560): the
# published mean training sequences to each stop, means of 10 trials
# (N = -1: the adding problem, whose one stop is its training rule, ST3(0.01)
# in the paper's Table 11; no ST1 published there). Table 4 prints the
# fraction of 2,560 misclassified (0.000195, 0.000117, 0.000078), here as
# counts of 2,560.
PUBLISHED: dict[tuple[str, int, int], tuple] = {
    ("two_sequence_1997", 100, 3): (27380, 39850, 0.000195 * 2560),
    ("two_sequence_1997", 100, 1): (58370, 64330, 0.000117 * 2560),
    ("two_sequence_1997", 1000, 3): (446850, 452460, 0.000078 * 2560),
    ("adding_1997", 100, -1): (None, 74000, 1),
    ("adding_1997", 500, -1): (None, 209000, 0),
    ("adding_1997", 1000, -1): (None, 853000, 1),
}
RULE = (f"agrees: the published mean lies within our mean +- "
        f"{statistics.SE_BAND:g} standard errors; with trials that never "
        "stopped, our floor counts them at the sequences they ran, and the "
        "row differs only if that floor's lower end is above the published "
        "mean (else: undetermined)")
LABELS = {"lstm_1997": "LSTM 1997", "gru": "GRU",
          "rnn_identity": "tanh RNN, identity"}


def _verdict(table, i: int, stop: str, published) -> str:
  """``statistics.verdict`` of row ``i``'s ``stop`` (st1 or stop): with
  censored trials, judged on the floor that counts them at the sequences
  they ran."""
  censored = int(table[f"{stop}_censored"][i])
  mean = f"{stop}_floor" if censored else f"{stop}_mean"
  se = f"{stop}_floor_se" if censored else f"{stop}_se"
  return statistics.verdict(float(table[mean][i]), float(table[se][i]),
                            censored, published)


def published_columns(table) -> dict[str, np.ndarray]:
  """Per row: the published ST1, stop and wrong, and the verdicts."""
  out: dict[str, list] = {k: [] for k in (
      "published_st1", "verdict_st1", "published_stop", "verdict_stop",
      "published_wrong")}
  for i in range(len(table["T"])):
    key = (str(table["task"][i]), int(table["T"][i]), int(table["N"][i]))
    st1, stop, wrong = PUBLISHED.get(key, (None, None, None))
    mine = table["cell"][i] == "lstm_1997"   # the paper ran its LSTM only
    st1, stop, wrong = (st1, stop, wrong) if mine else (None, None, None)
    out["published_st1"].append(np.nan if st1 is None else st1)
    out["verdict_st1"].append(_verdict(table, i, "st1", st1))
    out["published_stop"].append(np.nan if stop is None else stop)
    out["verdict_stop"].append(_verdict(table, i, "stop", stop))
    out["published_wrong"].append(np.nan if wrong is None else wrong)
  return {k: np.asarray(v) for k, v in out.items()}


def _pm(mean: float, se: float) -> str:
  if not math.isfinite(mean):
    return "-"
  return statistics.fmt(mean) + ("" if not math.isfinite(se)
                                 else f" +- {statistics.fmt(se)}")


def summary(table, settings, compile_s: float, run_s: float) -> str:
  """The terminal summary: one line per row, ours beside the paper's."""
  stop = "ST2" if settings.protocol == "lstm_1997_2seq" else "stop"
  lines = [f"remedies {settings.protocol}: {len(settings.cells)} cells x "
           f"{len(set(table['T']))} T x {settings.trials.count} trials, online "
           f"SGD lr {settings.lr:g}, fresh sequences, checked every "
           f"{settings.check_every} (compile {compile_s:.1f} s, run "
           f"{run_s:.1f} s)",
           f"{'cell':18s} {'T':>5s} {'N':>2s} {'solved':>7s} "
           f"{'ST1 mean +- SE':>20s} {'paper':>9s} {'verdict':12s} "
           f"{stop + ' mean +- SE':>20s} {'paper':>9s} {'verdict':12s} "
           f"{'wrong/2560':>10s} {'paper':>5s}"]
  for i in range(len(table["T"])):
    N = int(table["N"][i])
    lines.append(
        f"{LABELS.get(table['cell'][i], table['cell'][i]):18s} "
        f"{int(table['T'][i]):5d} {N if N > 0 else '-':>2} "
        f"{int(table['solved'][i]):3d}/{int(table['trials'][i]):<3d} "
        f"{_pm(table['st1_mean'][i], table['st1_se'][i]):>20s} "
        f"{statistics.fmt(table['published_st1'][i]):>9s} "
        f"{table['verdict_st1'][i]:12s} "
        f"{_pm(table['stop_mean'][i], table['stop_se'][i]):>20s} "
        f"{statistics.fmt(table['published_stop'][i]):>9s} "
        f"{table['verdict_stop'][i]:12s} "
        f"{statistics.fmt(table['final_wrong'][i], '.1f'):>10s} "
        f"{statistics.fmt(table['published_wrong'][i], '.1f'):>5s}")
  lines.append(f"Means over the trials that stopped; paper: {SOURCE}'s "
               "LSTM (no published number for the GRU and the tanh RNN). "
               f"Rule: {RULE}.")
  return "\n".join(lines)


def _row(T, N) -> str:
  """A row's label: its span and, for the 2-sequence problem, its N."""
  return f"T={int(T)}" + (f", N={int(N)}" if N > 0 else "")


def figure(table):
  """Mean sequences to the paper's stop per cell and span (log scale, +-1
  SE), the published means as black stars."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
  names = [_row(T, N) for T, N in zip(table["T"], table["N"])]
  rows = list(dict.fromkeys(names))
  x_all = np.asarray([rows.index(r) for r in names])
  cells = list(dict.fromkeys(table["cell"]))
  for j, cell in enumerate(cells):
    sel = table["cell"] == cell
    x = x_all[sel] + 0.15 * (j - (len(cells) - 1) / 2)
    se = np.nan_to_num(table["stop_se"][sel])
    ax.errorbar(x, table["stop_mean"][sel], yerr=se, fmt="o", capsize=3,
                label=f"{LABELS.get(cell, cell)} (solved "
                f"{int(table['solved'][sel].sum())}/"
                f"{int(table['trials'][sel].sum())})")
  pub = table["published_stop"]
  if np.isfinite(pub).any():
    ax.plot(x_all[np.isfinite(pub)], pub[np.isfinite(pub)], "k*", ms=11,
            label=f"{SOURCE} (LSTM)")
  ax.set_xticks(range(len(rows)), rows)
  if np.any(np.nan_to_num(table["stop_mean"]) > 0) or np.isfinite(pub).any():
    ax.set_yscale("log")
  ax.set_ylabel("training sequences to the paper's stop (mean +- SE)")
  ax.set_title("The LSTM paper's protocol replayed", fontsize=10)
  ax.legend(fontsize=7)
  return fig


def execute(settings, sweeps) -> Outcome | None:
  """Runs the replay: its tables (summary with the published numbers, and
  one row per trial), figure and summary."""
  out = replay.run(settings, sweeps)
  if out is None:
    return None
  table, records, (compile_s, run_s) = out
  table = {**table, **published_columns(table)}
  meta = {"compile_s": compile_s, "run_s": run_s,
          "runs": int(table["trials"].sum()), "protocol": settings.protocol,
          "rule": RULE, "source": SOURCE}
  return Outcome({"": table, "runs": records}, figure(table),
                 summary(table, settings, compile_s, run_s), meta)
