"""Debian's Chromium for the browser tests (JupyterLab, the course site, the hub), driven
by Playwright: where it is, the flags it needs here, and why a test must be skipped.

Never `playwright install` (it downloads another browser)."""

from __future__ import annotations

import contextlib
import os
import shutil

CHROMIUM = os.environ.get("SEGCOURSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# Flags that work for Debian's Chromium in a container run as root: no sandbox, no GPU, no
# network calls of its own (updates, sync, QUIC).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def why_no_browser(make_target: str) -> str | None:
    """Why the browser tests cannot run here (a skip reason naming ``make_target``, which
    installs what is missing), or None when playwright and Chromium are both there."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (f"the Python package 'playwright' is missing: pip install -e '.[browser]' "
                f"(or run `make {make_target}`, which installs it)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM}: apt-get install chromium (or run `make {make_target}`; "
                f"set SEGCOURSE_CHROMIUM to use another binary). Never `playwright install`.")
    return None


@contextlib.contextmanager
def chromium(ui_timeout_ms: int | None = None):
    """A headless Chromium with ``CHROMIUM_ARGS``, closed on exit; ``ui_timeout_ms`` sets
    Playwright's ``expect`` timeout."""
    from playwright.sync_api import expect, sync_playwright

    if ui_timeout_ms is not None:
        expect.set_options(timeout=ui_timeout_ms)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
