"""Task generators: pure functions of a PRNG key and static sizes.

The minimal latch task (Bengio, Simard & Frasconi 1994, Section III): two
classes of sequences of length T. Only the first L inputs carry the class, and
in this task they are not data but trainable parameters ``h_1..h_L`` (one set
per class), standing for the output of an upstream system. Inputs L+1..T are
i.i.d. Gaussian noise of variance ``s``. The target at the end is +0.8 for
class 0 and -0.8 for class 1.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

TARGET = 0.8


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

NOISE_KINDS = ("none", "uniform", "gaussian")


class Noise(NamedTuple):
  """Input noise law: ``uniform`` on [-scale, scale], ``gaussian`` with
  variance ``scale`` (mean 0), or ``none``. ``kind`` is static; ``scale`` may
  be traced."""
  kind: str = "uniform"
  scale: float | jax.Array = 0.2

  def sample(self, key: jax.Array, shape) -> jax.Array:
    if self.kind == "none":
      return jnp.zeros(shape)
    if self.kind == "uniform":
      return jax.random.uniform(key, shape, minval=-self.scale,
                                maxval=self.scale)
    if self.kind == "gaussian":
      return jnp.sqrt(self.scale) * jax.random.normal(key, shape)
    raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {self.kind!r}")


class SequenceBatch(NamedTuple):
  """A batch of variable-length sequences, time-major.

  Attributes:
    inputs: ``(max_len, B)`` external input, 0 after each sequence's end.
    targets: ``(B,)`` desired output at each sequence's end.
    lengths: ``(B,)`` int32, each in [min_len, max_len].
    classes: ``(B,)`` int32 class labels, ``n_per_class`` of class 0 then of
      class 1.
  """
  inputs: jax.Array
  targets: jax.Array
  lengths: jax.Array
  classes: jax.Array


def half_length(T: int) -> int:
  """The shortest length of a span-T problem, ``ceil(T/2)``."""
  return -(-T // 2)


def draw_lengths(key: jax.Array, n: int, min_len, max_len) -> jax.Array:
  """``n`` lengths uniform on the integers ``min_len..max_len`` (the bounds
  may be traced)."""
  if isinstance(min_len, int) and isinstance(max_len, int) and not (
      1 <= min_len <= max_len):
    raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
  return jax.random.randint(key, (n,), min_len, max_len + 1, dtype=jnp.int32)


def _mask(lengths: jax.Array, max_len: int) -> jax.Array:
  """``(max_len, B)``: 1.0 where step t is inside sequence b."""
  return (jnp.arange(max_len)[:, None] < lengths[None, :]).astype(jnp.float32)


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
  return SequenceBatch(x * _mask(lengths, max_len), _targets(classes, targets),
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
  return SequenceBatch(x * _mask(lengths, max_len), _targets(classes, targets),
                       lengths, classes)


def parity(key: jax.Array, n_per_class: int, min_len: int, max_len: int,
           noise: Noise = Noise(), targets: tuple[float, float] = (TARGET, -TARGET),
           size: int | None = None) -> SequenceBatch:
  """The parity problem: +-1 sequences; class 0 has an odd number of +1s.

  Bits are i.i.d. fair; the last bit of each sequence (at its own end) is
  then set so that its parity is its class, which keeps the classes balanced
  without changing the law of the other bits. Noise is added to every bit.
  """
  k_len, k_bits, k_noise = jax.random.split(key, 3)
  classes = _classes(n_per_class)
  n = classes.shape[0]
  lengths = draw_lengths(k_len, n, min_len, max_len)
  max_len = max_len if size is None else size
  mask = _mask(lengths, max_len)
  bits = jax.random.bernoulli(k_bits, 0.5, (max_len, n)).astype(jnp.int32)
  is_last = jnp.arange(max_len)[:, None] == (lengths - 1)[None, :]
  before = jnp.sum(bits * mask * (1 - is_last), axis=0)  # +1s before the end
  want_odd = (classes == 0).astype(jnp.int32)
  last = (want_odd - before) % 2
  bits = jnp.where(is_last, last[None, :], bits)
  x = (2.0 * bits - 1.0) + noise.sample(k_noise, (max_len, n))
  return SequenceBatch(x * mask, _targets(classes, targets), lengths, classes)


# ---------------------------------------------------------------------------
# The task protocol and its registry.

@dataclasses.dataclass(frozen=True)
class Task:
  """A sequence-classification task: its generator and its rules.

  A task samples ``SequenceBatch(inputs (T, B), targets (B,), lengths (B,),
  classes (B,))`` from a key and static sizes (``sample``; ``mask`` gives
  the ``(T, B)`` mask of the steps inside each sequence), and owns the cost
  and the error of outputs ``y (B,)`` read at each sequence's end (or, with
  ``readout="every"``, ``y (T, B)`` against targets ``(T, B)``, the means
  over the steps inside each sequence, and a sequence misclassified when any
  of its steps is):

      C = 1/(2B) sum_b (y_b - d_b)^2,
      error = fraction of sequences with y_b on the other side of the
              midpoint of the two targets than d_b,

  and the rule that a training set is solved: no sequence misclassified and
  ``C < target_cost`` (the paper's criterion, spec section 3).

  Attributes:
    name: registry name.
    generator: ``(key, n_per_class, min_len, max_len, *, noise, targets,
      size, **options) -> SequenceBatch``.
    targets: the desired outputs of class 0 and class 1.
    options: static keyword arguments of the generator, ``(name, value)``
      pairs (the 2-sequence prefix length N, latch II's first inputs).
    min_len_option: the option that bounds the shortest length from below
      (2-sequence: N), or None.
    readout: ``end`` (one target per sequence, read at its end) or
      ``every`` (a target at every step).
  """
  name: str
  generator: Callable[..., SequenceBatch]
  targets: tuple[float, float] = (TARGET, -TARGET)
  options: tuple = ()
  min_len_option: str | None = None
  readout: str = "end"

  def __post_init__(self):
    if self.readout not in READOUTS:
      raise ValueError(f"task {self.name}: readout must be one of "
                       f"{READOUTS}, got {self.readout!r}")

  def with_targets(self, targets: tuple[float, float]) -> "Task":
    return dataclasses.replace(self, targets=tuple(targets))

  def with_options(self, **options) -> "Task":
    """The task with some generator options replaced."""
    unknown = set(options) - {k for k, _ in self.options}
    if unknown:
      raise ValueError(f"task {self.name}: unknown option(s) "
                       f"{', '.join(sorted(unknown))}")
    return dataclasses.replace(
        self, options=tuple({**dict(self.options), **options}.items()))

  @property
  def min_len(self) -> int:
    """The shortest sequence the task can generate."""
    return (dict(self.options)[self.min_len_option]
            if self.min_len_option else 1)

  def sample(self, key: jax.Array, n_per_class: int, min_len, max_len,
             noise: Noise = Noise(), size: int | None = None
             ) -> SequenceBatch:
    """``2 * n_per_class`` sequences (class 0 first), lengths uniform on
    ``min_len..max_len`` (may be traced when ``size`` is given)."""
    return self.generator(key, n_per_class, min_len, max_len, noise=noise,
                          targets=self.targets, size=size,
                          **dict(self.options))

  def loss(self, y: jax.Array, targets: jax.Array, mask=None) -> jax.Array:
    """``C = 1/(2B) sum_b (y_b - d_b)^2`` (over the last axis); with a
    ``(T, B)`` ``mask``, the mean over the steps it marks."""
    if mask is None:
      return 0.5 * jnp.mean((y - targets) ** 2, axis=-1)
    return 0.5 * jnp.sum(mask * (y - targets) ** 2) / jnp.sum(mask)

  def misclassified(self, y: jax.Array, targets: jax.Array) -> jax.Array:
    """Per output: ``y`` on the other side of the targets' midpoint."""
    mid = 0.5 * (jnp.max(targets) + jnp.min(targets))
    return (y > mid) != (targets > mid)

  def error(self, y: jax.Array, targets: jax.Array, mask=None) -> jax.Array:
    """Fraction of sequences misclassified (over the last axis); with a
    ``(T, B)`` ``mask``, a sequence counts when any marked step does."""
    wrong = self.misclassified(y, targets)
    if mask is not None:
      wrong = jnp.any(wrong & (mask > 0), axis=0)
    return jnp.mean(wrong, axis=-1)

  def solved(self, cost: jax.Array, error: jax.Array,
             target_cost: float) -> jax.Array:
    """No sequence misclassified and the cost below ``target_cost``."""
    return (error == 0) & (cost < target_cost)


def mask(batch: SequenceBatch) -> jax.Array:
  """``(T, B)`` float mask: 1.0 where step t is inside sequence b."""
  return _mask(batch.lengths, batch.inputs.shape[0])


READOUTS = ("end", "every")

# The rules every registered task shares (for a Fit built without a task).
CLASSIFICATION = Task("classification", None)

# name -> task. Adding a task is one generator plus one line here.
TASKS: dict[str, Task] = {
    "latch": Task("latch", latch, options=(("first", None),)),
    "two_sequence": Task("two_sequence", two_sequence, options=(("N", 3),),
                         min_len_option="N"),
    "parity": Task("parity", parity),
}


def get(name: str) -> Task:
  """The task ``name``; ValueError listing the registered names."""
  if name not in TASKS:
    raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
  return TASKS[name]
