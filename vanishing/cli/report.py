"""``python -m vanishing report``: one HTML page of every result in a directory.

The page (``<out_dir>/report.html``) is self-contained: figures are embedded
as base64 PNG, the style is inline, nothing is fetched from the network. Per
experiment found in the directory it shows the figure, the Markdown report
the experiment wrote (``<name>.md``) as HTML, the first rows of its main
table, its settings, timings, versions and command (from the sidecar
``<name>.json``), and links to its CSV files, which sit next to the page.
Sets that are not finished are listed as such: a sweep stopped part-way
(finished chunks, no results yet), a run in progress (the directory's lock),
a set whose writing failed (files without the sidecar that marks a set
complete), an unreadable sidecar.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import itertools
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from vanishing import experiments
from vanishing.engine import dirlock, results, store

NAME = "report"
SUMMARY = "one HTML page of every result in --out_dir (report.html)"
PAGE = "report.html"
TABLE_ROWS = 50  # rows of the main CSV shown on the page


@dataclasses.dataclass
class Entry:
  """One experiment's files in the directory.

  Attributes:
    name: the experiment.
    status: "finished", "unfinished" (chunks, no results), "failed" (files
      without a readable sidecar).
    note: what the status means here, in words.
    meta: the parsed sidecar (finished only).
    files: the experiment's files present, by name.
  """
  name: str
  status: str
  note: str
  meta: dict[str, Any] | None
  files: list[str]


def _names(out_dir: Path) -> list[str]:
  """Experiments with anything in ``out_dir``: registry order, then others."""
  found = set()
  for p in out_dir.iterdir():
    m = re.fullmatch(r"\.(\w+)_chunks", p.name)
    if m and p.is_dir():
      found.add(m.group(1))
    elif p.suffix in (".json", ".csv", ".png", ".md") and p.is_file():
      found.add(re.sub(r"_[a-z]+$", "", p.stem) if p.suffix == ".csv"
                else p.stem)
  known = [n for n in experiments.REGISTRY if n in found]
  others = sorted(n for n in found - set(known)
                  if _sidecar(out_dir / f"{n}.json").get("experiment") == n
                  or (out_dir / f".{n}_chunks").is_dir())
  return known + others


def _sidecar(path: Path) -> dict:
  try:
    meta = json.loads(path.read_text())
  except (OSError, ValueError):
    return {}
  return meta if isinstance(meta, dict) else {}


def _files(out_dir: Path, name: str) -> list[str]:
  pattern = re.compile(rf"{re.escape(name)}(_[a-z]+)?\.csv|"
                       rf"{re.escape(name)}\.(json|png|md)")
  return sorted(p.name for p in out_dir.iterdir()
                if pattern.fullmatch(p.name) and p.is_file())


def _lock_holder(out_dir: Path) -> str | None:
  """Who holds ``out_dir``'s lock, in words, or None (read, never taken)."""
  try:
    holder = json.loads((out_dir / dirlock.NAME).read_text())
  except (OSError, ValueError):
    return None
  pid, host = holder.get("pid"), holder.get("host")
  if host == socket.gethostname() and isinstance(pid, int):
    try:
      os.kill(pid, 0)
    except ProcessLookupError:
      return None  # a stale lock: its process is gone
    except PermissionError:
      pass
  return f"process {pid} on host {host}, since {holder.get('started', '?')}"


def collect(out_dir: Path) -> list[Entry]:
  """Every experiment with files in ``out_dir``, with its status."""
  out_dir = Path(out_dir)
  running = _lock_holder(out_dir)
  entries = []
  for name in _names(out_dir):
    files, chunks = _files(out_dir, name), out_dir / f".{name}_chunks"
    meta = _sidecar(out_dir / f"{name}.json")
    if meta:
      entries.append(Entry(name, "finished", "", meta, files))
      continue
    if chunks.is_dir():
      runs = store.saved_runs(chunks)
      note = (f"{runs:,} finished runs saved in {chunks.name}/; "
              + (f"a run may be in progress ({running})" if running else
                 "the command that started it resumes from them"))
      entries.append(Entry(name, "unfinished", note, None, files))
    elif f"{name}.json" in files:
      entries.append(Entry(name, "failed", f"{name}.json cannot be read; "
                           "rerun with --overwrite", None, files))
    else:
      entries.append(Entry(name, "failed", f"{', '.join(files)} without "
                           f"{name}.json (a run that failed while writing "
                           "its results); rerun the command", None, files))
  return entries


