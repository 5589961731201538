"""End-to-end: every page in headless Chromium against `streamlit run app.py` on localhost.

Each page opens, shows its figures and no error; the main control is changed and the
page still shows figures and no error. Screenshots go to artifacts/screenshots/.
"""

import os
import time

import pytest

from browser_util import CHROMIUM, ROOT, launch, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]
SHOTS = os.path.join(ROOT, "artifacts", "screenshots")


@pytest.fixture(scope="module")
def browser_page(lab_server):
    from playwright.sync_api import sync_playwright

    os.makedirs(SHOTS, exist_ok=True)
    # As in a lecture: the server (conftest.lab_server) warms every default view up in the background from the start.
    url = lab_server
    with sync_playwright() as p:
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
    # The first request of a fresh server is a deep link: it must still go through lab.py's
    # navigation (titles, not file names, in the sidebar; see ui/legacy_guard.py).
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
    sidebar.get_by_role("spinbutton", name="Epochs", exact=True).fill("1")
    sidebar.get_by_role("button", name="Train plain + residual").click()
    wait_idle(page)
    assert_healthy(page, 3)
    assert "CNN-8" in page.locator('[data-testid="stMain"] h3').first.inner_text()
    shot(page, "build_train_new_pair")


def test_landscape(browser_page):
    page = browser_page
    open_page(page, "landscape")
    assert_healthy(page, 2)
    shot(page, "landscape")
    # Main control: the view switch.
    page.get_by_text("1-D slices", exact=True).click()
    wait_idle(page)
    assert_healthy(page, 2)
    shot(page, "landscape_slices")


def test_shattering(browser_page):
    page = browser_page
    open_page(page, "shattering")
    assert_healthy(page, 6)
    shot(page, "shattering")
    # Main control: the depths of the sweep, applied with the form's button.
    page.get_by_role("textbox", name="Depths for the sweep (blocks)").fill("1,4,16")
    page.get_by_role("button", name="Apply").first.click()
    wait_idle(page)
    assert_healthy(page, 6)
    assert "sh_sweep=" in page.url  # the setting travels in the link


def test_ensemble(browser_page):
    page = browser_page
    open_page(page, "ensemble")
    assert_healthy(page, 4)
    shot(page, "ensemble")
    # Main control: blocks to unroll (a slider in a fragment), moved with the keyboard.
    slider = page.get_by_role("slider", name="Blocks to unroll")
    slider.focus()
    slider.press("ArrowRight")
    wait_idle(page)
    assert_healthy(page, 4)
    box = page.locator('[data-testid="stSlider"]').filter(has_text="Blocks to unroll")
    assert box.locator('[data-testid="stSliderThumbValue"]').inner_text() == "4"


def test_features(browser_page):
    page = browser_page
    open_page(page, "features")
    assert_healthy(page, 6)
    shot(page, "features")
    page.get_by_text("Only misclassified by either net").click()
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    shot(page, "features_misclassified")


def test_presenter_mode_and_shared_link(browser_page):
    page = browser_page
    # A shared link reopens the view with its settings: the landscape page on 1-D slices.
    page.goto(f"{page.base_url}/landscape?landscape_view=1-D+slices&presenter=1")
    wait_idle(page)
    assert_healthy(page, 2)
    checked = page.locator('[data-testid="stRadio"] input[type="radio"]:checked')
    assert any(el.evaluate("e => e.closest('label').innerText") == "1-D slices" for el in checked.element_handles())
    font = page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert font == "21px"
    shot(page, "presenter")


def _px(page, selector):
    return page.evaluate(f"parseFloat(getComputedStyle(document.querySelector({selector!r})).fontSize)")


# Text that does not fit its box: labels Streamlit would cut with an ellipsis (page links,
# widget, checkbox and metric labels, metric values) and plotly titles wider than their chart.
CUT = """() => [...document.querySelectorAll(
    '.stMarkdownEllipsis, [data-testid="stSidebarNavLink"] span, [data-testid="stMetricValue"]')]
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.matches('[data-testid="stMetricValue"]')
               && e.getBoundingClientRect().height > 1.8 * parseFloat(getComputedStyle(e).fontSize))  // wrapped
  .map(e => e.innerText.slice(0, 40))
  .concat([...document.querySelectorAll('.js-plotly-plot')].filter(p => {
    const t = p.querySelector('.gtitle'); return t && t.getBBox().width > p.getBoundingClientRect().width;
  }).map(p => p.querySelector('.gtitle').textContent.slice(0, 40)))"""


