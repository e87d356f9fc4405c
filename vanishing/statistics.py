"""The statistics every experiment reports, in one place.

* :func:`wilson`: a success frequency with its standard error and the
  Wilson (1927) score interval, which stays inside [0, 1] and is not
  degenerate at 0 or 1:

      centre = (p + z^2/2n) / (1 + z^2/n),
      half   = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n);

* :func:`groups`: group-by over per-run records (columns of equal length),
  the groups in order of first appearance;
* :func:`sd`, :func:`quiet_nanmean`, :func:`quiet_nanmedian`: spreads and
  means that are NaN, without a warning, where they are undefined;
* :func:`fmt`: one number as a table cell ("-" where undefined).
"""

from __future__ import annotations

import math
import warnings
from typing import Iterator, Mapping, Sequence

import numpy as np


def wilson(k, n, z: float = 1.96):
  """Point estimate, standard error and Wilson score interval of k/n.

  Args:
    k: successes (array). n: trials (array, > 0). z: normal quantile
      (1.96 for 95%).

  Returns:
    ``(p, se, lo, hi)`` with ``se = sqrt(p (1 - p) / n)``.
  """
  k, n = np.asarray(k, float), np.asarray(n, float)
  p = k / n
  se = np.sqrt(p * (1 - p) / n)
  denom = 1 + z ** 2 / n
  centre = (p + z ** 2 / (2 * n)) / denom
  half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / denom
  return p, se, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def groups(records: Mapping[str, np.ndarray], keys: Sequence[str]
           ) -> Iterator[tuple[tuple, np.ndarray]]:
  """``(key values, boolean row mask)`` per distinct combination of the
  ``keys`` columns, in order of first appearance."""
  cols = [np.asarray(records[k]) for k in keys]
  for values in dict.fromkeys(zip(*cols)):
    sel = np.ones(len(cols[0]), bool)
    for c, v in zip(cols, values):
      sel &= c == v
    yield values, sel


def sd(x) -> float:
  """Sample standard deviation (ddof 1); NaN for fewer than two values."""
  x = np.asarray(x)
  return x.std(ddof=1) if len(x) > 1 else math.nan


def se(x) -> float:
  """Standard error of the mean, ``sd(x) / sqrt(n)``; NaN for fewer than
  two values."""
  x = np.asarray(x)
  return sd(x) / math.sqrt(len(x)) if len(x) > 1 else math.nan


def quiet_nanmean(x, axis=None):
  """``nanmean``, NaN without a warning where every value is NaN."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.nanmean(x, axis)


def quiet_nanmedian(x, axis=None):
  """``nanmedian``, NaN without a warning where every value is NaN."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.nanmedian(x, axis)


def fmt(x, spec: str = ",.0f") -> str:
  """``x`` formatted by ``spec``; "-" for None or NaN."""
  undefined = x is None or (isinstance(x, (float, np.floating))
                            and math.isnan(x))
  return "-" if undefined else format(x, spec)


# The rule of :func:`verdict`: standard errors either side of our mean.
SE_BAND = 3.0


def verdict(mean: float, se: float, censored: int,
            published: float | None) -> str:
  """``agrees``, ``differs``, ``undetermined`` or ``no published number``:
  a published mean (its spread unknown: counted as exact) *agrees* when it
  lies within our mean +- ``SE_BAND`` standard errors, and *differs*
  outside. With ``censored`` runs (stopped unsolved) our mean over the
  solved runs is a floor, so the row *differs* only if the floor's lower
  end (mean - SE_BAND SE) is above the published mean, and is
  *undetermined* otherwise; so is a row with one solved run (no SE)."""
  if published is None:
    return "no published number"
  if not math.isfinite(mean):
    return "undetermined"
  band = SE_BAND * se if math.isfinite(se) else math.inf
  if censored:
    return "differs" if mean - band > published else "undetermined"
  if not math.isfinite(band):
    return "undetermined"
  return "agrees" if abs(mean - published) <= band else "differs"
