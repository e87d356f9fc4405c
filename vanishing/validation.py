"""Flag-value validation shared by the command line and the experiments.

A bad value raises :class:`FlagError`, whose text is the one line the
command line prints before exiting with status 2.
"""

from __future__ import annotations

import math


class FlagError(ValueError):
  """A flag value outside what is allowed; ``str()`` is the one-line message."""

  def __init__(self, flag: str, message: str):
    super().__init__(f"--{flag}: {message}")


def parse_grid(text: str, flag: str, *, integer: bool = False) -> tuple:
  """Parses ``'v'``, ``'a,b,c'`` or ``'start:stop:num'`` (inclusive, num >= 1).

  Raises:
    FlagError: empty, malformed, non-finite, or (``integer``) non-integral.
  """
  what = "integers" if integer else "numbers"
  form = (f"expected a value, a list 'a,b,c' or a range 'start:stop:num' of "
          f"{what}")
  text = (text or "").strip()
  if not text:
    raise FlagError(flag, f"empty; {form}")
  try:
    if ":" in text:
      parts = text.split(":")
      if len(parts) != 3:
        raise ValueError
      start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
      if num < 1:
        raise FlagError(flag, f"range needs num >= 1, got {text!r}")
      step = (stop - start) / (num - 1) if num > 1 else 0.0
      values = [start + i * step for i in range(num)]
      if num > 1:
        values[-1] = stop
    else:
      values = [float(v) for v in text.split(",")]
  except ValueError:
    raise FlagError(flag, f"cannot parse {text!r}; {form}") from None
  if not all(math.isfinite(v) for v in values):
    raise FlagError(flag, f"values must be finite, got {text!r}")
  if integer:
    if any(abs(v - round(v)) > 1e-9 for v in values):
      raise FlagError(flag, f"values must be integers, got {text!r}")
    values = [int(round(v)) for v in values]
  if len(set(values)) != len(values):
    raise FlagError(flag, f"values must be distinct, got {text!r}")
  return tuple(values)
