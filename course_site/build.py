"""Build the course site: execute each page's notebook on its own kernel, render it, link it.

Usage (``make site`` runs the first)::

    python -m course_site                      # the course here -> build/site/
    python -m course_site --root COURSE --out DIR --jobs 2 --timeout 900

Exit status 0 when every page executed and no lecture cell raised; 1 otherwise (the site
is still written, the failures are listed on stderr and in ``site-report.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from course_site.mathml import MathConverter
from course_site.mathml import available as mathml_available
from course_site.pages import (
    LinkRewriter,
    Page,
    clean_outputs,
    course_pages,
    fix_anchors,
    note_output,
    page_ids,
    refuse_solutions,
    relative_url,
    rewrite_markdown,
)

DEFAULT_JOBS = 2
# Seconds one cell may run: the longest lecture cell trains for about a minute on 2 busy cores.
DEFAULT_CELL_TIMEOUT_S = 900
REPORT_NAME = "site-report.json"
# An inline stylesheet this long is written once to static/ and linked from each page.
SHARED_STYLESHEET_MIN_CHARS = 8_000
INLINE_STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.DOTALL)

SITE_CSS = """
nav.site-nav { display: flex; justify-content: space-between; gap: 1em; padding: 0.6em 1em;
  margin: 0.5em 0; background: #f3f5f8; border: 1px solid #d8dde5; border-radius: 6px;
  font-family: system-ui, sans-serif; font-size: 14px; }
