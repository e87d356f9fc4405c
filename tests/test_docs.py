"""The documents hold together: every relative link of README.md,
BUILD_NOTES.md and docs/*.md reaches a file, every ``#anchor`` a heading of
that file (GitHub's slugs), every figure a page shows is in the repository,
and every registered experiment has its page, linked from the front page."""

import re
from pathlib import Path

import pytest

from vanishing import experiments

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "BUILD_NOTES.md",
                *(ROOT / "docs").glob("*.md")])

# [text](target) and ![alt](target), with an optional "title".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")


def prose(text: str) -> str:
  """The text outside fenced code blocks, inline code spans blanked (a link
  or a code span may run over several lines of a paragraph)."""
  lines, fenced = [], None
  for line in text.splitlines():
    fence = re.match(r"\s*(`{3,}|~{3,})", line)
    if fence:
      mark = fence.group(1)[0]
      if fenced is None:
        fenced = mark
      elif fenced == mark:
        fenced = None
      lines.append("")
    else:
      lines.append("" if fenced else line)
  paragraphs = re.split(r"\n\s*\n", "\n".join(lines))
  return "\n\n".join(re.sub(r"(`+)(?:(?!\1).)+?\1", "``", p, flags=re.S)
                     for p in paragraphs)


def slug(heading: str) -> str:
  """GitHub's anchor of a heading: the text as shown, lowercase, spaces to
  '-', every character dropped but letters, digits, '-' and '_'."""
  text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: text
  text = re.sub(r"<[^>]+>", "", text).strip().lower()
  text = re.sub(r"[^\w\- ]", "", text)
  return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
  """Every heading anchor of a Markdown file, repeats numbered -1, -2, ..."""
  found, seen = set(), {}
  lines, fenced = path.read_text().splitlines(), None
  for line in lines:
    fence = re.match(r"\s*(`{3,}|~{3,})", line)
    if fence:
      mark = fence.group(1)[0]
      fenced = mark if fenced is None else (None if fenced == mark else fenced)
      continue
    m = re.match(r" {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
    if fenced is None and m:
      base = slug(m.group(1))
      n = seen.get(base, 0)
      seen[base] = n + 1
      found.add(base if n == 0 else f"{base}-{n}")
  return found


def links(path: Path, pattern=LINK) -> list[str]:
  """The targets of the links (or, with ``IMAGE``, the figures) of a page."""
  return [m.group(1) for m in pattern.finditer(prose(path.read_text()))]


def broken(path: Path, root: Path = ROOT) -> list[str]:
  """What is wrong with each relative link of ``path``: a missing file, or
  an anchor that no heading of its file has (files named from ``root``)."""
  wrong = []
  for target in links(path):
    if SCHEME.match(target):
      continue
    file, _, anchor = target.partition("#")
    dest = (path.parent / file).resolve() if file else path
    if not dest.exists():
      wrong.append(f"{target}: no file {dest.relative_to(root)}")
    elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
      wrong.append(f"{target}: {dest.relative_to(root)} has no heading "
                   f"#{anchor}")
  return wrong


def test_github_slugs():
  assert slug("Flags and --help") == "flags-and---help"
  assert slug("Discrete error propagation at the paper's parity setting "
              "(issue 17)") == ("discrete-error-propagation-at-the-papers-"
                                "parity-setting-issue-17")
  assert slug("[density](docs/density.md)") == "density"
  assert slug("`latch_1994`, a preset") == "latch_1994-a-preset"


def test_a_broken_link_is_found(tmp_path):
  (tmp_path / "other.md").write_text("# Other\n\n## A part\n")
  page = tmp_path / "page.md"
  page.write_text("# Page\n\n[ok](other.md#a-part) [self](#page)\n"
                  "[gone](missing.md) [no anchor](other.md#no-part)\n"
                  "![figure](missing.png) [web](https://example.org/x.md)\n"
                  "[a link over\ntwo lines](other.md#none)\n\n"
                  "```\n[in code](ignored.md)\n```\n`[inline](ignored.md)`\n"
                  "`code over\ntwo lines [in it](ignored.md)`\n")
  assert broken(page, tmp_path) == [
      "missing.md: no file missing.md",
      "other.md#no-part: other.md has no heading #no-part",
      "missing.png: no file missing.png",
      "other.md#none: other.md has no heading #none",
  ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
  assert links(page), f"{page.name} links nowhere"
  assert broken(page) == []


def test_every_figure_a_page_shows_exists_and_every_kept_figure_is_shown():
  shown = {(page.parent / target).resolve()
           for page in PAGES for target in links(page, IMAGE)
           if not SCHEME.match(target)}
  assert shown, "no page shows a figure"
  missing = sorted(str(p.relative_to(ROOT)) for p in shown if not p.exists())
  assert missing == []
  kept = {p.resolve() for p in (ROOT / "docs").glob("*.png")}
  assert sorted(str(p.relative_to(ROOT)) for p in kept - shown) == []


@pytest.mark.parametrize("name", list(experiments.REGISTRY))
def test_every_experiment_has_its_page_linked_from_the_front_page(name):
  page = ROOT / "docs" / f"{name}.md"
  assert page.exists(), f"no docs/{name}.md"
  assert f"python -m vanishing {name}" in page.read_text()
  front = (ROOT / "README.md").read_text()
  assert re.search(rf"\]\(docs/{name}\.md(#[^)]*)?\)", front), (
      f"README.md does not link docs/{name}.md")
