"""The guessing experiment's summary and report.

:func:`summarize` turns one configuration's per-run records of
:mod:`vanishing.experiments.guessing` into a row of trial statistics;
:func:`figure`, :func:`markdown` and :func:`summary_text` present the rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from vanishing import statistics
from vanishing.experiments.guessing.variants import PUBLISHED, WHY

if TYPE_CHECKING:
  from vanishing.experiments.guessing import Settings

SUMMARY_COLUMNS = ("variant", "input_noise", "params", "criterion", "runs",
                   "solved", "censored", "trials_mean", "trials_se",
                   "trials_median",
                   "trials_q25", "trials_q75", "trials_max",
                   "trials_per_solution", "test_error", "test_error_tol",
                   "test_error_mid")


def summarize(variant: str, noise_kind: str, params: int, criterion: str,
              rec: Mapping[str, np.ndarray]) -> dict[str, Any]:
  """One summary row from a configuration's per-run records.

  Trial statistics (mean, median, quartiles, max) are over *solved* runs
  only; censored runs are counted apart. ``trials_per_solution`` = all draws
  made (censored runs' included) / solved runs: the maximum-likelihood mean
  of a geometric law with censoring. ``test_error`` is the mean over solved
  runs of the test error under the run's own criterion.
  """
  solved = np.asarray(rec["solved"], bool)
  trials = np.asarray(rec["trials"], float)
  k = int(solved.sum())
  t = trials[solved]
  q = (np.percentile(t, [25, 50, 75]) if k else np.full(3, np.nan))
  tol = float(statistics.quiet_nanmean(rec["test_error_tol"])) if k else math.nan
  mid = float(statistics.quiet_nanmean(rec["test_error_mid"])) if k else math.nan
  return {"variant": variant, "input_noise": noise_kind,
          "params": params, "criterion": criterion,
          "runs": len(solved), "solved": k, "censored": len(solved) - k,
          "trials_mean": float(t.mean()) if k else math.nan,
          "trials_se": float(statistics.se(t)),
          "trials_median": float(q[1]), "trials_q25": float(q[0]),
          "trials_q75": float(q[2]),
          "trials_max": float(t.max()) if k else math.nan,
          "trials_per_solution": float(trials.sum() / k) if k else math.nan,
          "test_error": tol if criterion == "tolerance" else mid,
          "test_error_tol": tol, "test_error_mid": mid}


# The rule of :func:`verdict` (``statistics.verdict``).
SE_BAND = statistics.SE_BAND
verdict = statistics.verdict
RULE = (f"*agrees*: the published mean lies within our mean +- {SE_BAND:g} "
        "standard errors (HS2001 give no spread: theirs counts as exact); "
        "*differs*: outside it; with censored runs our mean (over solved "
        "runs) is a floor, so a row *differs* only if the floor's lower end "
        f"(mean - {SE_BAND:g} SE) is above the published mean, and is "
        "*undetermined* otherwise.")


def published_rows(table) -> list[dict[str, Any]]:
  """Per summary row: the published mean, its source, the verdict and (for
  a row that differs) why."""
  out = []
  for i in range(len(table["variant"])):
    v, n = str(table["variant"][i]), str(table["input_noise"][i])
    pub, src = PUBLISHED.get((v, n), (None, ""))
    word = verdict(float(table["trials_mean"][i]), float(table["trials_se"][i]),
                   int(table["censored"][i]), pub)
    why = WHY.get((v, n), "unexplained") if word == "differs" else ""
    out.append({"published": pub, "source": src, "verdict": word, "why": why})
  return out


def figure(table, records, settings: Settings):
  """Histogram of trials to solution (log x), one line per configuration."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(9.5, 4.2), constrained_layout=True)
  top = max(settings.max_trials, 10)
  bins = np.logspace(0, math.log10(top), 4 * max(1, int(math.log10(top))) + 1)
  for i in range(len(table["variant"])):
    v, n = table["variant"][i], table["input_noise"][i]
    t = records[(v, n)]
    label = (f"{v}, {'no' if n == 'none' else n} noise: "
             f"{table['solved'][i]} solved, {table['censored'][i]} censored")
    ax.hist(t, bins=bins, histtype="step",
            linewidth=1.5, label=label)
  ax.set_xscale("log")
  ax.set_xlabel("trials to solution (weight draws)")
  ax.set_ylabel("runs")
  ax.yaxis.get_major_locator().set_params(integer=True)
  lo, hi = settings.weight_range
  ax.set_title(f"Random weight guessing, U[{lo:g}, {hi:g}], {settings.runs} runs "
               f"per configuration, censored at {settings.max_trials:,}",
               fontsize=9)
  ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
  return fig


# The statistics columns of both tables, in order, with their formats.
_STATS = (("trials_mean", ",.0f"), ("trials_median", ",.0f"),
          ("trials_q25", ",.0f"), ("trials_q75", ",.0f"),
          ("trials_max", ",.0f"), ("trials_per_solution", ",.0f"),
          ("test_error", ".3f"))


def _stats(table, i: int) -> list[str]:
  """Row i's statistics columns, formatted ("-" where undefined)."""
  return [statistics.fmt(table[c][i], spec) for c, spec in _STATS]


def markdown(table, settings: Settings) -> str:
  """The summary as a Markdown table, with the protocol in words."""
  lo, hi = settings.weight_range
  a, b = settings.length_range
  lines = [
      "# Random weight guessing (Hochreiter, Schmidhuber & Bengio 2001)", "",
      f"Weights i.i.d. U[{lo:g}, {hi:g}]; {settings.runs} runs per "
      f"configuration, each with its own {2 * settings.n_per_class} training "
      f"and {2 * settings.test_per_class} test sequences (lengths {a}..{b}); "
      f"a run is censored after {settings.max_trials:,} draws. Trial "
      "statistics are over solved runs; `per solution` = all draws / solved "
      "runs (censored runs' draws included). Test error: mean over solved "
      f"runs, under the run's criterion (`tolerance`: |y - d| >= "
      f"{settings.tolerance:g}; `midpoint`: wrong side of the targets' "
      f"midpoint). Unit updates: {settings.order}; parity's hidden units "
      f"{settings.hidden_fn}; A2's output unit "
      f"{'with' if settings.a2_output_self else 'without'} a self-weight "
      "(`--hidden_fn`, `--a2_output_self`).", "",
      "Published: HS2001's mean trials to solution (40 runs each for the "
      "latch; no spread given), from the 2001 paper's web version at IDSIA "
      "(sources below). " + RULE + " `floor` marks a mean over solved runs "
      "when some runs were censored.", "",
      "| variant | noise | params | criterion | solved / runs | mean +- SE "
      "| published | verdict | median | quartiles | max | per solution "
      "| test error |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  pubs = published_rows(table)
  for i in range(len(table["variant"])):
    g = lambda c: table[c][i]
    mean, median, q25, q75, top, per, err = _stats(table, i)
    se = statistics.fmt(table["trials_se"][i], ",.0f")
    floor = " (floor)" if table["censored"][i] else ""
    p = pubs[i]
    pub = "-" if p["published"] is None else f"{p['published']:,.0f}"
    lines.append(
        f"| {g('variant')} | {g('input_noise')} | {g('params')} | "
        f"{g('criterion')} | {g('solved')} / {g('runs')} | {mean} +- {se}"
        f"{floor} | {pub} | {p['verdict']} | {median} | {q25} - {q75} | "
        f"{top} | {per} | {err} |")
  notes = [f"- {table['variant'][i]}, {table['input_noise'][i]} noise: "
           f"{p['why']}" for i, p in enumerate(pubs) if p["why"]]
  if notes:
    lines += ["", "Why the differing rows differ:", ""] + notes
  srcs = sorted({p["source"] for p in pubs if p["source"]})
  if srcs:
    lines += ["", "Sources: " + "; ".join(srcs) + "."]
  return "\n".join(lines) + "\n"


def summary_text(table, settings: Settings, timing) -> str:
  """The summary as the text table the command prints."""
  lines = [f"guessing: {len(table['variant'])} configurations x {settings.runs} "
           f"runs, censored at {settings.max_trials:,} draws (compile "
           f"{timing.compile_s:.1f} s, run {timing.run_s:.1f} s); trial "
           "statistics over solved runs",
           f"{'variant':17s} {'noise':8s} {'P':>3s} {'criterion':9s} "
           f"{'solved':>6s} {'cens':>4s} {'mean':>9s} {'median':>9s} "
           f"{'q25':>8s} {'q75':>8s} {'max':>9s} {'per sol':>9s} {'test err':>8s} "
           f"{'SE':>7s} {'published':>9s}  verdict"]
  pubs = published_rows(table)
  for i in range(len(table["variant"])):
    g = lambda c: table[c][i]
    stats = " ".join(f"{x:>{w}s}" for x, w in zip(_stats(table, i),
                                                 (9, 9, 8, 8, 9, 9, 8)))
    lines.append(
        f"{g('variant'):17s} {g('input_noise'):8s} {g('params'):3d} "
        f"{g('criterion'):9s} {g('solved'):6d} {g('censored'):4d} {stats} "
        f"{statistics.fmt(g('trials_se'), ',.0f'):>7s} "
        f"{'-' if pubs[i]['published'] is None else format(pubs[i]['published'], ',.0f'):>9s}"
        f"  {pubs[i]['verdict']}")
  lines.append(RULE.replace("*", ""))
  return "\n".join(lines)