nav.site-nav a { text-decoration: none; color: #1f5fa8; }
nav.site-nav .site-none { color: #999; }
math[display="block"] { margin: 0.6em 0; }
math { font-size: 1.1em; }
div.site-note { padding: 0.4em 0.8em; background: #fff8e1; border-left: 4px solid #f0b400;
  font-family: system-ui, sans-serif; font-size: 13px; }
"""

PAGE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- No script from the network: no require.js, MathJax, mermaid or widget manager. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.site_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.site_nav }}
{%- endblock body_header -%}
{%- block body_footer -%}
{{ resources.site_nav }}
{{ super() }}
{%- endblock body_footer -%}
"""

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style type="text/css">
body {{ font-family: system-ui, sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}
ul.course > li {{ margin: 0.6em 0; }}
ul.course ul {{ margin: 0.2em 0; }}
{css}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p>The lectures in order, each followed by the exercises graded after it. Every page was
executed when the site was built (<code>COURSE_FAST=1</code>: shortened training), so its
figures are the notebook's own; the interactive explorers show their static figure. The
exercises are the release a student receives, unanswered: their answer cells say where your
code goes. Run the notebooks in JupyterLab (<code>make lab</code>) to work on them.</p>
<ul class="course">
{items}
</ul>
{nav}
</main>
</body>
</html>
"""


def navigation(pages: list[Page], index: int) -> str:
    """The previous / index / next bar of ``pages[index]`` (HTML)."""
    page = pages[index]

    def link(target: Page | None, css_class: str, rel: str, label: str) -> str:
        if target is None:
            return f'<span class="{css_class} site-none">{label}</span>'
        return (f'<a class="{css_class}" rel="{rel}" href="{html.escape(relative_url(page.url, target.url))}">'
                f"{html.escape(label.format(title=target.title))}</a>")

    previous = pages[index - 1] if index > 0 else None
    following = pages[index + 1] if index + 1 < len(pages) else None
    return ('<nav class="site-nav" aria-label="course">'
            + link(previous, "site-prev", "prev", "\u2190 {title}" if previous else "\u2190")
            + (link(pages[0], "site-index", "index", "Course index") if index else "")
            + link(following, "site-next", "next", "{title} \u2192" if following else "\u2192")
            + "</nav>")


def index_html(pages: list[Page]) -> str:
    """The index page: each lecture with its exercises nested under it, in course order."""
    def link(page: Page) -> str:
        return f'<a href="{html.escape(page.url)}">{html.escape(page.title)}</a>'

    groups: list[tuple[Page | None, list[Page]]] = []
    for page in pages[1:]:
        if page.kind == "lecture":
            groups.append((page, []))
        elif page.lecture is not None and groups:
            groups[-1][1].append(page)
        else:
            groups.append((None, [page]))
    items = []
    for lecture, exercises in groups:
        if lecture is None:
            items.append(f"<li>Exercise (not in the README's course table): {link(exercises[0])}</li>")
            continue
        nested = "".join(f"<li>Exercise: {link(exercise)}</li>" for exercise in exercises)
        items.append(f"<li>{link(lecture)}" + (f"<ul>{nested}</ul>" if nested else "") + "</li>")
    return INDEX_TEMPLATE.format(title=html.escape(pages[0].title), css=SITE_CSS, items="\n".join(items),
                                 nav=navigation(pages, 0))


def kernel_environment(progress_file: Path) -> dict[str, str]:
    """The environment of every kernel: fast training, static widget figures, a throwaway
    self-check progress file (so building never touches ``~/.segcourse``)."""
    env = dict(os.environ)
    for live_front_end in ("JPY_SESSION_NAME", "VSCODE_PID"):
        env.pop(live_front_end, None)
    env.update({"COURSE_FAST": "1", "SEGCOURSE_WIDGETS": "static", "TF_CPP_MIN_LOG_LEVEL": "2",
                "SEGCOURSE_PROGRESS_FILE": str(progress_file)})
    return env


def execute_page(root: Path, page: Page, env: dict[str, str], cell_timeout_s: int):
    """Execute ``page``'s notebook on a fresh kernel in its own folder (errors do not stop it).

    Returns (notebook, seconds, failure): ``failure`` is None, or a one-line reason when the
    execution itself broke (a cell over ``cell_timeout_s``, a dead kernel); the notebook then
    holds the outputs it reached."""
    path = root / page.source
    notebook = nbformat.read(path, as_version=4)
    if page.kind == "exercise":
        refuse_solutions(notebook, page.source)
    started = time.perf_counter()
    failure = None
    try:
        NotebookClient(notebook, timeout=cell_timeout_s, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    except Exception as error:  # a page whose run broke is still shown, and reported
        failure = f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"
        traceback.print_exc(file=sys.stderr)
    return notebook, time.perf_counter() - started, failure


def render_page(exporter: HTMLExporter, pages: list[Page], index: int, notebook, root: Path):
    """(HTML of ``pages[index]``, its LinkRewriter, its MathConverter) for an executed ``notebook``."""
    page = pages[index]
    rewriter = LinkRewriter(root, page, {p.source: p for p in pages if p.source})
    math = MathConverter(page.source)
    rewrite_markdown(notebook, rewriter, math)
    body, _ = exporter.from_notebook_node(notebook, resources={
        "metadata": {"name": page.title}, "site_nav": navigation(pages, index), "site_css": SITE_CSS})
    return body, rewriter, math


def page_exporter() -> HTMLExporter:
    """nbconvert's JupyterLab HTML with the site's navigation, and no script from the network."""
    return HTMLExporter(template_name="lab", template_file="course_site_page.html.j2",
                        extra_loaders=[DictLoader({"course_site_page.html.j2": PAGE_TEMPLATE})])


def build_site(root: Path, out: Path, jobs: int = DEFAULT_JOBS, cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
               log=print) -> dict:
    """Build the site of the course at ``root`` into ``out`` and return its report (a dict:
    pages with seconds, errors and failures; links shown as text; anchors repaired; totals).

    ``out`` is replaced: its ``lectures/``, ``exercises/`` and ``static/`` are removed first.
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    if jobs < 1 or cell_timeout_s < 1:
        raise ValueError(f"jobs and cell_timeout_s must be at least 1, got {jobs} and {cell_timeout_s}")
    started = time.perf_counter()
    pages = course_pages(root)
    for stale in ("lectures", "exercises", "static"):
        shutil.rmtree(out / stale, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    report = {"pages": [], "links_as_text": [], "anchors": [], "jobs": jobs,
              "mathml": mathml_available(), "formulas": 0, "formulas_left_as_tex": []}
    if not report["mathml"]:
        log("note: latex2mathml is not installed: formulas stay as TeX (pip install latex2mathml)")
    with tempfile.TemporaryDirectory(prefix="course-site-") as scratch:
        env = kernel_environment(Path(scratch) / "progress.json")
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            runs = {page.source: pool.submit(execute_page, root, page, env, cell_timeout_s)
                    for page in pages if page.source}
            exporter = page_exporter()
            rendered = {}
            for index, page in enumerate(pages):
                if not page.source:
                    continue
                notebook, seconds, failure = runs[page.source].result()
                errors = clean_outputs(notebook, page.kind)
                if failure:
                    notebook.cells.insert(0, nbformat.v4.new_code_cell(outputs=[note_output(
                        f"Building this page stopped early ({failure}): outputs below it may be missing.")]))
                rendered[page.url], rewriter, math = render_page(exporter, pages, index, notebook, root)
                report["links_as_text"] += rewriter.replaced
                report["formulas"] += math.converted
                report["formulas_left_as_tex"] += math.failed
                report["pages"].append({"page": page.url, "source": page.source, "seconds": round(seconds, 1),
                                        "errors": errors, "failure": failure})
                log(f"{page.url}: {seconds:.1f} s" + (f", {len(errors)} error output(s)" if errors else "")
                    + (f", FAILED: {failure}" if failure else ""))
    rendered["index.html"] = index_html(pages)
    ids = {url: page_ids(text) for url, text in rendered.items()}
    images = 0
    for page in pages:
        text, fixes = fix_anchors(page, rendered[page.url], ids)
        text = share_stylesheets(page, text, out)
        report["anchors"] += fixes
        images += text.count("<img ")
        (out / page.url).parent.mkdir(parents=True, exist_ok=True)
        (out / page.url).write_text(text, encoding="utf-8")
    report.update(page_count=len(pages), image_count=images, seconds=round(time.perf_counter() - started, 1))
    (out / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def share_stylesheets(page: Page, page_html: str, out: Path) -> str:
    """``page_html`` with each large inline stylesheet (nbconvert inlines JupyterLab's theme,
    about 250 kB, into every page) moved to ``out/static/<hash>.css`` and linked, so the
    browser loads it once for the whole site."""
    def link(match: re.Match) -> str:
        css = match.group(1)
        if len(css) < SHARED_STYLESHEET_MIN_CHARS:
            return match.group(0)
        name = f"static/notebook-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        if not (out / name).is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(css, encoding="utf-8")
        return f'<link rel="stylesheet" href="{relative_url(page.url, name)}"/>'

    return INLINE_STYLE.sub(link, page_html)


def problems(report: dict) -> list[str]:
    """What makes a build fail: a page whose execution broke, a lecture cell that raised."""
    found = []
    for entry in report["pages"]:
        if entry["failure"]:
            found.append(f"{entry['source']}: execution stopped: {entry['failure']}")
        if entry["source"].startswith("lectures/"):
            found += [f"{entry['source']}: {error}" for error in entry["errors"]]
    return found


def unexpected_exercise_errors(report: dict) -> list[str]:
    """Exercise errors other than the answer stubs' NotImplementedError (shown as notes on
    the page, but worth a look: a given cell may be broken)."""
    return [f"{entry['source']}: {error}" for entry in report["pages"] if entry["source"].startswith("exercises/")
            for error in entry["errors"] if not error.split(": ", 2)[1] == "NotImplementedError"]


def main(argv: list[str] | None = None) -> int:
    """The command line: build, print a summary and the notes, return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m course_site", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the course folder (default: here)")
    parser.add_argument("--out", type=Path, default=None, help="where the site goes (default: ROOT/build/site)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="notebooks executed at once (default: 2)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT_S, help="seconds one cell may run")
    args = parser.parse_args(argv)
    out = args.out or args.root / "build" / "site"
    try:
        report = build_site(args.root, out, jobs=args.jobs, cell_timeout_s=args.timeout)
    except (FileNotFoundError, ValueError) as error:   # a wrong folder or option, a solution in exercises/
        parser.error(str(error))
    print(f"{report['page_count']} pages, {report['image_count']} images, {report['seconds']} s "
          f"({args.jobs} kernels): {out / 'index.html'}")
    print(f"{report['formulas']} formulas as MathML")
    unexpected = [f"{error} (not an answer stub's NotImplementedError)" for error in unexpected_exercise_errors(report)]
    for line in report["links_as_text"] + report["anchors"] + report["formulas_left_as_tex"] + unexpected:
        print(f"  note: {line}")
    found = problems(report)
    for line in found:
        print(f"ERROR: {line}", file=sys.stderr)
    return 1 if found else 0
