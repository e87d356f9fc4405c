"""The Lyapunov spectrum as a per-run diagnostic, and trainability against it.

A run's exponents ``lambda_1 >= .. >= lambda_k`` (:func:`vanishing.theory.
lyapunov_exponents`, the QR method of Benettin et al. 1980; Engelken, Wolf &
Abbott 2023) are those of the net driven by its own task's inputs, at the
initial and at the final parameters, each the mean over ``SEQUENCES`` test
sequences evenly spaced through the run's test set (both classes of a
classification task), every sequence counted to its own length:

    lambda_i = (1 / |S|) sum_{s in S} (1 / T_s) sum_{t <= T_s} log |R_t^s[i, i]|.

Finite-time exponents of short sequences need not come out of the QR
method in order (its first direction starts as ``e_1``, not the most
expanding one), so each sequence's are sorted, largest first; the mean of
sorted spectra is sorted. ``lambda_1 < 0``: perturbations, and
so the gradients BPTT carries back, shrink like ``exp(lambda_1 t)``
(Bengio, Simard & Frasconi 1994, Section III: ``|M'(a_bar)| < 1`` as an
exponent); ``lambda_1 > 0``: they grow.

:func:`trainability` bins runs by ``lambda_1`` at the initial parameters and
gives the held-out success probability of each bin with its Wilson interval
(Wilson 1927): what no suite tabulates, trainability against the exponent a
net starts with (Pennington, Schoenholz & Ganguli 2017 and Chen, Pennington
& Schoenholz 2018 tie it to the edge of chaos, ``lambda_1 = 0``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import statistics, theory
from vanishing.experiments import flags

# Test sequences each run's exponents average over.
SEQUENCES = 4

FLAG = flags.integer(
    "leading Lyapunov exponents recorded per run at the initial and final "
    "parameters (lyapunov_init, lyapunov_final; 0: none)", low=0)


def exponents(net, theta: jax.Array, batch, k: int) -> jax.Array:
  """``(k,)``: the leading exponents of ``net`` at ``theta``, the mean over
  ``SEQUENCES`` evenly spaced sequences of ``batch`` (a
  ``tasks.SequenceBatch``), each to its own length (traceable)."""
  B = batch.lengths.shape[0]
  m = min(SEQUENCES, B)
  pick = np.arange(m) * B // m
  one = lambda u, c, n: -jnp.sort(-theory.lyapunov_exponents(
      net, theta, u, c, k=k, length=n))
  return jnp.mean(jax.vmap(one, (1, 0, 0))(
      batch.inputs[:, pick], batch.classes[pick], batch.lengths[pick]), 0)


def names(name: str, k: int) -> tuple[str, ...]:
  """The columns of k exponents: ``name`` (lambda_1), plus ``name_1 ..
  name_k`` when k > 1; none for k = 0."""
  return ((name,) if k else ()) + tuple(
      f"{name}_{i + 1}" for i in range(k if k > 1 else 0))


def columns(name: str, lam: jax.Array) -> dict[str, jax.Array]:
  """:func:`names` -> the exponents ``lam`` (``(..., k)``) as columns."""
  k = lam.shape[-1]
  return dict(zip(names(name, k), [lam[..., 0]] + [lam[..., i]
                                                   for i in range(k)]))


def recurrent_entries(net) -> int:
  """How many leading entries of ``theta`` are the recurrent matrix: ``n^2``
  for the tanh RNN (``cells.Elman``), ``G n^2`` for a gated cell with G
  gate blocks (``cells.gated``); ValueError for another net."""
  if hasattr(net, "recurrent_init"):
    return net.n * net.n
  if hasattr(net, "gates"):
    return net.gates * net.n * net.n
  raise ValueError(f"{type(net).__name__} has no recurrent matrix to scale")


def scale_recurrent(net, theta: jax.Array, gain) -> jax.Array:
  """``theta`` with its recurrent matrix times ``gain`` (may be traced)."""
  R = recurrent_entries(net)
  theta = jnp.asarray(theta)
  return theta.at[:R].multiply(jnp.asarray(gain, theta.dtype))


def trainability(rec, keys: tuple[str, ...], bins: int = 8
                 ) -> dict[str, np.ndarray]:
  """Success probability against the initial largest exponent.

  ``rec`` holds per-run ``lyapunov_init``, a boolean ``success`` and the
  columns ``keys``. The finite exponents are cut into ``bins`` equal bins
  over their whole range (the same edges for every group); one row per
  group of ``keys`` and non-empty bin: its edges, the mean exponent, trials,
  successes, the rate and its Wilson 95% interval ``lo``, ``hi``.
  """
  lam = np.asarray(rec["lyapunov_init"], np.float64)
  ok = np.isfinite(lam)
  if not ok.any():
    raise ValueError("no finite lyapunov_init to bin")
  edges = np.linspace(lam[ok].min(), lam[ok].max(), bins + 1)
  if edges[-1] == edges[0]:
    edges = edges[0] + np.linspace(-0.5, 0.5, bins + 1)
  which = np.clip(np.searchsorted(edges, lam, side="right") - 1, 0, bins - 1)
  rows = []
  for values, sel in statistics.groups({k: rec[k] for k in keys}, keys):
    for b in range(bins):
      here = sel & ok & (which == b)
      n = int(here.sum())
      if not n:
        continue
      k = int(np.asarray(rec["success"])[here].sum())
      rate, _, lo, hi = statistics.wilson(k, n)
      rows.append({**dict(zip(keys, values)), "bin_lo": edges[b],
                   "bin_hi": edges[b + 1], "lyapunov_init": lam[here].mean(),
                   "trials": n, "successes": k, "rate": float(rate),
                   "lo": float(lo), "hi": float(hi)})
  return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}


def figure(table, panels: tuple[str, ...], line: str, labels=None,
           title: str = ""):
  """One panel per value of ``panels``, a line per value of ``line``: the
  success rate (Wilson 95% bars) against the bin's mean initial exponent,
  with ``lambda_1 = 0`` (the edge of chaos) marked."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  groups = list(statistics.groups({k: table[k] for k in panels}, panels))
  fig, axes = plt.subplots(1, len(groups), figsize=(4.4 * len(groups), 4.0),
                           constrained_layout=True, squeeze=False)
  for ax, (values, sel) in zip(axes[0], groups):
    for j, (v, mine) in enumerate(statistics.groups({line: table[line]},
                                                    (line,))):
      s = sel & mine
      x, p = table["lyapunov_init"][s], table["rate"][s]
      bars = np.maximum([p - table["lo"][s], table["hi"][s] - p], 0)
      ax.errorbar(x, p, yerr=bars,
                  marker="o", ms=4, capsize=2, color=f"C{j}",
                  label=(labels or {}).get(v[0], str(v[0])))
    ax.axvline(0.0, color="grey", lw=0.8, ls=":")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("initial largest Lyapunov exponent (nats/step)")
    ax.set_ylabel("held-out success probability")
    ax.set_title(", ".join(f"{k} {v}" for k, v in zip(panels, values)),
                 fontsize=9)
  axes[0][0].legend(fontsize=8)
  if title:
    fig.suptitle(title)
  return fig
