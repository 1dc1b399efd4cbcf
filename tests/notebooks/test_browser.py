"""The course in a real browser: JupyterLab on 127.0.0.1, driven by Playwright and Chromium.

A student opens an exercise notebook, runs it, sees a live course widget and presses
nbgrader's Validate button; an instructor opens the formgrader. Screenshots of each step
go to ``build/browser/`` (or ``$SEGCOURSE_SCREENSHOTS``).

Runs on demand only: ``make test-browser`` (installs Debian's ``chromium`` and the Python
``playwright`` package, then runs ``pytest -m browser``). The browser is the system
Chromium (``/usr/bin/chromium``); ``playwright install`` (a browser download) is never
needed. Without Chromium or Playwright the tests are skipped, saying what is missing.

Everything waits on what the page shows, never on fixed sleeps: the timeouts are generous
because a loaded 2-core machine needs about half a minute just to import Keras.
"""

from __future__ import annotations

import json
import os
import re
import secrets
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

from tests import REPO_ROOT
from tests.chromium import chromium, why_no_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ASSIGNMENT = "fcn_basics"
SCREENSHOTS = Path(os.environ.get("SEGCOURSE_SCREENSHOTS") or REPO_ROOT / "build" / "browser")
VENV_BIN = Path(sys.executable).parent

# Milliseconds. Starting a kernel and importing Keras takes 20-40 s on a busy 2-core machine;
# nbgrader's Validate runs the whole notebook again on a fresh kernel.
UI_TIMEOUT_MS = 60_000
RUN_ALL_TIMEOUT_MS = 300_000
VALIDATE_TIMEOUT_MS = 300_000
SERVER_START_TIMEOUT_S = 180

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect
except ImportError:  # the skip below says what to install
    pass

if why_no_browser("test-browser"):
    pytestmark.append(pytest.mark.skip(reason=why_no_browser("test-browser")))


# --- The course folder a student and an instructor work in -------------------------------


