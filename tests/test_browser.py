"""End-to-end: every page in headless Chromium against `streamlit run app.py` on localhost.

Each page opens, shows its figures and no error; the main control is changed and the
page still shows figures and no error. Screenshots go to artifacts/screenshots/.
"""

import os

import pytest

from browser_util import CHROMIUM, ROOT, launch, streamlit_server, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]
SHOTS = os.path.join(ROOT, "artifacts", "screenshots")


@pytest.fixture(scope="module")
def browser_page():
    from playwright.sync_api import sync_playwright

    os.makedirs(SHOTS, exist_ok=True)
    # As in a lecture: the server trains the default pair in the background from the start.
    with streamlit_server(env={"RESNET_VIZ_WARM": "1"}) as url, sync_playwright() as p:
        browser = launch(p)
        # Tall viewport: Streamlit scrolls inside its own container, so full-page shots need it.
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.base_url = url
        yield page
        browser.close()


def open_page(page, path):
    page.goto(f"{page.base_url}/{path}")
    wait_idle(page)


def assert_healthy(page, min_charts):
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    charts = page.locator(".js-plotly-plot")
    assert charts.count() >= min_charts
    # Plotly really drew something (not an empty chart frame).
    assert charts.first.locator(".main-svg").count() > 0


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_home_by_deep_link_on_a_fresh_server(browser_page):
    # The first request of a fresh server is a deep link: it must still go through app.py's
    # navigation (titles, not file names, in the sidebar; see ui/__init__.py).
    open_page(browser_page, "home")
    assert "ResNet Lab" in browser_page.locator("h1").first.inner_text()
    nav = browser_page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Build & train" in nav and "build train" not in nav
    assert browser_page.locator('[data-testid="stPageLink"]').count() >= 1
    shot(browser_page, "home")


def test_build_train(browser_page):
    page = browser_page
    open_page(page, "build_train")
    assert_healthy(page, 3)
    shot(page, "build_train")
    # Main control: train another pair from the sidebar form.
    sidebar = page.locator('[data-testid="stSidebar"]')
    depth = sidebar.get_by_role("spinbutton", name="Blocks (depth)")
    depth.fill("3")
    sidebar.get_by_role("spinbutton", name="Epochs").fill("1")
    sidebar.get_by_role("button", name="Train plain + residual").click()
    wait_idle(page)
    assert_healthy(page, 3)
    assert "CNN-8" in page.locator('[data-testid="stMain"] h3').first.inner_text()
    shot(page, "build_train_new_pair")
