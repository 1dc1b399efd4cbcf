"""The course site (``make site``, ``course_site``) in a real browser.

``build/site/`` is served on 127.0.0.1 by a standard-library HTTP server and read by
Debian's Chromium through Playwright, page by page, following each page's "next" link from
the index: the crawl must visit every page in the course's order. On every page: the answer
is 200, the console shows no error, no request leaves 127.0.0.1, no solution marker shows,
every image has a width, every link inside the site answers 200 and every fragment names an
element of its page, and no widget placeholder is left where the course's explorers show
their static figures.
Screenshots go to ``build/browser/site/`` (or ``$SEGCOURSE_SCREENSHOTS/site``).

Runs on demand only: ``make test-site`` (builds the site first when it is missing; installs
chromium and playwright as ``make test-browser`` does). Without Chromium or Playwright the
tests are skipped, saying what is missing; without a built site they fail, saying to run
``make site``.
"""

from __future__ import annotations

import functools
import os
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from course_site.pages import course_pages
from tests import REPO_ROOT
from tests.chromium import chromium, why_no_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SITE = Path(os.environ.get("SEGCOURSE_SITE") or REPO_ROOT / "build" / "site")
SCREENSHOTS = Path(os.environ.get("SEGCOURSE_SCREENSHOTS") or REPO_ROOT / "build" / "browser") / "site"
PAGE_TIMEOUT_MS = 60_000
# Pages photographed (site URL, CSS selector scrolled into view first, or None for the top).
SCREENSHOT_PAGES = [("index.html", None),
                    ("lectures/05_upsampling_alternatives.html", "[data-widget-cell] .jp-OutputArea img"),
                    ("exercises/fcn_basics.html", ".site-note")]

if why_no_browser("test-site"):
    pytestmark.append(pytest.mark.skip(reason=why_no_browser("test-site")))

