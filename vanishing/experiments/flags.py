"""How flags become an experiment's settings.

An experiment (:class:`vanishing.experiments.skeleton.Experiment`) declares
its ``flags``: each a :class:`Flag` with its help, what values it allows
(checked here, once, for every experiment that declares it) and the
settings field it sets (whose value in the preset is the flag's default);
its ``from_flags(given: Given)`` checks the flags against each other (T > L,
...), raising :class:`FlagError`, and returns ``given.settings(...)``.

:func:`build` turns flag values into validated settings; the command line
(:mod:`vanishing.cli.main`) adds the flags every experiment takes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Iterable, Mapping

Parse = Callable[[str, Any], Any]  # (flag name, value) -> settings value
_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "text"}


class FlagError(ValueError):
  """A flag value outside what is allowed; ``str()`` is the one-line message."""

  def __init__(self, flag: str, message: str):
    super().__init__(f"--{flag}: {message}")
    self.flag, self.detail = flag, message


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


@dataclasses.dataclass(frozen=True)
class Flag:
  """One command-line flag.

  Attributes:
    name: ``--name``.
    kind: how the command line reads the text: bool, int, float or str.
    help: what it sets, one phrase.
    allowed: what values are allowed (text, or a function giving it, for
      lists known only once a registry is loaded).
    field: the settings attribute it sets (dotted: ``"config.L"``); the
      preset's value there is the default. None for the command line's own
      flags.
    parse: ``(name, value) -> settings value``, raising ``FlagError``.
    default: the value when not given, for a flag without ``field``.
    default_text: what ``--help`` shows as the default where the preset's
      value does not say it (``--chunk``: unset means 4096), or a function
      of the preset giving it.
    metavar: what ``--help`` shows after ``=``.
  """
  name: str
  kind: type
  help: str
  allowed: str | Callable[[], str] = ""
  field: str | None = None
  parse: Parse | None = None
  default: Any = None
  default_text: str | Callable[[Any], str] | None = None
  metavar: str = ""

  def allowed_text(self) -> str:
    return self.allowed() if callable(self.allowed) else self.allowed

  def convert(self, value: Any) -> Any:
    """``value`` (text from the command line, or already typed) as ``kind``."""
    if not isinstance(value, str) or self.kind is str:
      return float(value) if self.kind is float and type(value) is int else value
    if self.kind is bool:
      low = value.strip().lower()
      if low in ("true", "t", "1", "yes"):
        return True
      if low in ("false", "f", "0", "no"):
        return False
    else:
      try:
        return self.kind(value)
      except ValueError:
        pass
    raise FlagError(self.name, f"expected {_KINDS[self.kind]}, got {value!r}")

  def read(self, value: Any) -> Any:
    """The settings value of a given flag value, validated."""
    value = self.convert(value)
    return self.parse(self.name, value) if self.parse else value

  def shown_default(self, preset: Any) -> str:
    if callable(self.default_text):
      return self.default_text(preset)
    if self.default_text is not None:
      return self.default_text
    return show(get_path(preset, self.field) if self.field else self.default)


def show(value: Any) -> str:
  """A default as one types it: ``0.5:3:11``, ``latch,parity``, ``on``."""
  if isinstance(value, bool):
    return "on" if value else "off"
  if value is None:
    return "none"
  if isinstance(value, float):
    return f"{value:g}"
  if isinstance(value, (tuple, list)):
    if not value:
      return "none"
    nums = all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for v in value)
    if nums and len(value) >= 4:
      step = (value[-1] - value[0]) / (len(value) - 1)
      if step and all(abs(v - (value[0] + i * step)) < 1e-9 * max(1, abs(v))
                      for i, v in enumerate(value)):
        return f"{show(value[0])}:{show(value[-1])}:{len(value)}"
    return ",".join(show(v) for v in value)
  return str(value)


def get_path(obj: Any, path: str) -> Any:
  for part in path.split("."):
    obj = getattr(obj, part)
  return obj


def replace_paths(obj: Any, changes: Mapping[str, Any]) -> Any:
  """``obj`` with every dotted field of ``changes`` replaced, one
  ``dataclasses.replace`` per level (no half-changed settings are built)."""
  top: dict[str, Any] = {}
  nested: dict[str, dict[str, Any]] = {}
  for path, value in changes.items():
    head, _, rest = path.partition(".")
    if rest:
      nested.setdefault(head, {})[rest] = value
    else:
      top[head] = value
  for head, sub in nested.items():
    top[head] = replace_paths(top.get(head, getattr(obj, head)), sub)
  return dataclasses.replace(obj, **top) if top else obj


class Given:
  """The flags of one invocation over a preset: what ``from_flags`` reads.

  ``value(name)`` is the validated value of a given flag, else the preset's;
  ``settings(changes)`` is the preset with every given flag's field, the
  seed and ``changes`` (dotted field -> value) replaced.
  """

  def __init__(self, flags: Iterable[Flag], values: Mapping[str, Any],
               preset: Any, seed: int):
    self.flags = {f.name: f for f in flags}
    self.values = dict(values)
    self.preset = preset
    self.seed = int(seed)

  def given(self, name: str) -> bool:
    return name in self.values

  def value(self, name: str) -> Any:
    if name in self.values:
      return self.values[name]
    return get_path(self.preset, self.flags[name].field)

  def settings(self, changes: Mapping[str, Any] | None = None) -> Any:
    fields = {self.flags[n].field: v for n, v in self.values.items()}
    return replace_paths(self.preset, {**fields, "seed": self.seed,
                                       **(changes or {})})


def build(exp, fv) -> Any:
  """Validated settings of experiment ``exp`` (an ``Experiment``) from flag values.

  ``fv`` has an attribute per flag (missing or None: not given) holding
  text or a typed value, plus ``paper`` and ``seed``. Each declared flag is
  checked in declaration order, then ``exp.from_flags`` checks the flags
  against each other.

  Raises:
    FlagError: the first flag whose value is not allowed.
  """
  preset = exp.paper if getattr(fv, "paper", False) else exp.default
  values = {f.name: f.read(getattr(fv, f.name))
            for f in exp.flags if getattr(fv, f.name, None) is not None}
  return exp.from_flags(Given(exp.flags, values, preset,
                              getattr(fv, "seed", 0) or 0))


# ---------------------------------------------------------------------------
# Flags by what they allow. Each returns a Flag; ``field`` defaults to the
# flag's name.

def _bounds(low, high, low_open, high_open) -> str:
  if high is None:
    return f"{'>' if low_open else '>='} {low}"
  return (f"in {'(' if low_open else '['}{low}, {high}"
          f"{')' if high_open else ']'}")


def integer(name: str, help: str, *, low: int = 1, field: str | None = None,
            **kw) -> Flag:
  def parse(flag, v):
    if v < low:
      raise FlagError(flag, f"must be >= {low}, got {v}")
    return int(v)
  return Flag(name, int, help, f"an integer >= {low}", field or name, parse,
              metavar="INT", **kw)


def real(name: str, help: str, *, low, high=None, low_open=False,
         high_open=False, field: str | None = None, **kw) -> Flag:
  """A finite number in an interval (``high`` None: no upper bound)."""
  def parse(flag, v):
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and (
        high is None or (v < high if high_open else v <= high))
    if not ok:
      what = (_bounds(low, high, low_open, high_open) if high is not None
              else f"finite and {_bounds(low, None, low_open, False)}")
      raise FlagError(flag, f"must be {what}, got {v}")
    return float(v)
  what = _bounds(low, high, low_open, high_open)
  return Flag(name, float, help, f"a number {what}", field or name, parse,
              metavar="NUM", **kw)


def choice(name: str, help: str, choices: tuple[str, ...], *,
           field: str | None = None, **kw) -> Flag:
  def parse(flag, v):
    if v not in choices:
      raise FlagError(flag, f"must be one of {', '.join(choices)}, got {v!r}")
    return v
  return Flag(name, str, help, f"one of {', '.join(choices)}", field or name,
              parse, metavar="NAME", **kw)


def grid(name: str, help: str, *, integer: bool = False, low=None,
         low_open: bool = False, noun: str = "values",
         field: str | None = None, **kw) -> Flag:
  """A grid: a value, a list ``a,b,c`` or a range ``start:stop:num``."""
  def parse(flag, text):
    values = parse_grid(text, flag, integer=integer)
    if low is not None and any(v <= low if low_open else v < low
                               for v in values):
      raise FlagError(flag, f"{noun} must be {_bounds(low, None, low_open, False)}"
                      f", got {text!r}")
    return values
  what = "integers" if integer else "numbers"
  bound = f" {_bounds(low, None, low_open, False)}" if low is not None else ""
  return Flag(name, str, help, f"a grid of {what}{bound}", field or name, parse,
              metavar="GRID", **kw)


def names(name: str, help: str, valid: Callable[[], tuple[str, ...]], *,
          field: str | None = None, **kw) -> Flag:
  """A list ``a,b`` of distinct names among ``valid()``."""
  def parse(flag, text):
    ok = valid()
    got = tuple(t.strip() for t in text.split(",") if t.strip())
    if not got:
      raise FlagError(flag, f"empty; choose from {', '.join(ok)}")
    for n in got:
      if n not in ok:
        raise FlagError(flag, f"unknown {n!r}; choose from {', '.join(ok)}")
    if len(set(got)) != len(got):
      raise FlagError(flag, f"names must be distinct, got {text!r}")
    return got
  return Flag(name, str, help, lambda: f"a list of {', '.join(valid())}",
              field or name, parse, metavar="LIST", **kw)


def pair(name: str, help: str, *, integer: bool, form: str,
         check: Callable[[tuple], bool], need: str,
         field: str | None = None, **kw) -> Flag:
  """Two numbers ``a,b`` with ``check((a, b))`` true (``need`` says what)."""
  def parse(flag, text):
    parts = text.split(",")
    try:
      if len(parts) != 2:
        raise ValueError
      vals = tuple(int(p) if integer else float(p) for p in parts)
    except ValueError:
      raise FlagError(flag, f"cannot parse {text!r}; expected {form}") from None
    if not all(math.isfinite(v) for v in vals):
      raise FlagError(flag, f"values must be finite, got {text!r}")
    if not check(vals):
      raise FlagError(flag, f"needs {need}, got {text!r}")
    return vals
  return Flag(name, str, help, f"{form} with {need}", field or name, parse,
              metavar="A,B", **kw)


# Flags several experiments declare (``dataclasses.replace(N_PER_CLASS,
# field="config.n_per_class")`` where the field is elsewhere).
N_PER_CLASS = integer("n_per_class", "training sequences per class")
TEST_PER_CLASS = integer("test_per_class", "held-out (test) sequences per class")
CHUNK = integer("chunk", "runs per compiled call and per chunk file; bounds "
                "memory, never changes results", default_text="unset (4096)")
