"""``python -m vanishing report``: one self-contained page of a results directory."""

import base64
import html
import html.parser
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vanishing import experiments
from vanishing.cli import launch, report
from vanishing.engine import results

VOID = {"meta", "img", "br", "hr", "link", "input"}


class Checker(html.parser.HTMLParser):
  """Fails on an unbalanced tag; collects ids, links and image sources."""

  def __init__(self):
    super().__init__()
    self.stack, self.ids, self.hrefs, self.srcs = [], set(), [], []
    self.doctype = False

  def handle_decl(self, decl):
    self.doctype = self.doctype or decl.lower() == "doctype html"

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    self.ids.add(attrs.get("id"))
    if "href" in attrs:
      self.hrefs.append(attrs["href"])
    if "src" in attrs:
      self.srcs.append(attrs["src"])
    if tag not in VOID:
      self.stack.append(tag)

  def handle_endtag(self, tag):
    assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
    self.stack.pop()


def check_page(path):
  """The page parsed: valid, self-contained, its links local and present."""
  text = path.read_text()
  c = Checker()
  c.feed(text)
  c.close()
  assert c.doctype and not c.stack
  assert all(s.startswith("data:image/png;base64,") for s in c.srcs)
  assert "http://" not in text and "https://" not in text  # no network
  for href in c.hrefs:
    assert (href[1:] in c.ids if href.startswith("#")
            else (path.parent / href).is_file()), href
  return text, c


