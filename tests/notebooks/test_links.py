"""Every relative link and repository path named in the course's texts resolves.

Checked texts: the markdown cells of every notebook (``lectures/``, ``solutions/``,
``exercises/``), README.md, CONTRIBUTING.md, ``docs/*.md``, ``runners/README.md`` and the
student kit's README (``autograder.student_kit.project_files.kit_readme``). The feedback
HTML that ``autograder.feedback`` produces is the graded notebook itself, so its lecture
names are the notebooks' and are checked with them.

Checked references:

- markdown links ``[text](target)`` and HTML ``<a href="target">`` / ``<img src="target">``
  whose target is relative (no scheme): the file must exist, relative to the text's folder;
  a ``#anchor`` must name a heading of the target (or of the text itself);
- a path in backticks that starts with one of the repository's tracked top-level folders
  (e.g. `` `lectures/03_fully_convolutional_networks.ipynb` ``, `` `course_utils/data.py` ``)
  and ends in a file suffix: it must exist relative to the repository root. Placeholders
  (``NAME``, ``<assignment>``, ``*``) are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_site.pages import readme_course_table  # the course order, parsed once for site and tests
from tests import REPO_ROOT

REPOSITORY_FOLDERS = ("autograder", "benchmarks", "course_utils", "docs", "exercises", "lectures",
                      "runners", "solutions", "tests")
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
FILE_SUFFIXES = "ipynb|py|md|yml|yaml|toml|cfg|txt|json|npz|h5|keras|html"
BACKTICKED_PATH = re.compile(r"`((?:" + "|".join(REPOSITORY_FOLDERS) + r")/[\w./-]*\.(?:" + FILE_SUFFIXES + r"))`")
PLACEHOLDER = re.compile(r"[<>*{}]|(?:^|/)[A-Z][A-Z_]+(?:[./]|$)")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_texts(path: Path) -> list[str]:
    """The markdown texts of ``path``: each markdown cell of a notebook, or the whole file."""
    if path.suffix == ".ipynb":
        notebook = nbformat.read(path, as_version=4)
        return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    return [path.read_text(encoding="utf-8")]


def heading_anchors(path: Path) -> set[str]:
    """The anchors that link to a heading of ``path``, in both the GitHub style
    (``#my-heading``: lower case, punctuation dropped) and JupyterLab's (``#My-Heading``)."""
    anchors = set()
    for text in markdown_texts(path):
        for heading in HEADING.findall(_without_code_blocks(text)):
            plain = re.sub(r"[`*_]|<[^>]+>", "", heading).strip()
            anchors.add(plain.replace(" ", "-"))
            anchors.add(re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-"))
    return anchors


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.MULTILINE | re.DOTALL)


def dead_links(text: str, folder: Path, repo_root: Path, anchors_here: set[str],
               generated: frozenset[str] = frozenset()) -> list[str]:
    """Each reference of ``text`` (markdown found in ``folder``) that does not resolve,
    as ``'reference' (why)``; ``generated``: repository paths that exist where the text is
    read although not in the repository (files a build writes)."""
    text = _without_code_blocks(text)
    problems = []
    for target in MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text):
        if SCHEME.match(target) or target.startswith("/"):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (folder / file_part).resolve() if file_part else None
        if resolved is not None and not resolved.exists():
            problems.append(f"link '{target}' (no file {_shown(resolved, repo_root)})")
        elif anchor and not _anchor_exists(anchor, resolved, anchors_here):
            problems.append(f"link '{target}' (no heading for #{anchor})")
    for path in BACKTICKED_PATH.findall(text):
        if not PLACEHOLDER.search(path) and path not in generated and not (repo_root / path).exists():
            problems.append(f"path `{path}` (no such file in the repository)")
    return problems


def _anchor_exists(anchor: str, target: Path | None, anchors_here: set[str]) -> bool:
    if target is None:
        return anchor in anchors_here
    if target.suffix not in (".md", ".ipynb"):
        return True  # anchors into other files are not checked
    return anchor in heading_anchors(target)