# Run in each page: what the checks below need, read from the live DOM.
READ_PAGE = """() => {
  for (const cell of document.querySelectorAll('.jp-CodeCell')) {
    const input = cell.querySelector('.jp-InputArea');
    if (input && /\\w_widget\\(/.test(input.innerText)) cell.setAttribute('data-widget-cell', '');
  }
  return {
    images: [...document.images].map(img => ({src: img.src.slice(0, 60), ok: img.complete && img.naturalWidth > 0})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(element => element.id),
    next: [...document.querySelectorAll('a[rel=next]')].map(a => a.href),
    prev: [...document.querySelectorAll('a[rel=prev]')].map(a => a.href),
    widgetPlaceholders: document.querySelectorAll(
      '.jupyter-widgets, script[type="application/vnd.jupyter.widget-view+json"]').length,
    widgetCells: [...document.querySelectorAll('[data-widget-cell]')].map(
      cell => cell.querySelectorAll('.jp-OutputArea img').length),
    tracebacks: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
    solutionMarkers: ['### BEGIN SOLUTION', '### BEGIN HIDDEN TESTS'].filter(m => document.body.innerText.includes(m)),
  };
}"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, message_format, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # Chromium drops connections it no longer needs (a page left mid-transfer): not a failure


@pytest.fixture(scope="module")
def site_url():
    """The built site served on 127.0.0.1 (a free port) while the module's tests run."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make site` first (`make test-site` builds it when missing)")
    server = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def crawl(site_url):
    """Each page reached from the index by following its first "next" link, in visiting
    order: {url: {"status", "console_errors", "offsite_requests", and READ_PAGE's fields}}."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visited = {}
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        offsite = []

        def only_this_server(route):
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                offsite.append(route.request.url)
                route.abort()

        context.route("**/*", only_this_server)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        console_errors = []
        page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
        page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
        url = site_url + "index.html"
        while url and url not in visited and len(visited) < 200:
            console_errors.clear()
            offsite.clear()
            response = page.goto(url, wait_until="load")
            facts = page.evaluate(READ_PAGE)
            facts.update(status=response.status if response else None, console_errors=list(console_errors),
                         offsite_requests=list(offsite))
            visited[url] = facts
            relative = url[len(site_url):]
            for name, selector in SCREENSHOT_PAGES:
                if name == relative:
                    if selector and page.locator(selector).count():
                        page.locator(selector).first.scroll_into_view_if_needed()
                    page.screenshot(path=str(SCREENSHOTS / (relative.replace("/", "_").replace(".html", ".png"))))
            url = facts["next"][0] if facts["next"] else None
    return visited


def test_the_next_links_visit_every_page_in_course_order(site_url, crawl):
    expected = [site_url + page.url for page in course_pages(REPO_ROOT)]
    assert list(crawl) == expected, (
        "following 'next' from the index should visit the course's pages in order "
        "(a page added since the build? run `make site` again)")
    for previous, (url, facts) in zip(expected, list(crawl.items())[1:]):
        assert set(facts["prev"]) == {previous}, f"{url}: its 'previous' links go to {facts['prev']}, not {previous}"


def test_every_page_loads_without_errors_or_network(crawl):
    for url, facts in crawl.items():
        assert facts["status"] == 200, f"{url}: HTTP {facts['status']}"
        assert facts["console_errors"] == [], f"{url}: console errors {facts['console_errors']}"
        assert facts["offsite_requests"] == [], f"{url}: requests beyond 127.0.0.1 {facts['offsite_requests']}"
        assert facts["tracebacks"] == 0, f"{url}: {facts['tracebacks']} output(s) on stderr left on the page"
        assert facts["solutionMarkers"] == [], f"{url}: shows {facts['solutionMarkers']}: solutions reached the site"


def test_every_image_shows(crawl):
    images = [(url, image) for url, facts in crawl.items() for image in facts["images"]]
    broken = [f"{url}: {image['src']}..." for url, image in images if not image["ok"]]
    assert broken == [], f"images with no width: {broken}"
    lectures = [url for url in crawl if "/lectures/" in url]
    without = [url for url in lectures if not crawl[url]["images"]]
    assert without == [], f"lectures with no figure at all (were the outputs executed?): {without}"


def test_every_internal_link_and_anchor_resolves(site_url, crawl):
    status = {}
    problems = []
    for url, facts in crawl.items():
        for link in facts["links"]:
            if not link.startswith(site_url):
                assert urlsplit(link).scheme in ("http", "https", "mailto"), f"{url}: odd link {link}"
                continue
            target, fragment = urldefrag(link)
            if target not in status:
                try:
                    with urllib.request.urlopen(target, timeout=30) as answer:
                        status[target] = answer.status
                except urllib.error.HTTPError as error:
                    status[target] = error.code
            if status[target] != 200:
                problems.append(f"{url}: link {link} answers {status[target]}")
            elif fragment and target in crawl and not {fragment, unquote(fragment)} & set(crawl[target]["ids"]):
                # A browser matches the fragment as written, then percent-decoded (nbconvert's ids hold %22).
                problems.append(f"{url}: link {link}: no element with id {unquote(fragment)!r} there")
    assert problems == []
    assert len(status) >= len(crawl), "every page should be linked from another one"


def test_widgets_show_their_static_figures_not_placeholders(crawl):
    for url, facts in crawl.items():
        assert facts["widgetPlaceholders"] == 0, f"{url}: {facts['widgetPlaceholders']} widget placeholder(s) left"
        assert all(facts["widgetCells"]), f"{url}: an explorer cell with no figure (images per cell: " \
                                          f"{facts['widgetCells']})"
    explorer_cells = sum(len(facts["widgetCells"]) for facts in crawl.values())
    assert explorer_cells >= 3, f"only {explorer_cells} explorer cells found: the lectures call at least 3"


def test_screenshots_were_taken(crawl):
    for name, _ in SCREENSHOT_PAGES:
        shot = SCREENSHOTS / name.replace("/", "_").replace(".html", ".png")
        assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot {shot}"