def finished_set(out, name, md=None):
  """The files a finished experiment leaves (a tiny figure, one table)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig = plt.figure(figsize=(1, 1))
  results.save_figure(fig, out / f"{name}.png")
  plt.close(fig)
  results.write_csv(out / f"{name}.csv", {"x": [1, 2], "y": [0.5, 0.25]})
  if md:
    (out / f"{name}.md").write_text(md)
  results.write_json(out / f"{name}.json", {
      "experiment": name, "command": ["vanishing", name], "compile_s": 1.5,
      "run_s": 2.0, "wall_s": 4.0, "settings": {"trials": 3, "config": {"T": 9}},
      "platform": "cpu", "block": ({"latch-bptt": 8, "latch-rtrl_online": 1}
                                   if name == "compare" else 512),
      "versions": {"jax": "0.10.2"}, "finished": "2026-01-01T00:00:00"})


def test_page_names_every_experiment_present(tmp_path, helped):
  for name in experiments.REGISTRY:
    finished_set(tmp_path, name,
                 md="# Title\n\nSome `code` & text.\n\n| a | b |\n|---|---|\n"
                    "| 1 | <2> |\n" if name == "compare" else None)
  code, out, err = helped("report", f"--out_dir={tmp_path}")
  assert code == 0, err
  assert out.strip() == (f"wrote {tmp_path / 'report.html'} "
                         f"({len(experiments.REGISTRY)} finished, 0 "
                         "unfinished, 0 failed)")
  text, c = check_page(tmp_path / "report.html")
  assert set(experiments.REGISTRY) <= c.ids
  assert len(c.srcs) == len(experiments.REGISTRY)
  assert "<td>&lt;2&gt;</td>" in text and "<code>code</code> &amp; text" in text
  assert "<td>config.T</td><td>9</td>" in text and "<td>4.0 s</td>" in text
  assert "python -m vanishing compare" in text
  assert "<td>lanes per block</td><td>512</td>" in text
  assert "<td>latch-bptt: 8, latch-rtrl_online: 1</td>" in text
  assert "Not run here" not in text


def test_unfinished_and_failed_sets_are_listed_as_such(tmp_path, invoke, helped):
  code, err = invoke("density", "--w0=1", "--s=0", "--trials=8", "--epochs=5",
                     f"--out_dir={tmp_path}")
  assert code == 0, err
  # A stopped length sweep (one finished chunk), a gradients set that died
  # writing (no sidecar), a guessing sidecar that cannot be read, and a
  # stopped sweep of an experiment this checkout does not know.
  chunk = tmp_path / ".length_chunks" / "T0010" / "chunk_000000"
  chunk.parent.mkdir(parents=True)
  chunk.with_suffix(".npz").write_bytes(b"")
  chunk.with_suffix(".json").write_text(json.dumps({"runs": 512}))
  shutil.copytree(tmp_path / ".length_chunks", tmp_path / ".mine_chunks")
  (tmp_path / "gradients.csv").write_text("x\n1\n")
  (tmp_path / "guessing.json").write_text("{")
  code, out, err = helped("report", f"--out_dir={tmp_path}")
  assert code == 0, err
  assert "(1 finished, 2 unfinished, 2 failed)" in out
  text, c = check_page(tmp_path / "report.html")
  assert {"density", "length", "gradients", "guessing", "mine"} <= c.ids
  png = base64.b64encode((tmp_path / "density.png").read_bytes()).decode()
  assert c.srcs == [f"data:image/png;base64,{png}"]
  assert {"density.csv", "density_runs.csv"} <= set(c.hrefs)
  assert "512 finished runs saved in .length_chunks/" in text
  assert "gradients.csv without gradients.json" in text
  assert "guessing.json cannot be read" in text
  assert "Not run here: compare, rtrl, remedies." in text
  entries = {x.name: x.status for x in report.collect(tmp_path)}
  assert entries == {"density": "finished", "length": "unfinished",
                     "gradients": "failed", "guessing": "failed",
                     "mine": "unfinished"}


@pytest.mark.parametrize("args,message", [
    (["--out_dir=/nonexistent/results"],
     "--out_dir: /nonexistent/results is not a directory of results"),
    (["--trials=3"], "--trials: does not apply to report"),
    (["--bogus=1"], "--bogus: does not apply to report"),
])
def test_bad_report_flags(helped, args, message):
  code, _, err = helped("report", *args)
  assert code == 2
  assert err.strip().startswith(f"error: {message}"), err


def test_report_help(helped):
  code, out, err = helped("report", "--help")
  assert code == 0 and not err
  assert "usage: python -m vanishing report [--out_dir=DIR]" in out
  assert "--out_dir=DIR" in out and "default: results" in out
  code, out, _ = helped("--help")
  assert f"  report     {report.SUMMARY}" in out


CHROMIUM = next(filter(shutil.which, ("chromium", "chromium-browser",
                                      "google-chrome")), None)
NO_BROWSER = ("no headless Chromium here (chromium, chromium-browser or "
              "google-chrome on PATH; .ci/run installs it in CI)")
# .ci/run sets it once it has a browser: there a missing one fails the browser
# tests instead of skipping them, so a green CI shows they ran.
NEEDED = os.environ.get("VANISHING_TESTS_NEED_BROWSER") == "1"
browser = pytest.mark.skipif(CHROMIUM is None and not NEEDED, reason=NO_BROWSER)


def test_a_browser_is_found_where_ci_promised_one():
  if not NEEDED:
    pytest.skip("VANISHING_TESTS_NEED_BROWSER is not 1 (only .ci/run sets it)")
  assert CHROMIUM is not None, NO_BROWSER

# What a reader sees, read by the browser once the page has loaded: every
# image (loaded, its pixel size, its size on screen), each section's tables
# and images, and every error: a script error, a resource that failed to
# load, console.error. Injected ahead of the page's own content, written
# into the DOM as JSON for --dump-dom.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var t = e.target || {};
  window.__errors.push(e.message || ("failed to load " + (t.tagName || "?")));
}, true);
var __consoleError = console.error;
console.error = function () {
  window.__errors.push("console.error: " + Array.from(arguments).join(" "));
  __consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var box = function (el) { var r = el.getBoundingClientRect();
                            return [r.width, r.height]; };
  var seen = {
    images: Array.from(document.images).map(function (i) {
      return {alt: i.alt, complete: i.complete, natural: [i.naturalWidth,
              i.naturalHeight], shown: box(i)}; }),
    sections: Array.from(document.querySelectorAll("section")).map(
      function (s) { return {id: s.id, status: s.querySelector("h2 span")
        .textContent, tables: s.querySelectorAll("table").length,
        rows: s.querySelectorAll("tbody tr").length,
        images: s.querySelectorAll("img").length}; }),
    errors: window.__errors};
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(seen);
  document.body.appendChild(pre);
});
</script>"""


