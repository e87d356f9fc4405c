"""How flags become an experiment's settings.

Each setting is declared once, on its settings field: ``flags.setting(spec)``
puts a flag spec (:func:`integer`, :func:`real`, :func:`grid`, ...: what it
means, what values it allows) on the field, whose name is the flag's unless
the spec names another; ``flags.nested(default)`` marks a field holding
settings of their own (a latch run's ``LatchConfig``, the trials of
``experiments.trial.Trials``) whose flags are the experiment's too.
:func:`flags_of` reads them off a settings type, in field order. A flag's
default is its field's value in the chosen preset.

:func:`build` turns flag values into validated settings: each flag's value is
checked alone (once, here, for every experiment), then the experiment's
``from_flags(given: Given)`` checks them against each other (T > L, ...),
raising :class:`FlagError`, and returns ``given.settings(...)``. The command
line (:mod:`vanishing.cli.main`) adds the flags every experiment takes.
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
    name: ``--name`` (empty in a spec on a settings field: the field's name).
    kind: how the command line reads the text: bool, int, float or str.
    help: what it sets, one phrase.
    allowed: what values are allowed (text, or a function giving it, for
      lists known only once a registry is loaded).
    field: the settings attribute it sets (dotted: ``"config.L"``), filled
      in by :func:`flags_of`; the preset's value there is the default. None
      for the command line's own flags.
    parse: ``(name, value) -> settings value``, raising ``FlagError``.
    default: the value when not given, for a flag without ``field``.
    default_text: what ``--help`` shows as the default where the preset's
      value does not say it (``--chunk``: unset means 4096), or a function
      of the preset giving it.
    metavar: what ``--help`` shows after ``=``.
  """
  name: str = ""
  kind: type = str
  help: str = ""
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
  seed and ``changes`` (dotted field -> value) replaced. ``preset`` is the
  preset's settings, ``preset_name`` its name.
  """

  def __init__(self, flags: Iterable[Flag], values: Mapping[str, Any],
               preset: Any, seed: int, preset_name: str = "default"):
    self.flags = {f.name: f for f in flags}
    self.values = dict(values)
    self.preset = preset
    self.seed = int(seed)
    self.preset_name = preset_name

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


def setting(spec: Flag, default: Any = dataclasses.MISSING) -> Any:
  """A settings field set by flag ``spec`` (named as the field unless
  ``spec.name`` says otherwise)."""
  return dataclasses.field(default=default, metadata={"flag": spec})


def nested(default: Any) -> Any:
  """A settings field holding settings of their own, whose flags (on its
  fields) are the outer settings' too; ``default`` is a frozen dataclass."""
  return dataclasses.field(default=default, metadata={"nested": type(default)})


def flags_of(settings_type: type, prefix: str = "") -> tuple[Flag, ...]:
  """The flags on the fields of ``settings_type`` (and of its nested
  settings), in field order, each with its name and dotted field.

  Raises:
    ValueError: two fields claim one flag name.
  """
  out: list[Flag] = []
  for f in dataclasses.fields(settings_type):
    if "nested" in f.metadata:
      out += flags_of(f.metadata["nested"], f"{prefix}{f.name}.")
    elif "flag" in f.metadata:
      spec = f.metadata["flag"]
      out.append(dataclasses.replace(spec, name=spec.name or f.name,
                                     field=prefix + f.name))
  names = [f.name for f in out]
  twice = sorted({n for n in names if names.count(n) > 1})
  if twice:
    raise ValueError(f"{settings_type.__name__}: flags {twice} set twice")
  return tuple(out)


def preset_name(exp, fv) -> str:
  """The preset ``--preset`` (or ``--paper``, the same as
  ``--preset=paper``) chose, validated against ``exp.presets``."""
  name, paper = getattr(fv, "preset", None), getattr(fv, "paper", False)
  if name is None:
    return "paper" if paper else "default"
  if name not in exp.presets:
    raise FlagError("preset", f"must be one of {', '.join(exp.presets)} "
                    f"for {exp.name}, got {name!r}")
  if paper and name != "paper":
    raise FlagError("preset", "not with --paper (the same as "
                    "--preset=paper); give one of them")
  return name


def build(exp, fv) -> Any:
  """Validated settings of experiment ``exp`` (an ``Experiment``) from flag values.

  ``fv`` has an attribute per flag (missing or None: not given) holding
  text or a typed value, plus ``preset``, ``paper`` and ``seed``. Each
  declared flag is checked in declaration order, then ``exp.from_flags``
  checks the flags against each other.

  Raises:
    FlagError: the first flag whose value is not allowed.
  """
  preset = preset_name(exp, fv)
  values = {f.name: f.read(getattr(fv, f.name))
            for f in exp.flags if getattr(fv, f.name, None) is not None}
  return exp.from_flags(Given(exp.flags, values, exp.presets[preset],
                              getattr(fv, "seed", 0) or 0, preset))


# ---------------------------------------------------------------------------
# Flag specs by what they allow, for ``setting(...)``. Each returns a Flag
# without a field; ``name`` is needed only where it is not the field's.

def _bounds(low, high, low_open, high_open) -> str:
  if high is None:
    return f"{'>' if low_open else '>='} {low}"
  return (f"in {'(' if low_open else '['}{low}, {high}"
          f"{')' if high_open else ']'}")


def integer(help: str, *, low: int = 1, **kw) -> Flag:
  def parse(flag, v):
    if v < low:
      raise FlagError(flag, f"must be >= {low}, got {v}")
    return int(v)
  return Flag(kind=int, help=help, allowed=f"an integer >= {low}",
              parse=parse, metavar="INT", **kw)


def real(help: str, *, low, high=None, low_open=False, high_open=False,
         **kw) -> Flag:
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
  return Flag(kind=float, help=help, allowed=f"a number {what}", parse=parse,
              metavar="NUM", **kw)


def choice(help: str, choices: tuple[str, ...], **kw) -> Flag:
  def parse(flag, v):
    if v not in choices:
      raise FlagError(flag, f"must be one of {', '.join(choices)}, got {v!r}")
    return v
  return Flag(kind=str, help=help, allowed=f"one of {', '.join(choices)}",
              parse=parse, metavar="NAME", **kw)


def boolean(help: str, **kw) -> Flag:
  return Flag(kind=bool, help=help, allowed="true or false", **kw)


def grid(help: str, *, integer: bool = False, low=None, low_open: bool = False,
         noun: str = "values", **kw) -> Flag:
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
  return Flag(kind=str, help=help, allowed=f"a grid of {what}{bound}",
              parse=parse, metavar="GRID", **kw)


def names(help: str, valid: Callable[[], tuple[str, ...]], **kw) -> Flag:
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
  kw.setdefault("allowed", lambda: f"a list of {', '.join(valid())}")
  return Flag(kind=str, help=help, parse=parse, metavar="LIST", **kw)


def pair(help: str, *, integer: bool, form: str,
         check: Callable[[tuple], bool], need: str, **kw) -> Flag:
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
  return Flag(kind=str, help=help, allowed=f"{form} with {need}", parse=parse,
              metavar="A,B", **kw)


# Specs several experiments' settings use.
N_PER_CLASS = integer("training sequences per class")
TEST_PER_CLASS = integer("held-out (test) sequences per class")
CHUNK = integer("runs per compiled call and per chunk file; bounds memory, "
                "never changes results", default_text="unset (4096)")
