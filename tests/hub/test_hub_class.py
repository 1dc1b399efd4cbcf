"""A class of two on a real JupyterHub, in Chromium: ``make test-hub`` (root).

The hub of ``deploy/jupyterhub`` (``setup.sh`` then ``jupyterhub``, on a free port of
127.0.0.1) with its local users: ``student1`` and ``student2`` log in through the hub's login
page (PAM passwords), fetch ``fcn_basics`` from the Assignments tab, answer it (student1 all
of it, student2 leaves the first part as released), and submit from the Assignments tab. The
instructor logs in and sees the assignment in the formgrader, collects (``nbgrader collect``
as the instructor), grades (``deploy/jupyterhub/grade.sh``: ``segcourse grade`` in the
sandbox, as root) and releases feedback (``nbgrader release_feedback`` as the instructor).
Each student fetches feedback from the Assignments tab and opens it: their own score, and no
way to the other's (the exchange's feedback folder cannot be listed, the files are named by a
hash of each submission's own secret, homes are private, the hub refuses another's server).

It resets the course work of the recipe's demo users first (their fetched copies, the
exchange's course folder, the instructor's ``course/.grading``): run it on a test machine.
Screenshots and the hub's log go to ``build/hub/`` (``$SEGCOURSE_HUB_SCREENSHOTS``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.demo_class import build_submission, solution_answers
from tests import REPO_ROOT
from tests.chromium import chromium, why_no_browser

pytestmark = [pytest.mark.hub, pytest.mark.slow]

ASSIGNMENT = "fcn_basics"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
HUB_DIR = REPO_ROOT / "deploy" / "jupyterhub"
VENV_BIN = Path(sys.executable).parent
STATE = Path("/srv/segcourse-hub")
EXCHANGE = Path("/srv/nbgrader/exchange")
INSTRUCTOR, STUDENTS = "instructor", ("student1", "student2")
COMPLETE, PART_WRONG = STUDENTS
SCREENSHOTS = Path(os.environ.get("SEGCOURSE_HUB_SCREENSHOTS") or REPO_ROOT / "build" / "hub")
UI_TIMEOUT_MS = 60_000
SPAWN_TIMEOUT_MS = 180_000          # a user's first JupyterLab on a busy 2-core machine
STEP_TIMEOUT_S = 600

try:
    from playwright.sync_api import expect
except ImportError:  # the skip below says what to install
    pass

if os.geteuid() != 0:
    pytestmark.append(pytest.mark.skip(reason="the hub test needs root (it creates users): sudo make test-hub"))
elif why_no_browser("test-hub"):
    pytestmark.append(pytest.mark.skip(reason=why_no_browser("test-hub")))


def course_id() -> str:
    from autograder.course import COURSE_ID
    return COURSE_ID


def run(command: list[str], user: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` (as ``user`` with that user's HOME, else as root); fail the test with its
    output if it fails."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if user is not None:
        home = f"/home/{user}"
        command = ["runuser", "-u", user, "--", "env", f"HOME={home}", f"USER={user}", f"LOGNAME={user}",
                   f"PATH={env['PATH']}", *command]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    log = f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with open(SCREENSHOTS / "commands.log", "a") as commands_log:
        commands_log.write(log)
    assert result.returncode == 0, f"exit {result.returncode}: {log[-4000:]}"
    return result


def free_port_block() -> int:
    """A port P with P, P+1 (the proxy's API) and P+81 (the hub's API) free on 127.0.0.1."""
    for port in range(18000, 19000, 7):
        try:
            for offset in (0, 1, 81):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
    raise RuntimeError("no free block of ports between 18000 and 19081")


def reset_course_work() -> None:
    """Forget earlier runs: the students' fetched copies and submission caches, the exchange's
    course folder, the instructor's runtime folder (submissions, gradebook, feedback)."""
    for student in STUDENTS:
        shutil.rmtree(f"/home/{student}/{ASSIGNMENT}", ignore_errors=True)
        shutil.rmtree(f"/home/{student}/.local/share/jupyter/nbgrader_cache", ignore_errors=True)
    shutil.rmtree(EXCHANGE / course_id(), ignore_errors=True)
    shutil.rmtree(f"/home/{INSTRUCTOR}/course/.grading", ignore_errors=True)


