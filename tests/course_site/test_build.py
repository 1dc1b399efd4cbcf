"""The site builder on a tiny course of its own (no TensorFlow): order, navigation, links,
error notes, widget views, and that solutions never reach the site. A few seconds: four
small notebooks executed on two kernels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from course_site.build import build_site, main, problems, unexpected_exercise_errors
from course_site.mathml import MathConverter
from course_site.pages import Page, course_pages, fix_anchors, refuse_solutions

SECRET = "the_planted_solution_value_7319"

README = """# Tiny course

| Lecture | Assignment graded after it |
|---|---|
| 01 Intro | none yet |
| 02 More: links | `beta`: listed first; `alpha`: listed second; `gone`: no such exercise |
"""


def markdown(text):
    return nbformat.v4.new_markdown_cell(text)


def code(text, **nbgrader):
    cell = nbformat.v4.new_code_cell(text)
    if nbgrader:
        cell.metadata["nbgrader"] = dict(nbgrader, grade_id=nbgrader.get("grade_id", "cell"), schema_version=3)
    return cell


def write(path: Path, cells) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def tiny_course(root: Path) -> Path:
    (root / "README.md").write_text(README)
    (root / "course_utils").mkdir()
    (root / "course_utils" / "data.py").write_text("PAGES = 1\n")
    write(root / "lectures" / "01_intro.ipynb", [
        markdown("# Lecture 1: Intro\n\nThen [the alpha exercise](../exercises/alpha/alpha.ipynb#part-1-adding), "
                 "[lecture 2](02_more.ipynb), the library's [data module](../course_utils/data.py), "
                 "[a web page](https://example.org/x) and `[a link in code](../nowhere.ipynb)`."),
        code("import ipywidgets\nprint('lecture one ran')\nipywidgets.IntSlider(value=3)"),
        code("import base64\nfrom IPython.display import Image, display\n"
             "display(Image(base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
             "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')))"),
    ])
    write(root / "lectures" / "02_more.ipynb", [markdown(
        "# Lecture 2: More\n\n## Its only section\n\nAn image of $H \\times W$ pixels, "
        "$$\\frac{a}{b}$$ $a < b$ `$HOME` (code), it costs $5 and $6, and $\\left( x$ is broken TeX.")])
    write(root / "exercises" / "alpha" / "alpha.ipynb", [
        markdown("# Exercise alpha\n\nRead [lecture 1](../../lectures/01_intro.ipynb) first.\n\n## Part 1: Adding"),
        code("def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()", solution=True, grade=False,
             grade_id="add"),
        code('"""Visible test: small sums."""\nassert add(1, 2) == 3', solution=False, grade=True, points=1,
             grade_id="test_add"),
        code("print('given cell ran')"),
    ])
    write(root / "exercises" / "beta" / "beta.ipynb", [markdown("# Exercise beta"), code("print(6 * 7)")])
    write(root / "solutions" / "alpha" / "alpha.ipynb", [
        markdown("# Exercise alpha"),
        code(f"def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b  # {SECRET}\n    ### END SOLUTION",
             solution=True, grade=False, grade_id="add"),
    ])
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tiny_course(tmp_path_factory.mktemp("course"))
    report = build_site(root, root / "build" / "site", jobs=2, cell_timeout_s=120, log=lambda line: None)
    return root / "build" / "site", report


def read(site_dir: Path, url: str) -> str:
    return (site_dir / url).read_text(encoding="utf-8")


def nav_links(page_html: str, rel: str) -> list[str]:
    """The href of each <a rel=REL> of a page, whatever the order of its attributes."""
    tags = re.findall(r"<a\b[^>]*>", page_html)
    return [re.search(r'href="([^"]+)"', tag).group(1) for tag in tags if f'rel="{rel}"' in tag]


def test_pages_follow_the_lectures_then_the_readme_table(tmp_path):
    pages = course_pages(tiny_course(tmp_path))
    assert [page.url for page in pages] == [
        "index.html", "lectures/01_intro.html", "lectures/02_more.html", "exercises/beta.html", "exercises/alpha.html"]
    assert [page.title for page in pages[1:]] == ["Lecture 1: Intro", "Lecture 2: More", "Exercise beta",
                                                  "Exercise alpha"]


def test_the_index_nests_each_exercise_under_its_lecture(site):
    site_dir, _ = site
    index = read(site_dir, "index.html")
    links = re.findall(r'href="([^"]+)"', index)
    assert links[:4] == ["lectures/01_intro.html", "lectures/02_more.html", "exercises/beta.html",
                         "exercises/alpha.html"]
    assert re.search(r'02_more\.html">Lecture 2: More</a><ul><li>Exercise: <a href="exercises/beta\.html"', index)


def test_every_page_links_its_neighbours_and_the_index(site):
    site_dir, report = site
    urls = [entry["page"] for entry in report["pages"]]
    assert urls == ["lectures/01_intro.html", "lectures/02_more.html", "exercises/beta.html", "exercises/alpha.html"]
    expected_next = {"index.html": "lectures/01_intro.html", "lectures/01_intro.html": "02_more.html",
                     "lectures/02_more.html": "../exercises/beta.html", "exercises/beta.html": "alpha.html"}
    for url, following in expected_next.items():
        assert nav_links(read(site_dir, url), "next")[0] == following, url
    alpha = read(site_dir, "exercises/alpha.html")
    assert nav_links(alpha, "prev") == ["beta.html", "beta.html"]          # top and bottom
    assert nav_links(alpha, "next") == [] and nav_links(alpha, "index") == ["../index.html", "../index.html"]


def test_links_point_at_site_pages_or_become_repository_paths(site):
    site_dir, report = site
    lecture = read(site_dir, "lectures/01_intro.html")
    # the GitHub-style anchor is matched to the heading id nbconvert gave the exercise
    assert 'href="../exercises/alpha.html#Part-1:-Adding"' in lecture
    assert 'id="Part-1:-Adding"' in read(site_dir, "exercises/alpha.html")
    assert 'href="02_more.html"' in lecture and 'href="https://example.org/x"' in lecture
    assert "data module (<code>course_utils/data.py</code> in the course repository)" in lecture
    assert "../course_utils/data.py" not in lecture
    assert "[a link in code](../nowhere.ipynb)" in lecture          # inline code is left as written
    assert 'href="../lectures/01_intro.html"' in read(site_dir, "exercises/alpha.html")
    assert report["links_as_text"] == ["lectures/01_intro.ipynb: link to course_utils/data.py shown as text"]
    assert not re.search(r'href="[^"]*\.ipynb', "".join(read(site_dir, e["page"]) for e in report["pages"]))


def test_exercise_errors_become_notes_and_outputs_stay(site):
    site_dir, report = site
    alpha = read(site_dir, "exercises/alpha.html")
    assert "Traceback" not in alpha and "ename" not in alpha
    assert re.search(r"raise</span> <span[^>]*>NotImplementedError", alpha)   # the stub's code is shown
    assert alpha.count('class="site-note"') == 1
    assert "These tests check your answer: your code goes in the answer cell above" in alpha
    assert "given cell ran" in alpha and "42" in read(site_dir, "exercises/beta.html")
    by_page = {entry["page"]: entry for entry in report["pages"]}
    assert by_page["exercises/alpha.html"]["errors"] == ["cell 2: NotImplementedError: "]
    assert problems(report) == []                                              # exercise errors are expected


def test_lecture_outputs_keep_figures_and_drop_widget_views(site):
    site_dir, report = site
    lecture = read(site_dir, "lectures/01_intro.html")
    assert "lecture one ran" in lecture and "IntSlider(value=3)" in lecture    # the widget's text stands in
    assert "widget-view+json" not in lecture and "jupyter-widgets" not in lecture
    assert re.search(r'<img [^>]*src="data:image/png;base64,iVBOR', lecture)
    assert not re.search(r"<script[^>]+src=", lecture)                        # nothing loaded from the network
    # JupyterLab's theme is written once and linked, not inlined in every page
    stylesheets = re.findall(r'<link rel="stylesheet" href="(\.\./static/notebook-\w+\.css)"/>', lecture)
    assert sum((site_dir / "lectures" / name).stat().st_size for name in stylesheets) > 100_000
    assert len(lecture) < 60_000
    assert report["page_count"] == 5 and report["image_count"] == 1
    assert json.loads((site_dir / "site-report.json").read_text())["page_count"] == 5


def test_a_solution_never_reaches_the_site(site):
    site_dir, _ = site
    rendered = "".join(path.read_text() for path in site_dir.rglob("*.html"))
    assert SECRET not in rendered and "BEGIN SOLUTION" not in rendered


def test_an_exercise_with_solution_markers_is_refused(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[code("x = 1\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS")])
    with pytest.raises(ValueError, match=r"exercises/x/x\.ipynb contains '### BEGIN HIDDEN TESTS'.*segcourse release"):
        refuse_solutions(notebook, "exercises/x/x.ipynb")


def test_a_fragment_with_no_heading_is_dropped_and_reported():
    page = Page("lectures/01_a.ipynb", "lectures/01_a.html", "A", "lecture", "01")
    text, report = fix_anchors(page, '<a href="02_b.html#Nowhere">b</a> <a href="02_b.html#There">b</a>',
                               {"lectures/02_b.html": {"There"}})
    assert text == '<a href="02_b.html">b</a> <a href="02_b.html#There">b</a>'
    assert report == ["lectures/01_a.html: no heading for #Nowhere on lectures/02_b.html: linked to the page"]


def test_a_course_without_lectures_is_refused_by_name(tmp_path):
    (tmp_path / "README.md").write_text(README)
    with pytest.raises(FileNotFoundError, match=r"no lectures/NN_\*\.ipynb under"):
        course_pages(tmp_path)


def test_formulas_become_mathml_and_code_and_prices_stay(site):
    pytest.importorskip("latex2mathml", reason="latex2mathml (a dependency of the project) is not installed")
    site_dir, report = site
    lecture = read(site_dir, "lectures/02_more.html")
    assert '<math display="inline"><mrow><mi>H</mi><mo>\u00d7</mo><mi>W</mi></mrow></math>' in lecture
    assert "<mi>a</mi><mo>&lt;</mo><mi>b</mi>" in lecture
    assert '<math display="block"><mrow><mfrac>' in lecture
    assert "<code>$HOME</code>" in lecture and "it costs $5 and $6" in lecture and "$\\left( x$" in lecture
    assert report["formulas"] == 3
    assert report["formulas_left_as_tex"] == [
        "lectures/02_more.ipynb: '$\\\\left( x$' left as TeX (ExtraLeftOrMissingRightError: )"]


def test_the_math_converter_counts_and_names_what_it_leaves():
    pytest.importorskip("latex2mathml", reason="latex2mathml (a dependency of the project) is not installed")
    math = MathConverter("here")
    assert math("no formula, $ alone") == "no formula, $ alone" and math.converted == 0
    assert math("$x$").startswith('<math display="inline"><mrow><mi>x</mi>') and math.converted == 1
    assert math("$\\frac{1}{$") == "$\\frac{1}{$" and math.failed[0].startswith("here: '$\\\\frac{1}{$' left as TeX")


def test_the_command_refuses_a_folder_with_no_course_table(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["--root", str(tmp_path), "--out", str(tmp_path / "site")])
    assert exit_status.value.code == 2
    message = capsys.readouterr().err
    assert f"no README.md in {tmp_path}: the site takes the course order from its course table" in message
    assert not (tmp_path / "site").exists()


def test_lecture_errors_fail_the_build_and_odd_exercise_errors_are_named():
    report = {"pages": [
        {"source": "lectures/01_a.ipynb", "errors": ["cell 3: ValueError: bad"], "failure": None},
        {"source": "exercises/b/b.ipynb", "errors": ["cell 2: NotImplementedError: ", "cell 5: ImportError: no x"],
         "failure": None},
        {"source": "exercises/c/c.ipynb", "errors": [], "failure": "CellTimeoutError: cell 4"}]}
    assert problems(report) == ["lectures/01_a.ipynb: cell 3: ValueError: bad",
                                "exercises/c/c.ipynb: execution stopped: CellTimeoutError: cell 4"]
    assert unexpected_exercise_errors(report) == ["exercises/b/b.ipynb: cell 5: ImportError: no x"]
