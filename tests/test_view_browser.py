"""The viewer and the report in a real browser: Debian's Chromium driven by Playwright,
against ``doteval view`` started for real on 127.0.0.1.

Every page is checked for console errors (a Content-Security-Policy violation shows
there) and for requests leaving the machine (there must be none). Screenshots go to
a temporary directory; with ``DOTEVAL_SCREENSHOTS=DIR`` they are copied there too,
which is how the docs' images are made::

    DOTEVAL_SCREENSHOTS=docs/images python -m pytest tests/test_view_browser.py
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Chromium is not installed (apt-get install -y chromium; .ci/run installs it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytest.importorskip("uvicorn", reason="the viewer needs the view extra")

from doteval._private.view.report import write_report  # noqa: E402
from view_server import Server  # noqa: E402
from view_stores import BASELINE, EVALUATION, MARKUP_ITEM, LiveRun, failing, filled  # noqa: E402

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
Q = urllib.parse.quote
# Resolved at import, before the tests move into their temporary directories.
DOCS_IMAGES = (
    Path(os.environ["DOTEVAL_SCREENSHOTS"]).resolve()
    if os.environ.get("DOTEVAL_SCREENSHOTS")
    else None
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return filled("sqlite", tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def server(store: str) -> Iterator[Server]:
    running = Server("--storage", store)
    yield running
    assert running.stop() == 0
    assert "Traceback" not in running.stderr


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


class Browser:
    """One Chromium with a fresh profile; records console errors, dialogs and any
    request that is neither to the local server nor a local file."""

    def __init__(self, playwright: Any, profile: str) -> None:
        self.context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 900},
        )
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda message: message.type == "error" and self.errors.append(message.text),
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", self._dialog)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "file://", "data:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        opened = Browser(playwright, profile)
        try:
            yield opened
        finally:
            opened.context.close()
        assert opened.errors == []
        assert opened.outside == []
        assert opened.dialogs == []


def shoot(browser: Browser, shots: Path, name: str, docs: bool = True) -> Path:
    path = shots / f"viewer-{name}.png"
    browser.page.screenshot(path=str(path), full_page=False)
    if DOCS_IMAGES is not None and docs:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMAGES / path.name)
    return path


def rows(browser: Browser) -> list[int]:
    return [
        int(row.get_attribute("data-item") or -1)
        for row in browser.page.locator("tr.item-row:visible").all()
    ]


def open_evaluation(browser: Browser, server: Server) -> None:
    page = browser.page
    page.goto(server.address)
    page.locator(f'a.evaluation-link[href*="/{BASELINE}/"]').click()
    page.wait_for_selector("#items-table")


def test_experiments_to_evaluation_to_errors_to_an_items_traceback(
    browser: Browser, server: Server, shots: Path
) -> None:
    page = browser.page
    page.goto(server.address)
    page.wait_for_selector("table.experiments")
    shoot(browser, shots, "experiments")
    open_evaluation(browser, server)
    assert page.locator("h1").inner_text() == EVALUATION
    assert rows(browser) == list(range(50))
    page.wait_for_selector(".chart svg")  # Vega drew the summary chart, offline
    shoot(browser, shots, "evaluation")
    page.get_by_label("errors only").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"errors=1"))
    assert rows(browser) == [i for i in range(120) if failing(i)]
    page.locator("tr.item-row td.item-id a", has_text="28").click()
    page.wait_for_selector("#traceback")
    assert page.locator("h1").inner_text() == "Item 28"
    traceback = page.locator("#traceback").inner_text()
    assert traceback.startswith("Traceback (most recent call last)")
    assert "ValueError: the model returned garbage for item 28" in traceback
    shoot(browser, shots, "item")
    page.locator("a.next-item").click()
    page.wait_for_selector("h1:has-text('Item 53')")  # next among the errors


def test_paging_forward_and_sorting_within_a_page(browser: Browser, server: Server) -> None:
    page = browser.page
    open_evaluation(browser, server)
    page.locator("a.next-page").first.click()
    page.wait_for_url(re.compile(r"after=49"))
    assert rows(browser) == list(range(50, 100))
    header = page.locator("#items-table th", has_text="item")
    header.click()
    header.click()  # the second click sorts descending
    assert rows(browser) == list(range(99, 49, -1))


def test_compare_and_its_filter(browser: Browser, server: Server, shots: Path) -> None:
    page = browser.page
    open_evaluation(browser, server)
    page.locator("a.compare-link").first.click()
    page.wait_for_selector("#pairs")
    assert page.locator("h1").inner_text() == "A: baseline vs B: candidate"
    everything = page.locator("tr.pair-row").count()
    shoot(browser, shots, "compare")
    page.get_by_role("link", name="A right, B wrong").click()
    page.wait_for_url(re.compile(r"better=a"))
    better = page.locator("tr.pair-row td.better-a").count()
    assert 0 < better == page.locator("tr.pair-row").count() < everything


def test_the_history_chart_draws_each_experiment(
    browser: Browser, server: Server, shots: Path
) -> None:
    page = browser.page
    page.goto(server.address + f"history/{Q(EVALUATION, safe='')}")
    page.wait_for_selector(".chart svg")
    labels = page.locator(".chart svg text").all_text_contents()
    assert "baseline" in labels
    assert "candidate" in labels
    shoot(browser, shots, "history")


def test_markup_in_a_row_does_not_run(browser: Browser, server: Server) -> None:
    page = browser.page
    page.goto(server.address + f"items/{BASELINE}/{MARKUP_ITEM}/{Q(EVALUATION, safe='')}")
    assert "<script>alert('owned')</script>" in page.locator("table.row").inner_text()
    # The browser fixture asserts that no dialog opened.


def test_a_running_evaluation_updates_without_a_reload(
    browser: Browser, server: Server, store: str
) -> None:
    run = LiveRun(store, "live", "eval_live")
    run.write(3)
    page = browser.page
    page.goto(server.address + "evaluations/live/eval_live")
    assert page.locator("#summary [data-status]").inner_text() == "running"
    assert "3 items" in page.locator("#summary").inner_text()
    page.evaluate("window.notReloaded = true")
    run.write(4)
    run.finish()
    page.wait_for_selector("#summary [data-status=completed]", timeout=20_000)
    assert "7 items" in page.locator("#summary").inner_text()
    assert page.evaluate("window.notReloaded") is True


def test_the_report_file_opens_from_disk_and_filters(
    browser: Browser, store: str, shots: Path, tmp_path: Path
) -> None:
    path = write_report(BASELINE, tmp_path / "report.html", storage=store, items=60)
    page = browser.page
    page.goto(path.as_uri())
    page.wait_for_selector(".chart svg")
    assert page.locator(".chart svg").count() == 2  # the summary and the history
    every = rows(browser)
    assert every == list(range(60)) + [i for i in range(60, 120) if failing(i)]
    shoot(browser, shots, "report")
    page.get_by_label("errors only").check()
    assert rows(browser) == [i for i in range(120) if failing(i)]
    page.get_by_label("errors only").uncheck()
    page.get_by_label("search").fill("what is 42+42")
    assert rows(browser) == [42]


def test_screenshots_are_real_images(browser: Browser, server: Server, shots: Path) -> None:
    browser.page.goto(server.address)
    path = shoot(browser, shots, "check", docs=False)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000  # a rendered page, not a blank one
