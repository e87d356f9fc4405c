"""Task generators: pure functions of a PRNG key and static sizes.

The minimal latch task (Bengio, Simard & Frasconi 1994, Section III): two
classes of sequences of length T. Only the first L inputs carry the class, and
in this task they are not data but trainable parameters ``h_1..h_L`` (one set
per class), standing for the output of an upstream system. Inputs L+1..T are
i.i.d. Gaussian noise of variance ``s``. The target at the end is +0.8 for
class 0 and -0.8 for class 1.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

TARGET = 0.8


class LatchBatch(NamedTuple):
  """A batch of minimal-latch-task sequences, time-major.

  Attributes:
    noise: ``(T, 2n)`` external input: 0 for t < L, N(0, s) for t >= L.
    classes: ``(2n,)`` int32 class labels, n of class 0 then n of class 1.
    targets: ``(2n,)`` +0.8 for class 0, -0.8 for class 1.
  """
  noise: jax.Array
  classes: jax.Array
  targets: jax.Array


def latch_minimal(key: jax.Array, n_per_class: int, T: int, L: int,
                  s: jax.Array | float) -> LatchBatch:
  """Draws a training (or test) set of the minimal latch task.

  Args:
    key: PRNG key.
    n_per_class: sequences per class (static).
    T: sequence length (static).
    L: number of leading, class-carrying steps (static), 1 <= L < T.
    s: noise variance (may be traced, so it can be swept).

  Returns:
    A ``LatchBatch``; the model input at step t is
    ``noise[t] + (t < L) * h[classes, t]``.
  """
  if not 1 <= L < T:
    raise ValueError(f"need 1 <= L < T, got L={L}, T={T}")
  n = 2 * n_per_class
  z = jax.random.normal(key, (T - L, n))
  noise = jnp.concatenate([jnp.zeros((L, n)), jnp.sqrt(s) * z], axis=0)
  classes = jnp.repeat(jnp.arange(2, dtype=jnp.int32), n_per_class)
  targets = jnp.where(classes == 0, TARGET, -TARGET)
  return LatchBatch(noise, classes, targets)


def latch_inputs(h: jax.Array, batch: LatchBatch) -> jax.Array:
  """Full input sequences ``(T, 2n)``: trainable ``h`` (2, L) plus the noise."""
  T = batch.noise.shape[0]
  L = h.shape[1]
  h_full = jnp.pad(h, ((0, 0), (0, T - L)))  # (2, T), zero after step L
  return batch.noise + h_full[batch.classes].T
