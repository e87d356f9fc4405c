"""The comparison's report: Table I as Markdown, and its figure.

:func:`markdown` lays the per-(problem, method, T) summary of
:mod:`vanishing.experiments.compare` out as the paper's Table I, with the
paper's quoted numbers beside ours; :func:`figure` draws final training error
and function evaluations against the span T.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vanishing import problems, statistics

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
# Where each quote is printed, and what its "trials" count (the sections of
# a preset's ``quotes``).
QUOTE_SOURCES = {
    ("latch", None): (
        "Hochreiter, Schmidhuber & Bengio (2001), guessing2001/node3.html, on "
        "latch variant I (one tanh unit, one free recurrent weight, one free "
        "initial input per class, targets +-0.8, Gaussian noise of variance "
        "0.2 on every element but the first): \"better than the 1600 trials "
        "reported in Bengio et al. (1994) with several methods\". Their own "
        "trial is one weight draw run over the training set, so the 1,600 is "
        "read as passes over the training set; the 1994 paper's own unit and "
        "training-set size are not available to us."),
    ("parity", "discrete"): (
        "Hochreiter, Schmidhuber & Bengio (2001), guessing2001/node4.html: "
        "\"For sequences with lengths between only 25 and 50 steps [...] A "
        "method called discrete error BP took about 54000 trials to achieve "
        "final classification error of 0.05\"; uniform noise in [-0.2, 0.2], "
        "one hidden and one output unit. Read as the paper's Table I pair: "
        "mean final classification error and mean evaluations over trials."),
}
# Quotes that pair a final error with the evaluations spent (Table I's
# columns): the quoted error. Their section covers every problem of the
# quote's task (parity: the tanh net and the threshold net) and all trials.
QUOTED_ERROR = {("parity", "discrete"): 0.05}
# Methods left out of a quote section's pooled row: random guessing is the
# 2001 paper's baseline, not one of the 1994 methods a quote is about.
BASELINES = ("guessing",)
# The agreement rule of a quote section: the quoted number lies within this
# factor of our pooled mean evaluations to solution (an "about" number from
# an unknown protocol: same order, not same value).
AGREE_FACTOR = 3.0


def markdown(table: dict[str, np.ndarray], settings: Settings,
             records: dict[str, np.ndarray] | None = None) -> str:
  """Table I of the paper: final error and evaluations, methods x problems;
  with ``records`` (one row per trial), a section per ``settings.quotes``."""
  Ts = sorted(set(table["T"].tolist()))
  t = settings.trials
  lines = [
      "# Training methods compared (Bengio, Simard & Frasconi 1994, Table I)",
      "",
      f"{t.count} trials per cell; budget {t.budget:,} function evaluations "
      f"(one = cost over the {2 * t.n_per_class} training sequences), stuck "
      f"after {t.patience:,} without improvement; solved = no training "
      f"error and cost < {t.target_cost:g}. "
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
  if records is not None:
    lines += quote_sections(records, settings)
  return "\n".join(lines)


def _solved_mean(ev: np.ndarray) -> tuple[float, float]:
  """Mean and standard error (nan below two values) of ``ev``."""
  if not len(ev):
    return np.nan, np.nan
  return float(ev.mean()), float(statistics.se(ev))


def _num(x: float) -> str:
  return f"{x:,.0f}" if abs(x) >= 10 else f"{x:.1f}"


def _cell(ev: np.ndarray, solved: np.ndarray) -> str:
  mean, se = _solved_mean(ev[solved])
  frac = f"({solved.sum()}/{len(solved)} = {solved.mean():.2f})"
  if np.isnan(mean):
    return f"none solved {frac}"
  return (_num(mean) + ("" if np.isnan(se) else f" +- {_num(se)}")
          + f" {frac}")


def quote_counts(records: dict[str, np.ndarray], key: tuple
                 ) -> list[tuple[str, object, np.ndarray, np.ndarray]]:
  """``(method, T or "pooled", evaluations, solved)`` per method of the
  quote's problem (only its method, if it names one) and per T, then pooled
  over T; then, of several methods, "pooled methods" (all but
  ``BASELINES``) pooled. Empty where the problem was not run."""
  p, m = key
  sel = records["problem"] == p
  if m is not None:
    sel &= records["method"] == m
  if not sel.any():
    return []
  ev = records["evaluations"].astype(np.float64)
  ok = records["solved"].astype(bool)
  out = []
  meths = list(dict.fromkeys(records["method"][sel]))
  for meth in meths:
    s = sel & (records["method"] == meth)
    for T in sorted(set(records["T"][s].tolist())):
      t = s & (records["T"] == T)
      out.append((meth, int(T), ev[t], ok[t]))
    out.append((meth, "pooled", ev[s], ok[s]))
  pool = sel & ~np.isin(records["method"], BASELINES)
  if len([m for m in meths if m not in BASELINES]) > 1:
    out.append((f"pooled methods (no {', '.join(BASELINES)})", "pooled",
                ev[pool], ok[pool]))
  return out


def agrees(mean: float, quoted: float, factor: float = AGREE_FACTOR) -> str:
  if np.isnan(mean):
    return "no (none solved)"
  r = mean / quoted
  word = "yes" if 1 / factor <= r <= factor else "no"
  return f"{word} (x{r:.2g})"


def quote_sections(records: dict[str, np.ndarray], settings: Settings
                   ) -> list[str]:
  """A section per quote of ``settings.quotes``: per method, the mean
  function evaluations to solution of the solved trials +- its standard
  error and the fraction solved, per T and pooled over T, beside the
  quoted number, with the agreement rule."""
  lines, t = [], settings.trials
  n = 2 * t.n_per_class
  for key in settings.quotes:
    if key in QUOTED_ERROR:
      lines += error_section(records, settings, key)
      continue
    rows = quote_counts(records, key)
    what, value = PAPER_QUOTES[key]
    p, m = key
    Ts = sorted({r[1] for r in rows if r[1] != "pooled"})
    lines += [f"## The {p} count at the paper's setting"
              + (f" (preset {settings.preset})" if settings.preset else ""), "",
              f"Paper: {what}, about {value:,.0f}. Source: "
              f"{QUOTE_SOURCES.get(key, 'the spec, section 5')}", "",
              f"Ours: a trial is one training run of a method from its "
              f"own initial point; its count is function evaluations, one = "
              f"the cost over the {n} training sequences (a pass); sequence "
              f"presentations = evaluations x {n}. Mean evaluations to "
              f"solution over the solved trials only (budget "
              f"{t.budget:,}, stuck after {t.patience:,} without "
              f"improvement; solved = no training sequence misclassified and "
              f"cost < {t.target_cost:g}), +- its standard error, and "
              f"(solved/trials = fraction). Noise {settings.noise_kind} "
              f"{settings.noise_scale:g}; lengths uniform in [T/2, T].", "",
              f"Rule: ours agrees when the quoted {value:,.0f} lies within a "
              f"factor {AGREE_FACTOR:g} of our pooled mean evaluations (x: "
              "ours / paper); the last column applies the rule to "
              "presentations, in case the paper counted sequences.", ""]
    if not rows:
      lines += ["not run", ""]
      continue
    lines += ["| method | " + " | ".join(f"T = {T}" for T in Ts)
              + " | pooled over T | presentations (pooled) | paper "
              "| agrees | as presentations |", "|---|" + "---|" * (len(Ts) + 5)]
    by = {}
    for meth, T, ev, ok in rows:
      by.setdefault(meth, {})[T] = (ev, ok)
    for meth, cells in by.items():
      ev, ok = cells["pooled"]
      mean, _ = _solved_mean(ev[ok])
      pres = "" if np.isnan(mean) else f"{mean * n:,.0f}"
      lines.append(f"| {meth} | " + " | ".join(
          _cell(*cells[T]) if T in cells else "" for T in Ts)
          + f" | {_cell(ev, ok)} | {pres} | {value:,.0f} | "
          f"{agrees(mean, value)} | {agrees(mean * n, value)} |")
    lines.append("")
  return lines


def error_rows(records: dict[str, np.ndarray], key: tuple) -> list[dict]:
  """Per (problem of the quote's task, method, T): the final training
  error's mean and standard error, the test error, the evaluations' mean,
  standard error and median over all trials, and the solved fraction."""
  task, _ = key
  ours = np.asarray([problems.REGISTRY[p].task.name == task
                     for p in records["problem"]], bool)
  rec = {k: np.asarray(v)[ours] for k, v in records.items()}
  out = []
  for (p, m, T), sel in statistics.groups(rec, ("problem", "method", "T")):
    err = rec["final_error"][sel].astype(np.float64)
    ev = rec["evaluations"][sel].astype(np.float64)
    out.append({"problem": p, "method": m, "T": int(T), "trials": len(err),
                "error": err.mean(), "error_se": statistics.se(err),
                "test_error": rec["test_error"][sel].mean(),
                "evaluations": ev.mean(), "evaluations_se": statistics.se(ev),
                "median": float(np.median(ev)),
                "solved": rec["solved"][sel].astype(bool).mean()})
  return out


def error_agrees(mean: float, se: float, quoted: float) -> str:
  """Agrees when the quoted error lies within our mean +- 3 standard
  errors."""
  lo, hi = mean - 3 * se, mean + 3 * se
  word = "yes" if lo <= quoted <= hi else "no"
  return f"{word} ({mean:.3f} +- {3 * se:.3f})"


def error_section(records: dict[str, np.ndarray], settings: Settings,
                  key: tuple) -> list[str]:
  """A quote of a final error and the evaluations spent: our mean final
  training error and mean evaluations (all trials) per problem of the
  quote's task, method and T, beside the quoted pair."""
  what, value = PAPER_QUOTES[key]
  t = settings.trials
  err_q, n = QUOTED_ERROR[key], 2 * t.n_per_class
  rows = error_rows(records, key)
  lines = [f"## The {key[0]} result of {key[1]} at the paper's setting"
           + (f" (preset {settings.preset})" if settings.preset else ""), "",
           f"Paper: {key[1]} reached a final classification error of "
           f"{err_q:g} in about {value:,.0f} trials. Source: "
           f"{QUOTE_SOURCES[key]}", "",
           f"Ours, over all trials: mean final training error +- standard "
           f"error, mean test error ({2 * t.test_per_class} test "
           f"sequences), mean function evaluations +- standard error (median; "
           f"one evaluation = a pass over the {n} training sequences; "
           f"presentations = evaluations x {n}) and the fraction solved "
           f"(budget {t.budget:,}, stuck after {t.patience:,} "
           f"without improvement). Rules: the error agrees when {err_q:g} "
           f"lies within our mean +- 3 standard errors; the evaluations when "
           f"{value:,.0f} lies within a factor {AGREE_FACTOR:g} of our mean "
           "(x: ours / paper), as passes or as presentations.", ""]
  if not rows:
    return lines + ["not run", ""]
  lines += ["| problem | method | T | training error | test error | "
            "evaluations (median) | presentations | solved | error agrees | "
            "evaluations agree | as presentations |", "|" + "---|" * 11]
  for r in rows:
    lines.append(
        f"| {r['problem']} | {r['method']} | {r['T']} | {r['error']:.3f} +- "
        f"{r['error_se']:.3f} | {r['test_error']:.3f} | "
        f"{r['evaluations']:,.0f} +- {r['evaluations_se']:,.0f} "
        f"({r['median']:,.0f}) | {r['evaluations'] * n:,.0f} | "
        f"{r['solved']:.2f} | {error_agrees(r['error'], r['error_se'], err_q)}"
        f" | {agrees(r['evaluations'], value)} | "
        f"{agrees(r['evaluations'] * n, value)} |")
  return lines + [""]


def quote_lines(records: dict[str, np.ndarray], settings: Settings
                ) -> list[str]:
  """The pooled counts of each quote section, one line per method (what
  the command prints)."""
  out = []
  for key in settings.quotes:
    what, value = PAPER_QUOTES[key]
    if key in QUOTED_ERROR:
      out.append(f"{key[0]} {key[1]} (paper: error {QUOTED_ERROR[key]:g} in "
                 f"about {value:,.0f} trials):")
      for r in error_rows(records, key):
        out.append(f"  {r['problem']:12s} {r['method']:10s} T = {r['T']}: "
                   f"error {r['error']:.3f} +- {r['error_se']:.3f}, "
                   f"evaluations {r['evaluations']:,.0f} +- "
                   f"{r['evaluations_se']:,.0f}, solved {r['solved']:.2f}")
      continue
    out.append(f"{key[0]}: mean evaluations to solution of solved trials, "
               f"pooled over T (paper: about {value:,.0f}):")
    for meth, T, ev, ok in quote_counts(records, key):
      if T == "pooled":
        out.append(f"  {meth:28s} {_cell(ev, ok)}  agrees: "
                   f"{agrees(_solved_mean(ev[ok])[0], value)}")
  return out


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
