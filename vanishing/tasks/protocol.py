"""The task protocol: sequence batches, noise laws, length laws and ``Task``.

A task samples a :class:`SequenceBatch` from a PRNG key and static sizes and
owns the rules its outputs are scored by (cost, error, the solved rule, the
cost of the best memoryless predictor). The paper's tasks
(``vanishing.tasks.paper``) are two-class problems scored by the squared
error of Section V; the tasks that followed (``vanishing.tasks.followed``)
subclass :class:`Task` with their own cost (``kind``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

# The paper's targets: +0.8 for class 0, -0.8 for class 1.
TARGET = 0.8

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
    inputs: ``(steps, B)`` external input, or ``(steps, B, D)`` for a task
      with D input channels; 0 after each sequence's end.
    targets: ``(B,)`` desired output at each sequence's end, or ``(steps,
      B)`` for a task with a target at every step (float values, or int32
      symbols for a ``categorical`` task).
    lengths: ``(B,)`` int32, each sequence's number of steps.
    classes: ``(B,)`` int32 class labels, ``n_per_class`` of class 0 then of
      class 1 (all 0 for a task without classes); the cells' ``context``.
  """
  inputs: jax.Array
  targets: jax.Array
  lengths: jax.Array
  classes: jax.Array


def half_length(T):
  """The shortest length of a span-T problem, ``ceil(T/2)`` (T an int or
  an integer array)."""
  return -(-T // 2)


def draw_lengths(key: jax.Array, n: int, min_len, max_len) -> jax.Array:
  """``n`` lengths uniform on the integers ``min_len..max_len`` (the bounds
  may be traced)."""
  if isinstance(min_len, int) and isinstance(max_len, int) and not (
      1 <= min_len <= max_len):
    raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
  return jax.random.randint(key, (n,), min_len, max_len + 1, dtype=jnp.int32)


def length_mask(lengths: jax.Array, max_len: int) -> jax.Array:
  """``(max_len, B)``: 1.0 where step t is inside sequence b."""
  return (jnp.arange(max_len)[:, None] < lengths[None, :]).astype(jnp.float32)


READOUTS = ("end", "every")
# What a task's cost is (``Task.kind``); a method lists the kinds it can
# train in its ``KINDS`` (``vanishing.methods.check_task``):
#   classification: the paper's C = 1/(2B) sum (y_b - d_b)^2 against two
#     class targets, an output misclassified on the wrong side of their
#     midpoint;
#   regression: the same squared error against real targets, an output
#     wrong when |y - d| >= a tolerance (the adding problem);
#   categorical: the mean cross-entropy of logits ``(..., K)`` against int
#     symbols (the copying problem).
KINDS = ("classification", "regression", "categorical")
# How the lengths of a span-T set are drawn (``Task.bounds``): ``half``
# uniform on ceil(T/2)..T (the paper, Section VI); ``fixed`` every sequence
# T steps (Arjovsky, Shah & Bengio 2016); ``tenth`` uniform on
# T..T + floor(T/10) (Hochreiter & Schmidhuber 1997, experiment 4).
LENGTHS = ("half", "fixed", "tenth")


@dataclasses.dataclass(frozen=True)
class Task:
  """A sequence task: its generator and its rules.

  A task samples ``SequenceBatch(inputs (T, B[, D]), targets (B,), lengths
  (B,), classes (B,))`` from a key and static sizes (``sample``; ``mask``
  gives the ``(T, B)`` mask of the steps inside each sequence), and owns the
  cost and the error of outputs ``y (B,)`` read at each sequence's end (or,
  with ``readout="every"``, ``y (T, B)`` against targets ``(T, B)``, the
  means over the steps inside each sequence, and a sequence misclassified
  when any of its steps is). The paper's tasks (``kind="classification"``)
  score

      C = 1/(2B) sum_b (y_b - d_b)^2,
      error = fraction of sequences with y_b on the other side of the
              midpoint of the two targets than d_b,

  and a training set is solved when no sequence is misclassified and
  ``C < target_cost`` (the paper's criterion, spec section 3). A subclass
  (``vanishing.tasks.followed``) brings its own ``loss``, ``misclassified``,
  ``error``, ``baseline`` and ``sample`` for another ``kind``; the solved
  rule is the same for every task.

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
    kind: the task's cost, one of ``KINDS``.
    lengths: the law of a span-T set's lengths, one of ``LENGTHS``.
  """
  name: str
  generator: Callable[..., SequenceBatch]
  targets: tuple[float, float] = (TARGET, -TARGET)
  options: tuple = ()
  min_len_option: str | None = None
  readout: str = "end"
  kind: str = "classification"
  lengths: str = "half"

  def __post_init__(self):
    for field, allowed in (("readout", READOUTS), ("kind", KINDS),
                           ("lengths", LENGTHS)):
      if getattr(self, field) not in allowed:
        raise ValueError(f"task {self.name}: {field} must be one of "
                         f"{allowed}, got {getattr(self, field)!r}")

  def with_targets(self, targets: tuple[float, float]) -> "Task":
    return dataclasses.replace(self, targets=tuple(targets))

  def with_lengths(self, lengths: str) -> "Task":
    """The task with another length law (``LENGTHS``)."""
    return dataclasses.replace(self, lengths=lengths)

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

  def bounds(self, T):
    """``(min_len, max_len)`` of a span-T set under the task's length law
    (``LENGTHS``); ``T`` an int or a traced integer (a swept span)."""
    if self.lengths == "fixed":
      return T, T
    if self.lengths == "tenth":
      return T, T + T // 10
    return half_length(T), T

  def steps(self, max_len: int) -> int:
    """The arrays' number of steps for sequences of at most ``max_len``
    (the generator's length bound): ``max_len`` here."""
    return max_len

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

  def baseline(self, T: int) -> float:
    """The cost of the best memoryless predictor, in this task's cost: with
    balanced classes the constant output ``(d_0 + d_1)/2`` costs
    ``(d_0 - d_1)^2 / 8`` (0.32 for the paper's +-0.8), whatever ``T``."""
    del T
    return (self.targets[0] - self.targets[1]) ** 2 / 8


def mask(batch: SequenceBatch) -> jax.Array:
  """``(T, B)`` float mask: 1.0 where step t is inside sequence b."""
  return length_mask(batch.lengths, batch.inputs.shape[0])


# The rules every registered task shares (for a Fit built without a task).
CLASSIFICATION = Task("classification", None)
