"""End-to-end (issue 11): the address bar follows the widgets (bind="query-params"), in forms,
fragments and across pages; crafted links open without an error; a preset wins over the settings
an earlier link left; and the server logs no widget-state warning along the way."""

import os
import urllib.parse

import pytest
from browser_util import CHROMIUM, launch, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]
WARNING = "had its value set via the Session State API"
DEFAULT_DEPTH = 50  # the shattering page's default depth (resnet_viz.views.shattering.ShatteringSettings)


@pytest.fixture(scope="module")
def server(lab_server):
    """The shared `streamlit run app.py` (conftest.lab_server) and a Chromium page: (base URL, page, server log)."""
    from playwright.sync_api import sync_playwright

    url, log = lab_server, lab_server.log
    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield url, browser.new_page(viewport={"width": 1400, "height": 2400}), log
        finally:
            browser.close()


def query(page) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query, keep_blank_values=True)


def no_exception(page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def slider_value(page, label: str) -> str:
    box = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    return box.locator('[data-testid="stSliderThumbValue"]').first.inner_text()


def test_the_link_follows_the_widgets_in_forms_fragments_and_pages(server):
    url, page, _ = server
    page.goto(f"{url}/ensemble")
    wait_idle(page)
    no_exception(page)
    slider = page.get_by_role("slider", name="Blocks to unroll")  # in a fragment
    slider.focus()
    slider.press("ArrowRight")
    wait_idle(page)
    assert query(page).get("ensemble_diagram_n") == ["4"]
    page.reload()  # the link reopens the view
    wait_idle(page)
    assert slider_value(page, "Blocks to unroll") == "4"
    page.goto(f"{url}/features")
    wait_idle(page)
    page.get_by_text("Only misclassified by either net").click()
    wait_idle(page)
    assert query(page).get("feat_wrong") == ["true"]
    # Another page by the sidebar: none of this page's settings in its link.
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Shattered gradients").click()
    wait_idle(page)
    no_exception(page)
    assert not {"feat_wrong", "ensemble_diagram_n"} & set(query(page))
    page.get_by_role("textbox", name="Depths for the sweep (blocks)").fill("1,4,16")  # in a form: applied with its button
    page.get_by_role("button", name="Apply").first.click()
    wait_idle(page)
    assert query(page).get("sh_sweep") == ["1,4,16"]


def test_a_crafted_link_opens_without_an_error(server):
    url, page, _ = server
    page.goto(f"{url}/shattering?line_a=inf&line_b=1e400&sh_depth=-inf&sh_seeds=1e999&sh_lam=nan&depth=inf"
              "&sh_block=nope&sh_width=7&sh_width=50&sh_points=9999&sh_points=128")
    wait_idle(page)
    no_exception(page)
    q = query(page)
    assert not {"line_a", "line_b", "sh_depth", "sh_seeds", "sh_lam", "sh_block", "sh_width", "depth"} & set(q), q
    # A name given twice is no choice: dropped and said (the default stays), so a garbled link starts no work.
    assert page.get_by_label("Inputs on [-2, 2]").input_value() == "256"
    assert "more than once" in page.locator('[data-testid="stAlert"]').all_inner_texts().__str__()
    assert "sh_points" not in q
    assert slider_value(page, "Depth (blocks)") == str(DEFAULT_DEPTH)
    # Dropping the bad values added a history entry: Back returns to the crafted link, whose widgets
    # are bound by now (ui.urlstate.link_bind).
    for _ in range(2):  # back through this link's entries, towards the crafted one: never an exception
        page.go_back()
        wait_idle(page)
        no_exception(page)
    page.goto(f"{url}/ensemble?ens_max_k=inf&ens_seed=-1&ens_samples=0")  # outside the domains
    wait_idle(page)
    no_exception(page)
    assert not {"ens_max_k", "ens_seed", "ens_samples"} & set(query(page))


def test_a_preset_wins_over_an_earlier_link_and_no_widget_state_warning_is_logged(server):
    url, page, log = server
    page.goto(f"{url}/shattering?sh_depth=10&sh_lam=0.5")  # settings the session keeps for this page
    wait_idle(page)
    assert slider_value(page, "Depth (blocks)") == "10"
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Home").click()
    wait_idle(page)
    page.locator(".st-key-preset_shattering button").click()  # the preset's Open button (key preset_<slug>)
    wait_idle(page)
    no_exception(page)
    assert "Shattered gradients" in page.locator("h1").first.inner_text()
    assert slider_value(page, "Depth (blocks)") == str(DEFAULT_DEPTH)
    assert float(slider_value(page, "Shortcut scale λ")) == 1.0
    assert not {"sh_depth", "sh_lam"} & set(query(page))  # the preset's values are the defaults
    with open(log) as f:
        assert WARNING not in f.read()