# ---------------------------------------------------------------------------
# HTML.

e = html.escape


def _inline(text: str) -> str:
  """Markdown inline code and bold in escaped ``text``."""
  text = re.sub(r"`([^`]+)`", r"<code>\1</code>", e(text, quote=False))
  return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def markdown_html(text: str) -> str:
  """The Markdown the experiments write (headings, paragraphs, lists, pipe
  tables) as HTML; headings are demoted below the page's own."""
  out = []
  blocks = itertools.groupby(text.splitlines(), lambda l: (
      "blank" if not l.strip() else "table" if l.lstrip().startswith("|")
      else "item" if l.lstrip().startswith(("- ", "* ")) else
      "head" if l.startswith("#") else "text"))
  for kind, group in blocks:
    lines = list(group)
    if kind == "head":
      for line in lines:
        level = min(len(line) - len(line.lstrip("#")) + 2, 6)
        out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
    elif kind == "table":
      rows = [[c.strip() for c in l.strip().strip("|").split("|")]
              for l in lines if not re.fullmatch(r"[|\s:-]+", l)]
      out.append(_table(rows[0], rows[1:], cell=_inline))
    elif kind == "item":
      out.append("<ul>" + "".join(f"<li>{_inline(l.lstrip()[2:])}</li>"
                                  for l in lines) + "</ul>")
    elif kind == "text":
      out.append(f"<p>{_inline(' '.join(lines))}</p>")
  return "\n".join(out)


def _table(header, rows, cell=lambda c: e(str(c))) -> str:
  head = "".join(f"<th>{cell(h)}</th>" for h in header)
  body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>"
                 for r in rows)
  return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flat(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
  """Nested settings as ``(dotted.key, value)`` rows."""
  if isinstance(d, dict):
    return [kv for k, v in d.items() for kv in _flat(v, f"{prefix}{k}.")]
  return [(prefix[:-1], json.dumps(d) if isinstance(d, (list, dict)) else d)]


def _csv_head(path: Path) -> str:
  with open(path, newline="") as f:
    rows = list(itertools.islice(csv.reader(f), TABLE_ROWS + 2))
  more = len(rows) - 1 > TABLE_ROWS
  note = (f"<p>First {TABLE_ROWS} rows; the whole table is "
          f"<a href=\"{e(path.name)}\">{e(path.name)}</a>.</p>" if more else "")
  return _table(rows[0], rows[1:TABLE_ROWS + 1]) + note


def _seconds(meta: dict, key: str) -> str:
  v = meta.get(key)
  return f"{v:,.1f} s" if isinstance(v, (int, float)) else "?"


def _command(argv) -> str:
  """The command as typed: ``python -m vanishing`` and its arguments."""
  return " ".join(["python -m vanishing", *argv[1:]]) if argv else "?"


def _finished(out_dir: Path, entry: Entry) -> str:
  meta, name, parts = entry.meta, entry.name, []
  png = out_dir / f"{name}.png"
  if png.exists():
    data = base64.b64encode(png.read_bytes()).decode()
    parts.append(f'<img alt="{e(name)} figure" src="data:image/png;base64,'
                 f'{data}">')
  md = out_dir / f"{name}.md"
  if md.exists():
    parts.append(f'<div class="md">{markdown_html(md.read_text())}</div>')
  csvs = [f for f in entry.files if f.endswith(".csv")]
  if f"{name}.csv" in csvs:
    parts.append(f"<details><summary>{e(name)}.csv</summary>"
                 f"{_csv_head(out_dir / f'{name}.csv')}</details>")
  if csvs:
    links = ", ".join(
        f'<a href="{e(f)}">{e(f)}</a> ({(out_dir / f).stat().st_size:,} bytes)'
        for f in csvs)
    parts.append(f"<p>Tables: {links}</p>")
  facts = [("finished", meta.get("finished", "?")),
           ("compile", _seconds(meta, "compile_s")),
           ("run", _seconds(meta, "run_s")),
           ("wall", _seconds(meta, "wall_s")),
           ("devices", meta.get("devices", "?")),
           ("platform", meta.get("platform", "?")),
           ("lanes per block", _widths(meta.get("block"))),
           ("cluster", meta.get("cluster", "local")),
           ("command", _command(meta.get("command"))),
           ("git", meta.get("git") or "?")]
  facts += _flat(meta.get("device", {}), "device.")
  facts += _flat(meta.get("versions", {}), "")
  parts.append(f"<h3>Run</h3>{_table(['what', 'value'], facts)}")
  parts.append("<details><summary>Settings</summary>"
               f"{_table(['setting', 'value'], _flat(meta.get('settings', {})))}"
               "</details>")
  return "\n".join(parts)


def _widths(block) -> str:
  """The sidecar's ``block``: one width, or one per sweep."""
  if isinstance(block, dict):
    return ", ".join(f"{k}: {v}" for k, v in block.items())
  return "?" if block is None else str(block)


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto;
       padding: 0 1em; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: 90%; }