@pytest.fixture(scope="module")
def hub():
    """The recipe's hub on 127.0.0.1; yields (base_url, passwords); stopped afterwards."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    started = time.monotonic()
    run([str(HUB_DIR / "setup.sh")])
    again = run([str(HUB_DIR / "setup.sh")]).stdout.splitlines()     # idempotent: nothing made twice
    assert len(again) == 1 and again[0].startswith("hub setup: ready"), again
    reset_course_work()
    passwords = dict(line.strip().split(":", 1) for line in (STATE / "passwords").read_text().splitlines())
    port = free_port_block()
    base_url = f"http://127.0.0.1:{port}"
    log = SCREENSHOTS / "jupyterhub.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(HUB_DIR / "jupyterhub_config.py")], cwd=STATE,
            env={**os.environ, "SEGCOURSE_HUB_PORT": str(port)}, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"jupyterhub exited {process.returncode}:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{base_url}/hub/api", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"the hub did not answer in 120 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)     # readiness poll of a server, not a wait for the UI
        print(f"hub ready after {time.monotonic() - started:.0f} s (setup included)")
        yield base_url, passwords
    finally:
        process.send_signal(2)      # SIGINT: the hub stops the users' servers and its proxy
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with chromium(UI_TIMEOUT_MS) as browser:
        yield browser


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def log_in(browser, base_url: str, user: str, password: str, shot: str | None = None):
    """A browser context of ``user``, logged in through the hub's login page, on their JupyterLab."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{base_url}/hub/login")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(password)
    if shot:
        screenshot(page, shot)
    page.locator("#login_submit").click()
    page.wait_for_url(re.compile(f"/user/{user}/lab"), timeout=SPAWN_TIMEOUT_MS)
    expect(page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_be_visible(timeout=SPAWN_TIMEOUT_MS)
    return context, page


def click_menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def menu_items(page, menu: str) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    items = page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return items


def assignment_row(page, listing: str):
    """The row of ``fcn_basics`` in one of the Assignments tab's lists (released, fetched, submitted)."""
    return page.locator(f"#{listing}_assignments_list .list_item", has_text=ASSIGNMENT).first


def save_through_contents_api(page, user: str, path: str, notebook) -> None:
    """Save ``notebook`` at ``path`` in ``user``'s server, with the page's own session."""
    status = page.evaluate(
        """async ([url, body]) => {
            const xsrf = (document.cookie.match('(^|;)\\\\s*_xsrf=([^;]*)') || [])[2];
            const response = await fetch(url, {method: 'PUT', body: body, credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf || '')}});
            return response.status;
        }""",
        [f"/user/{user}/api/contents/{path}",
         json.dumps({"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))})])
    assert status == 200, f"saving {path} as {user}: HTTP {status}"


@pytest.fixture(scope="module")
def class_on_the_hub(hub, browser):
    base_url, passwords = hub
    course = Path(f"/home/{INSTRUCTOR}/course")
    answers = solution_answers(course / "solutions" / ASSIGNMENT / NOTEBOOK)
    release = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    first_part = next(cell.metadata["nbgrader"]["grade_id"] for cell in release.cells
                      if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code")
    student_answers = {COMPLETE: answers, PART_WRONG: {k: v for k, v in answers.items() if k != first_part}}

    # The instructor releases (nbgrader, in the course folder) and sees it in the formgrader.
    run(["nbgrader", "release_assignment", ASSIGNMENT], user=INSTRUCTOR, cwd=course)
    instructor_context, instructor = log_in(browser, base_url, INSTRUCTOR, passwords[INSTRUCTOR],
                                            shot="1_hub_login")
    instructor_menu = menu_items(instructor, "Nbgrader")
    # The formgrader, in its frame inside JupyterLab (its first page loads the gradebook: half a minute).
    click_menu(instructor, "Nbgrader", "Formgrader")
    formgrader = instructor.frame_locator("#formgrader iframe")
    expect(formgrader.locator("td.name", has_text=ASSIGNMENT).first).to_be_visible(timeout=SPAWN_TIMEOUT_MS)
    formgrader.locator("td.name", has_text=ASSIGNMENT).first.scroll_into_view_if_needed()
    screenshot(instructor, "2_instructor_formgrader_released")

    students = {}
    for number, student in enumerate(STUDENTS, start=1):
        context, page = log_in(browser, base_url, student, passwords[student])
        students[student] = (context, page)
        menu = menu_items(page, "Nbgrader")
        formgrader_status = page.request.get(f"{base_url}/user/{student}/formgrader").status
        click_menu(page, "Nbgrader", "Assignment List")
        fetch = assignment_row(page, "released").get_by_role("button", name="Fetch")
        expect(fetch).to_be_visible()
        if number == 1:
            screenshot(page, "3_student_assignments_released")
        fetch.click()
        submit = assignment_row(page, "fetched").get_by_role("button", name="Submit")
        expect(submit).to_be_visible()
        # The student's answers, saved into the fetched notebook by their own server.
        fetched = nbformat.read(f"/home/{student}/{ASSIGNMENT}/{NOTEBOOK}", as_version=4)
        notebook = build_submission_from(fetched, student_answers[student])
        save_through_contents_api(page, student, f"{ASSIGNMENT}/{NOTEBOOK}", notebook)
        submit.click()
        expect(page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT)).to_have_count(1)
        screenshot(page, f"4_{student}_submitted")
        students[student] = (context, page, menu + [f"formgrader HTTP {formgrader_status}"])

    # The instructor collects, grades in the sandbox (root) and releases the feedback.
    collect = run(["nbgrader", "collect", ASSIGNMENT], user=INSTRUCTOR, cwd=course)
    grade = run([str(HUB_DIR / "grade.sh"), ASSIGNMENT, "--workers", "2"])
    run(["nbgrader", "release_feedback", ASSIGNMENT], user=INSTRUCTOR, cwd=course)
    instructor.goto(f"{base_url}/user/{INSTRUCTOR}/formgrader/manage_submissions/{ASSIGNMENT}")
    expect(instructor.locator("#main-table td.student-id", has_text=PART_WRONG)).to_be_visible()
    screenshot(instructor, "5_instructor_formgrader_scores")

    from autograder.course import course_config
    from autograder.nbgrader_api import submission_scores

    scores = {s.student: s for s in submission_scores(course_config(course), ASSIGNMENT, list(STUDENTS))}

    feedback_pages = {}
    for student, (_, page, _) in students.items():
        page.locator("#refresh_assignments_list").click()
        fetch_feedback = page.locator("#submitted_assignments_list").get_by_role("button", name="Fetch Feedback")
        expect(fetch_feedback).to_be_enabled()
        fetch_feedback.click()
        view = page.locator("#submitted_assignments_list a", has_text="view feedback")
        expect(view).to_be_visible()
        screenshot(page, f"6_{student}_feedback_fetched")
        local = sorted(Path(f"/home/{student}/{ASSIGNMENT}/feedback").glob(f"*/{NOTEBOOK[:-6]}.html"))
        assert len(local) == 1, local
        relative = local[0].relative_to(f"/home/{student}")
        page.goto(f"{base_url}/user/{student}/files/{relative}")
        feedback_pages[student] = page.content()
        screenshot(page, f"7_{student}_feedback_open")
        # another student's server is not theirs to open
        other = next(s for s in STUDENTS if s != student)
        response = page.request.get(f"{base_url}/user/{other}/api/contents")
        feedback_pages[f"{student}->{other}"] = response.status
    for context, *_ in [(instructor_context,), *students.values()]:
        context.close()
    return {"scores": scores, "feedback_pages": feedback_pages, "instructor_menu": instructor_menu,
            "student_menus": {s: menu for s, (_, _, menu) in students.items()},
            "logs": collect.stdout + collect.stderr + grade.stdout, "first_part": first_part}


def build_submission_from(fetched, answers):
    """``autograder.demo_class.build_submission`` on a notebook already read."""
    path = SCREENSHOTS / "fetched.ipynb"
    nbformat.write(fetched, path)
    return build_submission(path, answers)


def test_students_see_the_assignments_tab_and_the_instructor_the_formgrader(class_on_the_hub):
    for student, menu in class_on_the_hub["student_menus"].items():
        assert "Assignment List" in menu, (student, menu)
        assert "Formgrader" not in menu and "Course List" not in menu, (student, menu)
        assert "formgrader HTTP 404" in menu, (student, menu)     # the server extension is off too
    assert {"Assignment List", "Course List", "Formgrader"} <= set(class_on_the_hub["instructor_menu"])


def test_grades_are_the_sandboxed_scores(class_on_the_hub):
    scores = class_on_the_hub["scores"]
    complete, part_wrong = scores[COMPLETE], scores[PART_WRONG]
    assert complete.graded and part_wrong.graded, class_on_the_hub["logs"]
    assert complete.max_score > 0 and complete.score == complete.max_score, complete.by_cell
    assert 0 < part_wrong.score < complete.score, part_wrong.by_cell


@pytest.mark.parametrize("student", STUDENTS)
def test_each_student_opens_their_own_feedback_only(class_on_the_hub, student):
    scores, pages = class_on_the_hub["scores"], class_on_the_hub["feedback_pages"]
    own = scores[student]
    header = f"{ASSIGNMENT} (Score: {round(own.score, 2)} / {round(own.max_score, 2)})"
    assert header in pages[student], f"{student}'s feedback page lacks {header!r}"
    other = next(s for s in STUDENTS if s != student)
    assert pages[f"{student}->{other}"] in (403, 404), "a student reached another student's server"
    # The exchange's feedback folder cannot be listed by a student; the home of the other
    # student (their fetched feedback) cannot be read.
    feedback_dir = EXCHANGE / course_id() / "feedback"
    for forbidden in (feedback_dir, Path(f"/home/{other}/{ASSIGNMENT}")):
        listing = subprocess.run(["runuser", "-u", student, "--", "ls", str(forbidden)], capture_output=True,
                                 text=True, timeout=30)
        assert listing.returncode != 0 and "Permission denied" in listing.stderr, (forbidden, listing)
    # Each released feedback file is named by the hash of exactly one submission's secret.
    from nbgrader.utils import notebook_hash

    released = {p.stem for p in feedback_dir.glob("*.html")}
    secret = Path(f"/home/{INSTRUCTOR}/course/.grading/submitted/{student}/{ASSIGNMENT}/submission_secret.txt")
    own_hash = notebook_hash(secret=secret.read_text(), notebook_id=ASSIGNMENT)
    assert own_hash in released and len(released) == len(STUDENTS), released
    own_file = (feedback_dir / f"{own_hash}.html").read_text()
    assert header in own_file
