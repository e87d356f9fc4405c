"""The guessing checks of the reproduction regression (benchmarks/regression.py).

Two kinds of pins (Hochreiter, Schmidhuber & Bengio 2001, random guessing):

* ``testing_runs``: per-run outcomes of short sequences (``guessing.TESTING``
  at 40 runs, lengths 8..12), pinned run by run with bands calibrated by a
  last-bit perturbation like every other group of the regression;
* ``reconciled``: the *reconciled* paper-scale means (lengths 500..600, 40
  runs, HS2001's protocol as ``guessing.PAPER`` reads it) of the cheap
  configurations with a published mean: latch I, latch II, parity A1 and A2
  without hidden self-connections (A2 itself, ~2 minutes, and A1 with noise
  are left out). These are the rows of ``guessing --paper --subset
  published`` (same seed, same keys), pinned with a band of ``SE_BANDS``
  standard errors of their own 40 runs: a change of protocol that moves a
  mean by more than its sampling error fails, a new draw of the same
  protocol (another key derivation) passes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# Standard errors either side of a reconciled mean.
SE_BANDS = 4.0
RECONCILED_CONFIGS = (("latch1", "gaussian"), ("latch2", "gaussian"),
                      ("parity_a1", "none"), ("parity_a2_noself", "none"))


def testing_settings():
  """Latch I and parity A1 (with noise) at a size where both solve (most
  runs; with logistic hidden units A1 needs ~9,000 draws on average here)."""
  from vanishing.experiments import guessing
  return dataclasses.replace(guessing.TESTING, runs=40, max_trials=12_000)


def testing_runs(perturb: bool = False):
  """Per configuration of ``testing_settings``: ``(name, solved bits, log10
  draws (censored runs at the censoring point), log10 max_trials)``."""
  from vanishing.experiments import guessing
  st = testing_settings()
  if perturb:
    st = dataclasses.replace(st, block=2)
  pieces = list(guessing.run(st)[1])  # one configuration's chunk each
  out = []
  for v, noise in st.configurations():
    mine = [p for p in pieces if len(p["run"]) and p["variant"][0] == v
            and p["input_noise"][0] == noise]
    column = lambda k: np.concatenate([np.asarray(p[k]) for p in mine])
    out.append((f"guessing[{v},{noise}]", column("solved").astype(bool),
                np.log10(column("trials").astype(np.float64)),
                math.log10(st.max_trials)))
  return out


def reconciled_settings():
  """``guessing.PAPER`` restricted to ``RECONCILED_CONFIGS``."""
  from vanishing.experiments import guessing
  return dataclasses.replace(
      guessing.PAPER, subset="published", input_noise="none",
      variants=tuple(dict.fromkeys(v for v, _ in RECONCILED_CONFIGS)))


def reconciled():
  """``(name, mean trials, band, why)`` per reconciled configuration: the
  mean over 40 runs, banded by ``SE_BANDS`` standard errors."""
  from vanishing.experiments import guessing
  st = reconciled_settings()
  assert set(st.configurations()) == set(RECONCILED_CONFIGS)
  table = guessing.run(st)[0]
  out = []
  for i in range(len(table["variant"])):
    v, n = str(table["variant"][i]), str(table["input_noise"][i])
    if table["censored"][i]:
      raise RuntimeError(f"reconciled guessing {v},{n}: a run was censored")
    se = float(table["trials_se"][i])
    out.append((f"guessing[paper,{v},{n}].trials_mean",
                float(table["trials_mean"][i]), SE_BANDS * se,
                f"sampling: {SE_BANDS:g} SE of {int(table['runs'][i])} runs "
                f"(SE {se:.3g}), lengths 500..600"))
  return out