th, td { border: 1px solid #ccc; padding: .2em .5em; text-align: left; }
th { background: #f3f3f3; }
section { border-top: 2px solid #888; margin-top: 2em; }
.finished { color: #1a7f37; } .unfinished { color: #9a6700; }
.failed { color: #cf222e; }
code { background: #f3f3f3; padding: 0 .2em; }
"""


def render(out_dir: Path, entries: list[Entry]) -> str:
  """The page for ``entries`` of ``out_dir``."""
  out_dir = Path(out_dir)
  title = f"vanishing results: {out_dir}"
  index = "".join(f'<li><a href="#{e(x.name)}">{e(x.name)}</a> '
                  f'<span class="{x.status}">{x.status}</span></li>'
                  for x in entries)
  absent = [n for n in experiments.REGISTRY
            if n not in {x.name for x in entries}]
  body = [f"<h1>{e(title)}</h1>",
          f"<p>Written {time.strftime('%Y-%m-%d %H:%M:%S %z')} by "
          f"<code>python -m vanishing report --out_dir={e(str(out_dir))}</code>"
          ".</p>",
          f"<ul>{index}</ul>" if entries else
          "<p>No results in this directory.</p>"]
  if absent:
    body.append(f"<p>Not run here: {e(', '.join(absent))}.</p>")
  for x in entries:
    summary = _summary(x.name)
    body.append(f'<section id="{e(x.name)}"><h2>{e(x.name)} '
                f'<span class="{x.status}">({x.status})</span></h2>'
                + (f"<p>{e(summary)}.</p>" if summary else "")
                + (_finished(out_dir, x) if x.status == "finished"
                   else f"<p>{e(x.note)}.</p>") + "</section>")
  return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          f"<title>{e(title)}</title><style>{STYLE}</style></head>\n<body>\n"
          + "\n".join(body) + "\n</body></html>\n")


def _summary(name: str) -> str | None:
  try:
    return experiments.REGISTRY[name].summary
  except (KeyError, ImportError):
    return None


def write(out_dir: Path) -> tuple[Path, list[Entry]]:
  """Writes ``<out_dir>/report.html`` atomically: ``(its path, entries)``.

  Raises:
    OSError: ``out_dir`` cannot be read or written.
  """
  out_dir = Path(out_dir)
  entries = collect(out_dir)
  path = out_dir / PAGE
  results.write_text(path, render(out_dir, entries))
  return path, entries
