"""Optimizers by name, with the learning rate as a traced (sweepable) value.

Every optimizer is wrapped in ``optax.inject_hyperparams`` so the learning rate
lives in the optimizer state as an array: a sweep over learning rates is a
sweep over an input of one compiled function, not a recompilation.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax
import optax

# Names with a meaning of their own; any other optax optimizer factory that
# takes ``learning_rate`` (adam, rmsprop, adagrad, adamw, lion, ...) is also
# accepted under its optax name.
_NAMED: dict[str, Callable[..., Callable[..., optax.GradientTransformation]]] = {
    "sgd": lambda momentum: optax.sgd,
    "momentum": lambda momentum: functools.partial(optax.sgd, momentum=momentum),
    "nesterov": lambda momentum: functools.partial(
        optax.sgd, momentum=momentum, nesterov=True),
}

_EXCLUDED = {"inject_hyperparams", "scale_by_learning_rate", "chain",
             "contrib", "schedules", "tree", "losses", "projections"}


def available() -> list[str]:
  """Names accepted by :func:`make`, sorted."""
  names = set(_NAMED)
  for name in dir(optax):
    if name.startswith("_") or name in _EXCLUDED:
      continue
    obj = getattr(optax, name)
    if not inspect.isfunction(obj):
      continue
    try:
      params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
      continue
    if next(iter(params), None) == "learning_rate":
      names.add(name)
  return sorted(names)


def make(name: str, learning_rate: jax.Array | float, momentum: float = 0.9
         ) -> optax.GradientTransformation:
  """Builds optimizer ``name`` with a traced ``learning_rate``.

  Args:
    name: ``sgd`` (plain gradient descent, the paper's method), ``momentum``,
      ``nesterov``, or any optax optimizer taking ``learning_rate`` first.
    learning_rate: scalar, may be a traced array.
    momentum: used by ``momentum`` and ``nesterov`` only.

  Raises:
    ValueError: unknown name.
  """
  if name in _NAMED:
    factory = _NAMED[name](momentum)
  elif name in available():
    factory = getattr(optax, name)
  else:
    raise ValueError(f"unknown optimizer {name!r}; choose from "
                     f"{', '.join(available())}")
  return optax.inject_hyperparams(factory)(learning_rate=learning_rate)
