"""The LSTM paper's own forms of the 2-sequence and the adding problems.

Hochreiter & Schmidhuber 1997, "Long short-term memory", Neural
Computation 9:1735-1780. Both draw lengths uniform on ``T..T + floor(T/10)``
(the ``tenth`` law: T is the *minimal* length) and score an output read at
the sequence's end against a tolerance; both are replayed on the paper's
protocol by ``vanishing.experiments.remedies.replay``.

**Experiment 3a, Bengio et al.'s 2-sequence problem** (``two_sequence_1997``;
"noise and signal on the same channel"). One input line; two classes of
probability 1/2 (here: ``n_per_class`` of each). The first ``N`` elements
are 1.0 for class 1 and -1.0 for class 2 (our classes 0 and 1), every later
element is Gaussian noise of mean 0 and variance 0.2; the target at the end
is 1.0 for class 1 and 0.0 for class 2, and a sequence is classified
correctly when the absolute error at its end is below 0.2 (unlike the
1994 problem's midpoint rule, ``tasks.paper``).

**Experiment 4, the adding problem** (``adding_1997``). Pairs ``(x_t,
m_t)``: ``x_t`` uniform on [-1, 1]; the marker ``m_t`` is 1.0 at two steps,
-1.0 at the first and the last step unless marked there, 0 elsewhere. The
first marked step is one of the first ten (``X_1``), the second one of the
first ``T/2 - 1`` steps still unmarked (``X_2``); a marked first step has
its value set to 0. The target is ``0.5 + (X_1 + X_2)/4`` (the sum scaled to
[0, 1]), processed correctly when ``|y - d| < 0.04``. For spans below 20
(tests) the "first ten" becomes the first ``min(10, floor(T/2))`` steps and
``T/2`` is ``floor(T/2)``. Its memoryless predictor ``y = 0.5`` costs
``Var(d)/2 = (2/3 / 16)/2 = 1/48`` (up to the rare zeroed ``X_1``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from vanishing.tasks.followed import Adding
from vanishing.tasks.protocol import (Noise, SequenceBatch, Task,
                                      draw_lengths, length_mask)

# The paper's rules: 2-sequence noise variance and tolerance, adding
# tolerance.
NOISE_VARIANCE = 0.2
TWO_SEQUENCE_TOLERANCE = 0.2
ADDING_TOLERANCE = 0.04


def two_sequence_1997(key: jax.Array, n_per_class: int, min_len, max_len,
                      N: int = 1, targets: tuple[float, float] = (1.0, 0.0),
                      size: int | None = None) -> SequenceBatch:
  """``n_per_class`` sequences of each class (module docstring), lengths
  uniform on ``min_len..max_len`` (may be traced with ``size``), inputs
  ``(size, B)``, 0 after each end."""
  if isinstance(min_len, int) and not 1 <= N <= min_len:
    raise ValueError(f"need 1 <= N <= min_len, got N={N}, min_len={min_len}")
  k_len, k_noise = jax.random.split(key)
  classes = jnp.repeat(jnp.arange(2, dtype=jnp.int32), n_per_class)
  n = classes.shape[0]
  lengths = draw_lengths(k_len, n, min_len, max_len)
  steps = max_len if size is None else size
  sign = jnp.where(classes == 0, 1.0, -1.0)
  noise = Noise("gaussian", NOISE_VARIANCE).sample(k_noise, (steps, n))
  x = jnp.where(jnp.arange(steps)[:, None] < N, sign[None], noise)
  d = jnp.asarray(targets)[classes]
  return SequenceBatch(x * length_mask(lengths, steps), d, lengths, classes)


def adding_1997(key: jax.Array, n_per_class: int, min_len, max_len,
                size: int | None = None) -> SequenceBatch:
  """``2 n_per_class`` adding sequences of the paper's form (module
  docstring), lengths uniform on ``min_len..max_len`` (>= 4; may be
  traced with ``size``), inputs ``(size, B, 2)``, 0 after each end."""
  if isinstance(min_len, int) and min_len < 4:
    raise ValueError(f"adding_1997 needs T >= 4, got {min_len}")
  k_len, k_val, k_1, k_2 = jax.random.split(key, 4)
  n = 2 * n_per_class
  lengths = draw_lengths(k_len, n, min_len, max_len)
  steps = max_len if size is None else size
  half = jnp.asarray(min_len) // 2
  i = jax.random.randint(k_1, (n,), 0, jnp.minimum(10, half), dtype=jnp.int32)
  r = jax.random.randint(k_2, (n,), 0, half - 1, dtype=jnp.int32)
  j = r + (r >= i)                  # the r-th of the first half-1 unmarked
  t = jnp.arange(steps)[:, None]
  marked = (t == i[None]) | (t == j[None])
  live = length_mask(lengths, steps) > 0
  ends = (t == 0) | (t == lengths[None] - 1)
  marks = jnp.where(marked, 1.0, jnp.where(ends, -1.0, 0.0)) * live
  values = jax.random.uniform(k_val, (steps, n), minval=-1.0, maxval=1.0)
  values = jnp.where((t == 0) & marked, 0.0, values) * live
  cols = jnp.arange(n)
  targets = 0.5 + (values[i, cols] + values[j, cols]) / 4.0
  return SequenceBatch(jnp.stack([values, marks], axis=-1), targets, lengths,
                       jnp.zeros((n,), jnp.int32))


@dataclasses.dataclass(frozen=True)
class TwoSequence1997(Task):
  """Experiment 3a's 2-sequence problem: targets 1/0, a sequence right when
  ``|y - d| < tolerance``, lengths ``tenth``, its own noise law."""
  name: str = "two_sequence_1997"
  generator: Callable[..., SequenceBatch] = two_sequence_1997
  targets: tuple[float, float] = (1.0, 0.0)
  options: tuple = (("N", 1),)
  min_len_option: str | None = "N"
  lengths: str = "tenth"
  tolerance: float = TWO_SEQUENCE_TOLERANCE

  def sample(self, key: jax.Array, n_per_class: int, min_len, max_len,
             noise: Noise = Noise(), size: int | None = None
             ) -> SequenceBatch:
    """As ``Task.sample``; ``noise`` does not apply (the paper's Gaussian
    of variance 0.2 is part of the task)."""
    del noise
    return self.generator(key, n_per_class, min_len, max_len,
                          targets=self.targets, size=size,
                          **dict(self.options))

  def misclassified(self, y: jax.Array, targets: jax.Array) -> jax.Array:
    """Per output: ``|y - d| >= tolerance``."""
    return ~(jnp.abs(y - targets) < self.tolerance)


@dataclasses.dataclass(frozen=True)
class Adding1997(Adding):
  """Experiment 4's adding problem (module docstring), lengths ``tenth``."""
  name: str = "adding_1997"
  generator: Callable[..., SequenceBatch] = adding_1997
  lengths: str = "tenth"
  tolerance: float = ADDING_TOLERANCE

  @property
  def min_len(self) -> int:
    return 4

  def baseline(self, T: int) -> float:
    """``y = 0.5``: half the variance of ``(X_1 + X_2)/4``, ``1/48``."""
    del T
    return 1 / 48
