"""End to end in a real headless Chromium: search, open a track, see recommendations, dashboards.

The app runs as `streamlit run` (the command `lakehouse app` uses) on a free port with the test's
settings; Playwright drives Debian's chromium (scripts/setup.sh --browser installs it).
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lake_support import missing_prerequisite

from app.cli import streamlit_command
from lakehouse.settings import REPO_ROOT, Settings
from lakehouse.supervisor import free_port

# Found as scripts/setup.sh finds it (`command -v chromium`).
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "app"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(gold_lake: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by a real Streamlit server on the gold_lake catalogue."""
    if not CHROMIUM.exists():
        missing_prerequisite("needs Debian chromium: run `scripts/setup.sh --browser`")
    port = free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "streamlit.log").open("wb")
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    process = subprocess.Popen(streamlit_command("127.0.0.1", port), env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"streamlit exited with {process.returncode}"
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "streamlit did not become healthy in 60 s"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # its own session: only what we started
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def page(app_url: str):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 2000})
        context.set_default_timeout(60_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_search_track_recommendations_and_dashboards(app_url: str, page) -> None:
    from playwright.sync_api import expect

    page.goto(app_url)
    expect(page.get_by_role("heading", name="Search the catalogue")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "01-start.png"), full_page=True)

    search_box = page.get_by_label("Search", exact=True)
    search_box.fill("daft pnuk")  # a typo: fuzzy match on the artist
    search_box.press("Enter")
    expect(page.get_by_text("3 tracks found · page 1 of 1")).to_be_visible()
    results = page.locator('[data-testid="stPageLink-NavLink"]')
    expect(results.first).to_contain_text("Get Lucky")
    page.screenshot(path=str(ARTIFACTS / "02-search.png"), full_page=True)

    results.first.click()
    expect(page.get_by_role("heading", name="Get Lucky (feat. Pharrell Williams & Nile Rodgers)"))\
        .to_be_visible()
    expect(page).to_have_url(f"{app_url}/track?id=t_getlucky")
    expect(page.get_by_text("You may also like")).to_be_visible()
    recommendation = page.locator('[data-testid="stPageLink-NavLink"]', has_text="Instant Crush")
    expect(recommendation.first).to_be_visible()
    expect(page.get_by_text("similarity").first).to_be_visible()
    expect(page.locator("audio")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "03-track.png"), full_page=True)

    recommendation.first.click()  # a recommendation opens its own track page
    expect(page.get_by_role("heading", name="Instant Crush")).to_be_visible()

    page.locator('[data-testid="stSidebarNav"] a', has_text="Dashboards").click()
    expect(page.get_by_role("heading", name="Catalogue dashboards")).to_be_visible()
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(7)
    page.screenshot(path=str(ARTIFACTS / "04-dashboards.png"), full_page=True)
    for name in ("01-start", "02-search", "03-track", "04-dashboards"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