def _shown(path: Path, repo_root: Path) -> str:
    try:
        return str(path.relative_to(repo_root.resolve()))
    except ValueError:
        return str(path)


def dead_links_in_file(path: Path, repo_root: Path) -> list[str]:
    """Every unresolved reference in the markdown of ``path``, as ``'FILE: reference (why)'``."""
    anchors_here = heading_anchors(path)
    name = _shown(path.resolve(), repo_root)
    return [f"{name}: {problem}" for text in markdown_texts(path)
            for problem in dead_links(text, path.parent, repo_root, anchors_here)]


def checked_files(repo_root: Path) -> list[Path]:
    """The course texts whose links are checked (see the module docstring)."""
    notebooks = [path for folder in ("lectures", "solutions", "exercises")
                 for path in sorted((repo_root / folder).rglob("*.ipynb"))
                 if ".ipynb_checkpoints" not in path.parts]
    documents = [repo_root / name for name in ("README.md", "CONTRIBUTING.md", "runners/README.md")]
    return notebooks + documents + sorted((repo_root / "docs").glob("*.md"))


@pytest.mark.parametrize("path", checked_files(REPO_ROOT), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_link_and_path_resolves(path):
    assert dead_links_in_file(path, REPO_ROOT) == []


def test_the_student_kit_readme_names_files_that_exist():
    from autograder.course import find_assignments
    from autograder.student_kit.build import STORE_MODULE
    from autograder.student_kit.project_files import STORE_TABLE, kit_readme

    lectures = sorted(path.name for path in (REPO_ROOT / "lectures").glob("*.ipynb"))
    readme = kit_readme(find_assignments(REPO_ROOT), lectures, "0")
    written_by_the_kit_build = frozenset(f"course_utils/{name}" for name in (STORE_MODULE, STORE_TABLE))
    assert dead_links(readme, REPO_ROOT, REPO_ROOT, set(), written_by_the_kit_build) == []


def test_every_course_text_is_checked():
    names = {str(path.relative_to(REPO_ROOT)) for path in checked_files(REPO_ROOT)}
    assert {"README.md", "docs/architecture.md", "lectures/01_overview.ipynb",
            "solutions/fcn_basics/fcn_basics.ipynb", "exercises/unet/unet.ipynb"} <= names


def test_a_planted_dead_link_is_reported_with_its_file_and_link(tmp_path):
    (tmp_path / "lectures").mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Real heading\ntext")])
    nbformat.write(notebook, tmp_path / "lectures" / "01_real.ipynb")
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(
        "# Page\n"
        "[fine](../lectures/01_real.ipynb#Real-heading) and [also fine](#page)\n"
        "[gone](../lectures/01_gone.ipynb) and `lectures/02_missing.ipynb` and `lectures/01_real.ipynb`\n"
        '<img src="figure.png"> and [bad anchor](../lectures/01_real.ipynb#No-such-heading)\n'
        "[web](https://example.org/x) and `tests/validity/NAME.py` are not checked\n"
        "```\n[in a code block](nowhere.md)\n```\n"
    )
    assert dead_links_in_file(page, tmp_path) == [
        "docs/page.md: link '../lectures/01_gone.ipynb' (no file lectures/01_gone.ipynb)",
        "docs/page.md: link '../lectures/01_real.ipynb#No-such-heading' (no heading for #No-such-heading)",
        "docs/page.md: link 'figure.png' (no file docs/figure.png)",
        "docs/page.md: path `lectures/02_missing.ipynb` (no such file in the repository)",
    ]


def test_the_readme_pairs_every_assignment_with_a_lecture():
    from autograder.course import find_assignments

    assert sorted(readme_course_table(REPO_ROOT)) == sorted(find_assignments(REPO_ROOT))


@pytest.mark.parametrize("assignment", sorted(readme_course_table(REPO_ROOT)))
def test_each_exercise_introduction_links_its_lecture_and_gives_a_time(assignment):
    introduction = nbformat.read(REPO_ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4).cells[0]
    lecture = readme_course_table(REPO_ROOT)[assignment]
    assert introduction.cell_type == "markdown"
    assert re.search(rf"\]\(\.\./\.\./lectures/{lecture}_\w+\.ipynb\)", introduction.source), (
        f"{assignment}: the first cell should link ../../lectures/{lecture}_*.ipynb (the README's course table)")
    assert re.search(r"\*\*Estimated time:\*\* about [\d.]+ hours?", introduction.source), (
        f"{assignment}: the first cell should give '**Estimated time:** about N hours'")


def lecture_end_problems(last_cell_source: str, lecture_name: str, table: dict[str, str],
                         lecture_names: list[str]) -> list[str]:
    """What is wrong with a lecture's last cell: it must link exactly the exercises the README's
    course table pairs with the lecture; a lecture that has a row but no exercise of its own
    must say where its ideas are graded and link the next lecture (a lecture without a row,
    e.g. an optional one, links no exercise)."""
    number = lecture_name[:2]
    expected = sorted(name for name, paired in table.items() if paired == number)
    linked = sorted(set(re.findall(r"\]\(\.\./exercises/(\w+)/\1\.ipynb\)", last_cell_source)))
    problems = [] if linked == expected else [f"{lecture_name}: its last cell links {linked}, "
                                              f"the README's course table {expected}"]
    later = sorted(name for name in lecture_names if name[:2] > number)
    if not expected and set(table.values()) & {f"{n:02d}" for n in range(int(number) + 1, 100)} and later:
        if "graded" not in last_cell_source.lower():
            problems.append(f"{lecture_name}: no exercise of its own, so its last cell should say where its "
                            "ideas are graded")
        if f"]({later[0]})" not in last_cell_source:
            problems.append(f"{lecture_name}: its last cell should link the next lecture ({later[0]})")
    return problems


@pytest.mark.parametrize("lecture", sorted(REPO_ROOT.glob("lectures/[0-9][0-9]_*.ipynb")), ids=lambda path: path.name)
def test_each_lecture_ends_with_links_to_its_exercises(lecture):
    last_cell = nbformat.read(lecture, as_version=4).cells[-1]
    lecture_names = [path.name for path in REPO_ROOT.glob("lectures/[0-9][0-9]_*.ipynb")]
    if lecture.name[:2] in readme_course_table(REPO_ROOT).values():   # an optional lecture has no row
        assert last_cell.metadata.get("tags") == ["exercise-link"], f"{lecture.name}: tag the last cell exercise-link"
    assert lecture_end_problems(last_cell.source, lecture.name, readme_course_table(REPO_ROOT), lecture_names) == []


def test_lecture_end_check_reports_wrong_and_missing_links():
    table = {"fcn_basics": "03", "unet": "05"}
    lectures = ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb", "05_e.ipynb", "09_optional.ipynb"]
    good_01 = "Graded in `fcn_basics`, after notebook 3 ... it is graded there. Next: [notebook 2](02_b.ipynb)."
    assert lecture_end_problems(good_01, "01_a.ipynb", table, lectures) == []
    assert lecture_end_problems("[x](../exercises/fcn_basics/fcn_basics.ipynb)", "03_c.ipynb", table, lectures) == []
    assert lecture_end_problems("Next: [notebook 2](02_b.ipynb).", "01_a.ipynb", table, lectures) == [
        "01_a.ipynb: no exercise of its own, so its last cell should say where its ideas are graded"]
    assert lecture_end_problems("It is graded later.", "02_b.ipynb", table, lectures) == [
        "02_b.ipynb: its last cell should link the next lecture (03_c.ipynb)"]
    assert lecture_end_problems("[x](../exercises/unet/unet.ipynb)", "03_c.ipynb", table, lectures) == [
        "03_c.ipynb: its last cell links ['unet'], the README's course table ['fcn_basics']"]
    assert lecture_end_problems("Optional, no exercise.", "09_optional.ipynb", table, lectures) == []