def test_presenter_mode_keeps_the_comparison_side_by_side(browser_page):
    page = browser_page
    open_page(page, "build_train?presenter=1")
    assert_healthy(page, 3)
    # The plain/residual pair of charts stays in one row (the architecture diagram in its expander spans both).
    charts = page.locator('.js-plotly-plot:not([data-testid="stExpander"] *)')
    a, b = charts.nth(0).bounding_box(), charts.nth(1).bounding_box()
    assert abs(a["y"] - b["y"]) < 5 and b["x"] > a["x"] + a["width"] - 5
    # Larger numbers, captions, chart titles and annotations than the body text.
    body = _px(page, '[data-testid="stMarkdown"] [data-testid="stMarkdownContainer"] p')
    assert body >= 23
    assert _px(page, '[data-testid="stMetricValue"] p') >= 1.8 * body
    assert _px(page, '[data-testid="stCaptionContainer"]') >= 20
    assert _px(page, ".js-plotly-plot .gtitle") >= 24
    assert _px(page, ".js-plotly-plot .annotation-text") >= 22  # e.g. 'chance'; subplot titles alike
    # Nothing cut: page names in the sidebar, widget and metric labels.
    assert page.evaluate(CUT) == []
    nav = page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Shattered gradients")
    assert nav.count() == 1 and nav.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    # No "Deploy" button in a lecture tool.
    assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
    shot(page, "presenter_build_train")
    open_page(page, "features?presenter=1")
    assert_healthy(page, 6)
    assert page.evaluate(CUT) == []
    shot(page, "presenter_features")


def test_presenter_mode_stays_on_from_page_to_page(browser_page):
    """Issue 36: a lecture at 1280×720 opened by a presenter link stays in presenter mode, and its link keeps
    presenter=1, when the sidebar opens another page or a preset opens its page; the Unrolled ensemble page (whose
    unrolled view crashed in presenter mode) draws every part, at 1920×1080 too."""
    page = browser_page.context.browser.new_page(viewport={"width": 1280, "height": 720})  # a session of its own
    switch = page.locator('[data-testid="stSidebar"]').get_by_role("switch", name="Presenter mode")
    try:
        page.goto(f"{browser_page.base_url}/identity?presenter=1")
        wait_idle(page)
        assert switch.is_checked()
        for title, path in (("Unrolled ensemble", "/ensemble"), ("Home", "/")):
            page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
            page.wait_for_url(f"**{path}?*presenter=1*")
            wait_idle(page)
            assert switch.is_checked(), title
            assert page.locator('[data-testid="stException"]').count() == 0, title
            assert "could not be drawn" not in page.locator('[data-testid="stMain"]').inner_text(), title
            if title == "Unrolled ensemble":
                assert page.locator(".js-plotly-plot").count() >= 5
                page.set_viewport_size({"width": 1920, "height": 1080})
                wait_idle(page)
                assert page.locator('[data-testid="stException"]').count() == 0
                page.set_viewport_size({"width": 1280, "height": 720})
        page.locator(".st-key-preset_preactivation button").click()  # its nets ship trained: it opens at once
        page.wait_for_url("**/identity?*presenter=1*")
        wait_idle(page)
        assert switch.is_checked() and page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.close()


@pytest.mark.parametrize("path", ["build_train", "landscape", "shattering", "ensemble", "features"])
def test_pair_picker_in_one_place(browser_page, path):
    """The trained-pair picker is the first control under the presenter switch on every page."""
    page = browser_page
    open_page(page, path)
    labels = page.locator('[data-testid="stSidebarUserContent"] [data-testid="stWidgetLabel"]')
    deadline = time.monotonic() + 15  # the sidebar's widgets may still be drawn after the script is idle: bounded
    while True:
        texts = [t.strip() for t in labels.all_inner_texts() if t.strip()]
        if texts[:2] == ["Presenter mode", "Trained pair"] or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert texts[:2] == ["Presenter mode", "Trained pair"], texts


def test_nothing_is_fetched_from_outside_the_server(browser_page):
    # Offline for real: the favicon, fonts and icons all come from the app's own server (or inline data).
    page = browser_page
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    open_page(page, "build_train")
    favicon = page.eval_on_selector("link[rel='shortcut icon']", "e => e.href")
    assert favicon.startswith(("data:", page.base_url)), favicon
    outside = [u for u in seen if not u.startswith((page.base_url, "data:", "blob:"))]
    assert not outside, outside
