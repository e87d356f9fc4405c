"""The long-lag benchmarks that followed the paper: adding and copying.

**The adding problem** (Hochreiter & Schmidhuber 1997, "Long short-term
memory", Neural Computation 9:1735-1780, experiment 4; in the form of
Arjovsky, Shah & Bengio 2016, "Unitary evolution recurrent neural
networks", ICML, Section 4.2). Two input channels, ``inputs (L, B, 2)``:
channel 0 holds values ``x_t ~ U[0, 1]`` i.i.d., channel 1 is a marker with
exactly two 1s, at a step ``i`` uniform in the first half of the sequence
(``0 <= i < floor(L/2)``) and a step ``j`` uniform in the second half
(``floor(L/2) <= j < L``). The target at the end is the sum of the two
marked values, ``d = x_i + x_j`` (a regression), scored as the paper's
tasks are,

    C = 1/(2B) sum_b (y_b - d_b)^2     (half the mean squared error),

and a sequence is wrong when ``|y_b - d_b| >= 0.04`` (HS97's criterion).
The memoryless predictor ``y = 1`` (the mean of ``d``) has mean squared
error ``Var(x_i + x_j) = 2/12 = 1/6``, so cost ``1/12`` (``baseline``).
Lengths: ``fixed`` (default: every sequence of a span-T set has T steps,
Arjovsky's form) or ``tenth`` (HS97: uniform on T..T + floor(T/10));
``Adding().with_lengths("tenth")``.

**The copying problem** (Arjovsky, Shah & Bengio 2016, Section 4.1). An
alphabet of 8 data symbols ``1..8``, the blank ``0`` and the delimiter
``9``; inputs one-hot ``(L, B, 10)``. A sequence of span T has
``L = T + 20`` steps: 10 data symbols drawn uniformly, ``T - 1`` blanks,
the delimiter (at step ``T + 9``), 10 blanks. The target is the blank at
steps ``0..T+9`` and the 10 data symbols, in order, at steps
``T+10..T+19``: one target at every step (readout ``every``). A cell's
outputs are logits ``(L, B, K)`` with ``K = OUTPUTS = 9`` (blank and the 8
data symbols: the delimiter is never a target; any ``K >= 9`` is scored on
its first 9 indices as symbols); the cost is the mean cross-entropy over
every step of every sequence,

    C = (1 / sum_b L_b) sum_b sum_t -log softmax(y_{t,b})[d_{t,b}],

and a sequence is wrong when the argmax of any of its last 10 outputs is
not the target symbol. The memoryless predictor (blank with probability 1
for the first ``T + 10`` steps, uniform over the 8 data symbols for the
last 10) costs ``10 log 8 / (T + 20)`` (``baseline``). "Span T" is the
delay: the generator's length bounds are spans, the arrays have
``size + 20`` steps and ``batch.lengths`` holds ``T + 20`` (real steps).
Lengths: ``fixed`` by default (Arjovsky's form; another law draws each
sequence's own delay).

Neither task uses the input noise law (their inputs are their data) nor
classes (``classes`` is all 0).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp

from vanishing.tasks.protocol import (Noise, SequenceBatch, Task,
                                      draw_lengths, length_mask)

# HS97's criterion: an adding output is wrong when |y - d| >= TOLERANCE.
TOLERANCE = 0.04
# The copying problem: symbols copied, data symbols, blank, delimiter,
# input channels, output classes (blank + data symbols).
COPY = 10
SYMBOLS = 8
BLANK = 0
DELIMITER = SYMBOLS + 1
CHANNELS = SYMBOLS + 2
OUTPUTS = SYMBOLS + 1


def adding(key: jax.Array, n_per_class: int, min_len, max_len,
           size: int | None = None) -> SequenceBatch:
  """``2 * n_per_class`` adding sequences (module docstring), lengths
  uniform on ``min_len..max_len`` (>= 2; may be traced with ``size``),
  ``inputs (size, B, 2)`` (``size = max_len`` unless given), 0 after each
  end."""
  if isinstance(min_len, int) and min_len < 2:
    raise ValueError(f"adding needs sequences of >= 2 steps, got {min_len}")
  k_len, k_val, k_i, k_j = jax.random.split(key, 4)
  n = 2 * n_per_class
  lengths = draw_lengths(k_len, n, min_len, max_len)
  steps = max_len if size is None else size
  half = lengths // 2
  i = jax.random.randint(k_i, (n,), 0, half, dtype=jnp.int32)
  j = jax.random.randint(k_j, (n,), half, lengths, dtype=jnp.int32)
  live = length_mask(lengths, steps)
  values = jax.random.uniform(k_val, (steps, n)) * live
  t = jnp.arange(steps)[:, None]
  marks = ((t == i[None]) | (t == j[None])).astype(values.dtype)
  cols = jnp.arange(n)
  targets = values[i, cols] + values[j, cols]
  return SequenceBatch(jnp.stack([values, marks], axis=-1), targets, lengths,
                       jnp.zeros((n,), jnp.int32))


def copying(key: jax.Array, n_per_class: int, min_span, max_span,
            size: int | None = None) -> SequenceBatch:
  """``2 * n_per_class`` copying sequences (module docstring), delays
  (spans) uniform on ``min_span..max_span`` (may be traced with ``size``);
  one-hot ``inputs (size + 20, B, 10)`` (0 after each end), int32
  ``targets (size + 20, B)`` (blank after each end), ``lengths = span +
  20``."""
  k_len, k_sym = jax.random.split(key)
  n = 2 * n_per_class
  spans = draw_lengths(k_len, n, min_span, max_span)
  steps = (max_span if size is None else size) + 2 * COPY
  lengths = spans + 2 * COPY
  data = jax.random.randint(k_sym, (COPY, n), 1, SYMBOLS + 1, dtype=jnp.int32)
  t = jnp.arange(steps)[:, None]
  symbols = jnp.pad(data, ((0, steps - COPY), (0, 0)))
  x = jnp.where(t < COPY, symbols, BLANK)
  x = jnp.where(t == (spans + COPY - 1)[None], DELIMITER, x)
  x = jnp.where(t < lengths[None], x, -1)          # -1: no input after the end
  out = spans[None] + COPY                         # first step of the recall
  recall = jnp.take_along_axis(data, jnp.clip(t - out, 0, COPY - 1), axis=0)
  targets = jnp.where((t >= out) & (t < lengths[None]), recall, BLANK)
  return SequenceBatch(jax.nn.one_hot(x, CHANNELS), targets, lengths,
                       jnp.zeros((n,), jnp.int32))


@dataclasses.dataclass(frozen=True)
class Adding(Task):
  """The adding problem (module docstring): a ``regression`` task read at
  each sequence's end, lengths ``fixed`` unless replaced."""
  name: str = "adding"
  generator: Callable[..., SequenceBatch] = adding
  kind: str = "regression"
  lengths: str = "fixed"
  tolerance: float = TOLERANCE

  @property
  def min_len(self) -> int:
    return 2                      # one marked step in each half

  def sample(self, key: jax.Array, n_per_class: int, min_len, max_len,
             noise: Noise = Noise(), size: int | None = None
             ) -> SequenceBatch:
    """As ``Task.sample``; ``noise`` does not apply (the values are the
    data)."""
    del noise
    return self.generator(key, n_per_class, min_len, max_len, size=size)

  def misclassified(self, y: jax.Array, targets: jax.Array) -> jax.Array:
    """Per output: ``|y - d| >= tolerance``."""
    return ~(jnp.abs(y - targets) < self.tolerance)

  def baseline(self, T: int) -> float:
    """The cost of predicting ``y = 1`` (the mean target): half the variance
    of the sum of two U[0, 1] values, ``(2/12)/2 = 1/12``, whatever T."""
    del T
    return 1 / 12