def seen_in_chromium(page: Path) -> tuple[dict, str]:
  """``(what the probe saw, Chromium's stderr)`` for ``page``, opened in
  headless Chromium (a copy with the probe in its head)."""
  text = page.read_text()
  assert text.count("<head>") == 1
  probed = page.with_name("probed.html")
  probed.write_text(text.replace("<head>", "<head>" + PROBE))
  proc = subprocess.run([shutil.which(CHROMIUM), "--headless", "--no-sandbox",
                         "--disable-gpu", "--enable-logging=stderr", "--v=0",
                         "--virtual-time-budget=10000", "--dump-dom",
                         probed.as_uri()],
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
  assert m, f"the probe did not run: {proc.stdout[-500:]} {proc.stderr[-1000:]}"
  return json.loads(html.unescape(m.group(1))), proc.stderr


@pytest.fixture(scope="module")
def real_page(tmp_path_factory, testing_outcome):
  """``report.html`` of a directory holding every experiment's testing
  preset, run for real (shared with the experiments' own tests) and written
  as the command line writes it (``launch.run``: sidecar, tables, figure)."""
  out = tmp_path_factory.mktemp("real")
  for name, exp in experiments.REGISTRY.items():
    outcome = testing_outcome(name)
    ran = exp._replace(execute=lambda st, options, o=outcome: o)
    assert launch.run(ran, exp.presets["testing"], launch.Run(out_dir=out),
                      meta={"command": ["vanishing", name]},
                      log=lambda *_: None)
  page, entries = report.write(out)
  assert [x.name for x in entries] == list(experiments.REGISTRY)
  assert {x.status for x in entries} == {"finished"}
  return page


@browser
def test_a_real_report_shows_every_figure_and_table_in_chromium(real_page):
  """Every experiment's section, with its figure loaded and drawn at a
  readable size, its tables with rows; no broken image, no script or
  console error."""
  check_page(real_page)
  seen, stderr = seen_in_chromium(real_page)
  assert seen["errors"] == [], seen["errors"]
  assert "Uncaught" not in stderr and ":ERROR:CONSOLE" not in stderr, stderr
  sections = {x["id"]: x for x in seen["sections"]}
  assert list(sections) == list(experiments.REGISTRY)
  for name, x in sections.items():
    assert x["status"] == "(finished)", (name, x)
    assert x["images"] == 1, (name, x)  # its figure
    # The run table, the settings, the first rows of its main table where
    # it writes one, and its Markdown report's tables.
    md = real_page.with_name(f"{name}.md")
    want = 2 + real_page.with_name(f"{name}.csv").exists() + (
        report.markdown_html(md.read_text()).count("<table>") if md.exists()
        else 0)
    assert x["tables"] == want and x["rows"] >= 10, (name, want, x)
  assert len(seen["images"]) == len(experiments.REGISTRY)
  for img in seen["images"]:
    assert img["complete"], img["alt"]
    w, h = img["natural"]
    assert w > 100 and h > 100, (img["alt"], "a broken or empty image")
    sw, sh = img["shown"]
    assert sw > 100 and sh > 50, (img["alt"], "not shown", img["shown"])
  names = [img["alt"] for img in seen["images"]]
  assert names == [f"{n} figure" for n in experiments.REGISTRY]


@browser
def test_the_probe_sees_a_broken_image_and_a_script_error(tmp_path):
  """The check above can fail: a page with an image that does not decode
  and a script that throws is reported as such."""
  page = tmp_path / "report.html"
  page.write_text("<!DOCTYPE html>\n<html><head><title>t</title></head><body>"
                  '<section id="x"><h2>x <span>(finished)</span></h2>'
                  '<img alt="x figure" src="data:image/png;base64,AAAA">'
                  "</section><script>nope();</script></body></html>\n")
  seen, _ = seen_in_chromium(page)
  assert seen["images"][0]["natural"] == [0, 0]
  assert any("nope" in e for e in seen["errors"]), seen["errors"]
  assert any(e.startswith("failed to load IMG") for e in seen["errors"]), seen


@browser
def test_screenshot_in_headless_chromium(tmp_path):
  """The page, rendered, shows the experiment's figure: a figure filled
  with one colour no other part of the page uses appears in the
  screenshot as a block of roughly the figure's size."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.image
  import matplotlib.pyplot as plt
  finished_set(tmp_path, "density")
  fig = plt.figure(figsize=(3, 2), dpi=100, facecolor=(1.0, 0.0, 1.0))
  results.save_figure(fig, tmp_path / "density.png")
  plt.close(fig)
  page, _ = report.write(tmp_path)
  shot = tmp_path / "shot.png"
  subprocess.run([shutil.which(CHROMIUM), "--headless", "--no-sandbox",
                  "--disable-gpu", f"--screenshot={shot}",
                  "--window-size=1200,1600", page.as_uri()],
                 check=True, capture_output=True, timeout=120)
  rgb = matplotlib.image.imread(shot)[..., :3]
  magenta = (rgb[..., 0] > 0.9) & (rgb[..., 1] < 0.1) & (rgb[..., 2] > 0.9)
  rows, cols = np.nonzero(magenta)
  assert magenta.sum() > 0.5 * 300 * 200, "the figure is not on the page"
  assert 150 < rows.max() - rows.min() + 1 and 250 < cols.max() - cols.min() + 1