def solved_exercise(assignment: str) -> nbformat.NotebookNode:
    """The released exercise notebook with every answer cell filled in from the solution.

    This is what a student who finished the work holds: the exercise's cells (and ids), with
    the solution code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in place of
    the ``raise NotImplementedError()`` stubs.
    """
    exercise = nbformat.read(REPO_ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    solution = nbformat.read(REPO_ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in solution.cells if cell.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in exercise.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(
                line for line in answers[grade_id].splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return exercise


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A throwaway course folder: the course's nbgrader config, one assignment's source,
    and the released exercise as a student finished it."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO_ROOT / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    (root / "exercises" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(solved_exercise(ASSIGNMENT), root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    return root


# --- The JupyterLab server ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_environment(home: Path) -> dict[str, str]:
    """Environment of the server and its kernels: a private HOME and Jupyter folders, so
    neither the user's settings nor earlier runs change what the browser shows."""
    env = dict(os.environ)
    env.pop("SEGCOURSE_WIDGETS", None)  # let the widgets detect the live front end themselves
    env.update({
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / ".local" / "share" / "jupyter" / "runtime"),
        "IPYTHONDIR": str(home / ".ipython"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        # nbgrader runs `alembic` from PATH when it creates the gradebook.
        "PATH": str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    })
    # No "subscribe to Jupyter news?" notification over the page: it would hide toolbars.
    labconfig = home / ".jupyter" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # Keep every cell in the page (no windowing), so the checks below see all prompts.
    notebook_settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return env


def wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll the server's status API until it answers (or the process died / time ran out)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)  # polling interval of a readiness probe, not a wait for the UI
    raise RuntimeError(f"jupyter lab did not answer {url} within {SERVER_START_TIMEOUT_S} s:\n"
                       f"{log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen, base_url: str, token: str) -> list[str]:
    """Shut the server down (its kernels with it) and make sure no process it started lives on.

    Returns a description of every process that had to be killed (empty when the server
    shut down cleanly).
    """
    import psutil

    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    # The API shutdown stops the kernels first; kernels run in their own sessions, so
    # signalling the server's process group alone would leave them behind.
    try:
        request = urllib.request.Request(f"{base_url}api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(request, timeout=30).close()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
    _, alive = psutil.wait_procs(descendants, timeout=20)
    killed = []
    for leftover in alive:
        try:
            killed.append(f"{leftover.pid} {' '.join(leftover.cmdline())[:120]}")
            leftover.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    return killed


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving the course folder, with a random token.

    Yields ``(base_url, token)``; the server and every kernel are stopped afterwards.
    """
    home = tmp_path_factory.mktemp("home")
    port, token = free_port(), secrets.token_hex(16)
    base_url = f"http://127.0.0.1:{port}/"
    log = home / "jupyter-lab.log"
    command = [
        str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    # nbgrader's Validate and formgrader read nbgrader_config.py from the server's folder.
    with open(log, "w") as log_file:
        process = subprocess.Popen(command, cwd=course, env=lab_environment(home),
                                   stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_server(f"{base_url}api/status?token={token}", process, log)
        yield base_url, token
    finally:
        killed = stop_server(process, base_url, token)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, SCREENSHOTS / "jupyter-lab.log")
        assert not killed, f"processes outlived the JupyterLab server and were killed: {killed}"


@pytest.fixture(scope="module")
def browser():
    with chromium(UI_TIMEOUT_MS) as browser:
        yield browser


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    console_log = []
    page.on("console", lambda message: console_log.append(f"{message.type}: {message.text}"))
    try:
        yield page
    finally:
        # The last state of every test, to see where a failing one stopped.
        screenshot(page, f"last_{request.node.name}")
        (SCREENSHOTS / f"console_{request.node.name}.log").write_text("\n".join(console_log) + "\n")
        context.close()


def screenshot(page_or_locator, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page_or_locator.screenshot(path=str(path))
    return path


def kernel_idle(page):
    """The status bar's kernel item while the notebook's kernel is idle."""
    return page.locator(".jp-StatusBar-TextItem", has_text="| Idle")


def click_menu(page, menu: str, item: str) -> None:
    """Open a JupyterLab main menu and click the item labelled exactly ``item``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel",
                 has_text=re.compile(f"^{re.escape(item)}$")).click()


# JavaScript: True once some code cell is queued, running or done (its prompt is not "[ ]").
RUN_ALL_STARTED = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def run_all_cells(page, attempts: int = 3) -> None:
    """Run > Run All Cells, until the notebook shows that it started.

    Right after the kernel reports "Idle", JupyterLab sometimes drops the command (seen on
    a loaded machine: every prompt stayed "[ ]"); a person would click again, and so do we.
    A prompt turns "[*]" as soon as the cell is queued, so a started run is never repeated.
    """
    for attempt in range(1, attempts + 1):
        click_menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(RUN_ALL_STARTED, timeout=UI_TIMEOUT_MS // 2)
            return
        except PlaywrightTimeoutError:
            print(f"Run All Cells: attempt {attempt} did not start the notebook")
    raise AssertionError(f"Run > Run All Cells did not start the notebook in {attempts} attempts")


# --- The tests ------------------------------------------------------------------------------

# JavaScript: True once a "Run All" has finished: no cell is running or queued ([*]) and at
# least one code cell has an execution count. Cells after an error go back to "[ ]".
RUN_ALL_FINISHED = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim());
    return prompts.length > 0 && !prompts.some(p => p.includes('*'))
        && prompts.some(p => /\\[\\d+\\]/.test(p));
}"""


def test_student_runs_an_exercise_sees_a_widget_and_validates(lab, page):
    base_url, token = lab
    notebook_path = f"exercises/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    page.goto(f"{base_url}lab/tree/{notebook_path}?token={token}")
    notebook = page.locator(".jp-NotebookPanel:visible")
    expect(notebook.locator(".jp-Cell").first).to_contain_text("Assignment 1: FCN basics",
                                                              timeout=RUN_ALL_TIMEOUT_MS)
    # nbgrader's lab extension puts its Validate button on every notebook's toolbar.
    validate_button = notebook.locator(".validate-button")
    expect(validate_button).to_be_visible()

    # 1. Run the whole exercise once the kernel is up: every visible test prints "passed".
    expect(kernel_idle(page)).to_be_visible(timeout=RUN_ALL_TIMEOUT_MS)
    run_all_cells(page)
    page.wait_for_function(RUN_ALL_FINISHED, timeout=RUN_ALL_TIMEOUT_MS)
    outputs = notebook.locator(".jp-OutputArea-output")
    student_notebook = solved_exercise(ASSIGNMENT)
    visible_tests = [cell for cell in student_notebook.cells
                     if cell.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_visible")]
    assert visible_tests, "the exercise has no visible test cells"
    expect(notebook.locator(".jp-OutputArea-output", has_text="visible tests passed")).to_have_count(
        len(visible_tests))
    assert "Traceback" not in " ".join(outputs.all_inner_texts())
    # Every code cell ran once, in order: the last one shows the count of code cells.
    code_cells = sum(cell.cell_type == "code" for cell in student_notebook.cells)
    expect(notebook.locator(".jp-CodeCell .jp-InputPrompt").last).to_have_text(f"[{code_cells}]:")
    notebook.locator(".jp-OutputArea-output", has_text="visible tests passed").last.scroll_into_view_if_needed()
    screenshot(page, "1_exercise_run_all")

    # 2. nbgrader's Validate: the notebook runs again on a fresh kernel in the server.
    validate_button.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Validation Results", timeout=VALIDATE_TIMEOUT_MS)
    expect(dialog).to_contain_text("Success! Your notebook passes all the tests.")
    screenshot(page, "2_validate_success")
    dialog.get_by_role("button", name="Ok").click()
    expect(dialog).to_have_count(0)

    # 3. A scratch cell below the last one: a course widget, live in the page.
    cells = notebook.locator(".jp-Cell")
    scratch_cell = cells.nth(cells.count())  # the cell about to be inserted below the last
    cells.last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("from course_utils.widgets import metric_playground_widget\n"
                       "metric_playground_widget()")
    page.keyboard.press("Control+Enter")  # run in place
    widget = scratch_cell.locator(".widget-vbox").first
    expect(widget).to_contain_text("Dice and IoU of a predicted rectangle", timeout=RUN_ALL_TIMEOUT_MS)
    # Default rectangles: truth 5x4 at (2, 2), prediction 5x4 at (3, 3): they share 4 rows
    # and 3 columns, so Dice = 2 * 12 / (20 + 20) = 0.6.
    expect(widget).to_contain_text("Dice 0.600")
    plot = widget.locator(".widget-output img")
    expect(plot).to_have_count(1)  # the live plot, drawn by the kernel into an Output widget
    first_plot = plot.get_attribute("src")
    widget.scroll_into_view_if_needed()
    screenshot(page, "3_widget_live")

    # Moving the "top" slider one step up lines the rows up: 5 rows x 3 columns = 15 pixels
    # in common, Dice = 2 * 15 / 40 = 0.75. The kernel recomputes, the page redraws.
    top_slider = widget.locator(".widget-slider", has_text="top").locator(".noUi-handle")
    top_slider.focus()
    page.keyboard.press("ArrowLeft")
    expect(widget).to_contain_text("Dice 0.750")
    expect(plot).to_have_count(1)
    expect(plot).not_to_have_attribute("src", first_plot)  # the plot was redrawn too
    expect(kernel_idle(page)).to_be_visible()
    screenshot(page, "4_widget_after_slider")


def test_instructor_opens_the_formgrader(lab, page):
    base_url, token = lab
    page.goto(f"{base_url}lab?token={token}")
    click_menu(page, "Nbgrader", "Formgrader")
    formgrader = page.frame_locator("#formgrader iframe")
    expect(formgrader.get_by_text("Manage Assignments").first).to_be_visible(timeout=RUN_ALL_TIMEOUT_MS)
    # The assignment of the course's source folder is listed for release and grading.
    assignment_row = formgrader.locator("tr", has=formgrader.locator("td.name", has_text=ASSIGNMENT))
    expect(assignment_row).to_have_count(1)
    assignment_row.scroll_into_view_if_needed()
    screenshot(page, "5_formgrader")


BUTTON_STUDENT = "double-softmax"


@pytest.fixture(scope="module")
def submitted_double_softmax(course):
    """A collected submission whose FCN applies the softmax twice (10/12 under the sandboxed,
    trusted checks; 12/12 under stock nbgrader's hidden tests), and the gradebook brought in
    line with the source as `segcourse grade` does first (threat rows 44 and 46)."""
    from autograder.course import course_config
    from autograder.nbgrader_api import sync_gradebook
    from tests.autograder.test_grading_paths import DOUBLE_SOFTMAX_FCN, SANDBOXED_POINTS

    notebook = solved_exercise(ASSIGNMENT)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "fcn_model":
            cell.source = DOUBLE_SOFTMAX_FCN.strip("\n")
    folder = course / ".grading" / "submitted" / BUTTON_STUDENT / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
    sync_gradebook(course_config(course), ASSIGNMENT)
    return sum(SANDBOXED_POINTS.values()), 12


def test_instructor_autogrades_with_the_formgrader_button(lab, page, submitted_double_softmax):
    """The formgrader's Autograde button (Manage Submissions) grades in the sandbox with the
    trusted checks: the page shows segcourse grade's score, 10 / 12, not stock nbgrader's 12 / 12."""
    base_url, token = lab
    score, max_score = submitted_double_softmax
    page.goto(f"{base_url}lab?token={token}")            # logs in (the formgrader's own API calls need the cookie)
    expect(page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_be_visible(timeout=RUN_ALL_TIMEOUT_MS)
    page.goto(f"{base_url}formgrader/manage_submissions/{ASSIGNMENT}")
    row = page.locator("#main-table tr",
                       has=page.locator("td.student-id", has_text=re.compile(f"^{re.escape(BUTTON_STUDENT)}$")))
    expect(row.locator("td.status")).to_contain_text("needs autograding", timeout=RUN_ALL_TIMEOUT_MS)
    screenshot(page, "6_formgrader_before_autograde")
    row.locator("td.autograde a").click()
    outcome = page.locator("#success-modal, #error-modal")
    expect(outcome).to_be_visible(timeout=VALIDATE_TIMEOUT_MS)
    screenshot(page, "7_formgrader_autograde_result")
    assert outcome.get_attribute("id") == "success-modal", outcome.inner_text()
    expect(outcome).to_contain_text(f"Successfully autograded '{ASSIGNMENT}' for student '{BUTTON_STUDENT}'")
    expect(outcome).to_contain_text("sandbox, judged by the trusted checks")   # nbgrader's log, in the modal
    outcome.locator(".modal-footer button").click()
    expect(outcome).to_be_hidden()
    expect(page.locator(".modal-backdrop")).to_have_count(0)     # the dialog's grey overlay has faded
    expect(row.locator("td.score")).to_have_text(f"{score:g} / {max_score:g}")
    expect(row.locator("td.status")).to_contain_text("graded")
    screenshot(page, "8_formgrader_score")
