"""The paper's task generators: pure functions of a PRNG key and static sizes.

The minimal latch task (Bengio, Simard & Frasconi 1994, Section III): two
classes of sequences of length T. Only the first L inputs carry the class, and
in this task they are not data but trainable parameters ``h_1..h_L`` (one set
per class), standing for the output of an upstream system. Inputs L+1..T are
i.i.d. Gaussian noise of variance ``s``. The target at the end is +0.8 for
class 0 and -0.8 for class 1 (``TARGET``).

Then the three benchmark problems of Section VI (latch, 2-sequence,
parity) on the task protocol of ``vanishing.tasks.protocol``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from vanishing.tasks.protocol import (TARGET, Noise, SequenceBatch,
                                      draw_lengths, length_mask)


class LatchBatch(NamedTuple):
  """A batch of minimal-latch-task sequences, time-major.

  Attributes:
    noise: ``(T, 2n)`` external input: 0 for t < L, N(0, s) for t >= L.
    classes: ``(2n,)`` int32 class labels, n of class 0 then n of class 1.
    targets: ``(2n,)`` +0.8 for class 0, -0.8 for class 1.
    length: the sequences' length when the arrays hold more steps (drawn
      with ``size``): the latch then stops after ``length`` steps; None
      when every step counts.
  """
  noise: jax.Array
  classes: jax.Array
  targets: jax.Array
  length: jax.Array | None = None


def latch_minimal(key: jax.Array, n_per_class: int, T: int | jax.Array,
                  L: int, s: jax.Array | float, size: int | None = None
                  ) -> LatchBatch:
  """Draws a training (or test) set of the minimal latch task.

  Args:
    key: PRNG key.
    n_per_class: sequences per class (static).
    T: sequence length (static), 1 <= L < T; with ``size`` it may be
      traced (T <= size).
    L: number of leading, class-carrying steps (static).
    s: noise variance (may be traced, so it can be swept).
    size: steps of the arrays, for sweeps in which runs of several lengths
      share one compiled shape. The draw is the first ``T - L`` rows of a
      ``(size - L, 2n)`` normal draw, which JAX's counter-based
      (partitionable) threefry makes the very numbers of a draw at
      ``size = T``; the steps after T are 0 and ``length = T``.

  Returns:
    A ``LatchBatch``; the model input at step t is
    ``noise[t] + (t < L) * h[classes, t]``.
  """
  if size is None and not 1 <= L < T:
    raise ValueError(f"need 1 <= L < T, got L={L}, T={T}")
  n = 2 * n_per_class
  steps = T if size is None else size
  z = jax.random.normal(key, (steps - L, n))
  noise = jnp.concatenate([jnp.zeros((L, n)), jnp.sqrt(s) * z], axis=0)
  length = None
  if size is not None:
    length = jnp.asarray(T, jnp.int32)
    noise = jnp.where(jnp.arange(size)[:, None] < length, noise, 0.0)
  classes = jnp.repeat(jnp.arange(2, dtype=jnp.int32), n_per_class)
  targets = jnp.where(classes == 0, TARGET, -TARGET)
  return LatchBatch(noise, classes, targets, length)


def latch_inputs(h: jax.Array, batch: LatchBatch) -> jax.Array:
  """Full input sequences ``(T, 2n)``: trainable ``h`` (2, L) plus the noise.

  For a block of runs on the lanes, ``h`` is (2, L, B), the batch's arrays
  end in B and the result is (T, 2n, B).
  """
  T = batch.noise.shape[0]
  L = h.shape[1]
  h_full = jnp.pad(h, ((0, 0), (0, T - L)) + ((0, 0),) * (h.ndim - 2))
  first = batch.classes[None] == 0  # (1, 2n[, B])
  return batch.noise + jnp.where(first, h_full[0][:, None], h_full[1][:, None])


# ---------------------------------------------------------------------------
# The benchmark problems of Section VI: latch, 2-sequence, parity.
#
# Each sequence of a batch has its own length, drawn uniformly from
# [min_len, max_len] (the paper: T/2 .. T); inputs are time-major with
# shape (size, B), size = max_len unless given (a sweep over T pads every T
# to the largest, and the bounds are then traced), zero after each
# sequence's own end, and a network reads its output at that end
# (``cells.run``).

def _classes(n_per_class: int) -> jax.Array:
  return jnp.repeat(jnp.arange(2, dtype=jnp.int32), n_per_class)


def _targets(classes: jax.Array, values: tuple[float, float]) -> jax.Array:
  return jnp.where(classes == 0, values[0], values[1]).astype(jnp.float32)


def latch(key: jax.Array, n_per_class: int, min_len: int, max_len: int,
          noise: Noise = Noise(), targets: tuple[float, float] = (TARGET, -TARGET),
          first: tuple[float, float] | None = None, size: int | None = None
          ) -> SequenceBatch:
  """The latch problem: only the first step carries the class.

  With ``first=None`` (the 3-parameter latch of Section VI) the first input
  is 0 here and the network adds its trainable per-class initial input
  (``cells.Net.class_inputs``); with ``first=(v0, v1)`` (guessing's latch
  variant II) the first input is ``v0`` for class 0 and ``v1`` for class 1.
  Every later step is pure noise; the first step is noise-free.
  """
  k_len, k_noise = jax.random.split(key)
  classes = _classes(n_per_class)
  n = classes.shape[0]
  lengths = draw_lengths(k_len, n, min_len, max_len)
  max_len = max_len if size is None else size
  x = noise.sample(k_noise, (max_len, n)).at[0].set(0.0)
  if first is not None:
    x = x.at[0].set(_targets(classes, first))
  return SequenceBatch(x * length_mask(lengths, max_len), _targets(classes, targets),
                       lengths, classes)


def prototypes(N: int, seed: int = 0) -> jax.Array:
  """The two 2-sequence prototypes, ``(2, N)``, fixed by ``seed``.

  Entries are uniform in [-1, 1]; the second prototype is redrawn until it
  differs from the first by at least 0.5 at some step, so the classes are
  separable from the prefix alone.
  """
  p = jax.random.uniform(jax.random.key(seed), (16, 2, N), minval=-1.0,
                         maxval=1.0)
  gap = jnp.max(jnp.abs(p[:, 0] - p[:, 1]), axis=-1)
  return p[jnp.argmax(gap >= 0.5)]


def two_sequence(key: jax.Array, n_per_class: int, min_len: int, max_len: int,
                 N: int = 3, noise: Noise = Noise(), prototype_seed: int = 0,
                 targets: tuple[float, float] = (TARGET, -TARGET),
                 size: int | None = None) -> SequenceBatch:
  """The 2-sequence problem: the first ``N`` inputs are the class's prototype
  plus noise, every later input is noise only; ``N <= min_len``."""
  if isinstance(min_len, int) and not 1 <= N <= min_len:
    raise ValueError(f"need 1 <= N <= min_len, got N={N}, min_len={min_len}")
  k_len, k_noise = jax.random.split(key)
  classes = _classes(n_per_class)
  n = classes.shape[0]
  lengths = draw_lengths(k_len, n, min_len, max_len)
  max_len = max_len if size is None else size
  proto = jnp.pad(prototypes(N, prototype_seed), ((0, 0), (0, max_len - N)))
  x = proto[classes].T + noise.sample(k_noise, (max_len, n))
  return SequenceBatch(x * length_mask(lengths, max_len), _targets(classes, targets),
                       lengths, classes)


CODINGS = ("pm1", "01")


def parity(key: jax.Array, n_per_class: int, min_len: int, max_len: int,
           noise: Noise = Noise(), targets: tuple[float, float] = (TARGET, -TARGET),
           size: int | None = None, coding: str = "pm1") -> SequenceBatch:
  """The parity problem: +-1 sequences; class 0 has an odd number of +1s.

  Bits are i.i.d. fair; the last bit of each sequence (at its own end) is
  then set so that its parity is its class, which keeps the classes balanced
  without changing the law of the other bits. Noise is added to every bit.
  ``coding`` writes a bit b as ``2b - 1`` (``pm1``, the paper's +-1
  sequences) or as ``b`` (``01``: the coding under which the 7-weight
  threshold net, with no output bias, can compute parity with a margin).
  """
  if coding not in CODINGS:
    raise ValueError(f"coding must be one of {CODINGS}, got {coding!r}")
  k_len, k_bits, k_noise = jax.random.split(key, 3)
  classes = _classes(n_per_class)
  n = classes.shape[0]
  lengths = draw_lengths(k_len, n, min_len, max_len)
  max_len = max_len if size is None else size
  mask = length_mask(lengths, max_len)
  bits = jax.random.bernoulli(k_bits, 0.5, (max_len, n)).astype(jnp.int32)
  is_last = jnp.arange(max_len)[:, None] == (lengths - 1)[None, :]
  before = jnp.sum(bits * mask * (1 - is_last), axis=0)  # +1s before the end
  want_odd = (classes == 0).astype(jnp.int32)
  last = (want_odd - before) % 2
  bits = jnp.where(is_last, last[None, :], bits)
  level = 2.0 * bits - 1.0 if coding == "pm1" else bits.astype(jnp.float32)
  x = level + noise.sample(k_noise, (max_len, n))
  return SequenceBatch(x * mask, _targets(classes, targets), lengths, classes)