@dataclasses.dataclass(frozen=True)
class Copying(Task):
  """The copying problem (module docstring): a ``categorical`` task with a
  target at every step, delays ``fixed`` unless replaced."""
  name: str = "copying"
  generator: Callable[..., SequenceBatch] = copying
  readout: str = "every"
  kind: str = "categorical"
  lengths: str = "fixed"

  def steps(self, max_len: int) -> int:
    """Arrays of span ``max_len`` have ``max_len + 20`` steps."""
    return max_len + 2 * COPY

  def sample(self, key: jax.Array, n_per_class: int, min_len, max_len,
             noise: Noise = Noise(), size: int | None = None
             ) -> SequenceBatch:
    """As ``Task.sample`` with the bounds and ``size`` as spans (the arrays
    have ``size + 20`` steps); ``noise`` does not apply."""
    del noise
    return self.generator(key, n_per_class, min_len, max_len, size=size)

  def loss(self, y: jax.Array, targets: jax.Array, mask=None) -> jax.Array:
    """Mean cross-entropy of logits ``y (..., T, B, K)`` against symbols
    ``targets (T, B)``: over every step and sequence, or over the steps a
    ``(T, B)`` ``mask`` marks."""
    logp = jax.nn.log_softmax(y, axis=-1)
    ce = -jnp.take_along_axis(
        logp, jnp.broadcast_to(targets, y.shape[:-1])[..., None], axis=-1)[
            ..., 0]
    if mask is None:
      return jnp.mean(ce, axis=(-2, -1))
    return jnp.sum(mask * ce, axis=(-2, -1)) / jnp.sum(mask)

  def misclassified(self, y: jax.Array, targets: jax.Array) -> jax.Array:
    """Per step: the argmax of the logits is not the target symbol."""
    return jnp.argmax(y, axis=-1) != targets

  def error(self, y: jax.Array, targets: jax.Array, mask=None) -> jax.Array:
    """Fraction of sequences with a wrong recall: the argmax of one of the
    last 10 outputs (the steps whose target is a data symbol) is not it."""
    recall = targets != BLANK
    if mask is not None:
      recall = recall & (mask > 0)
    return jnp.mean(jnp.any(self.misclassified(y, targets) & recall,
                            axis=-2), axis=-1)

  def baseline(self, T: int) -> float:
    """The cost of the memoryless predictor: blank surely for the first
    ``T + 10`` steps (cost 0), uniform over the 8 data symbols for the last
    10 (``log 8`` each): ``10 log 8 / (T + 20)``."""
    return COPY * math.log(SYMBOLS) / (T + 2 * COPY)
