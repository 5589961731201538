"""Presenter mode everywhere (issue 36): every page of the registry, Home and every preset open in presenter mode
with no exception, their charts enlarged, and the link keeps presenter=1.

AppTest runs lab.py only on a test's first run: its later runs (a page switch, a click) run the page alone, without
lab.py's switch, so presenter mode is set as the session's `presenter` key, and a view page is opened on its own
(as the other page tests do). Going from page to page in a
real browser (the sidebar's links, a preset) is tests/test_browser_presenter.py's.
"""

from __future__ import annotations

import json
import os

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.presets import PRESETS
from resnet_viz.registry import VIEWS
from ui.figures import PRESENTER_FONT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.usefixtures("one_thread")
# The default settings of every view but two, whose default studies take 10-20 s on one core: smaller ones
# (their figures and presenter styling are the same).
SMALL = {"landscape": {"ls_grid": 5, "ls_samples": 64}, "ensemble": {"ens_samples": 4, "ens_max_k": 0}}


def assert_presenter_page(at: AppTest, where: str) -> None:
    """No exception, no part that could not be drawn, every chart enlarged for a projector."""
    assert not at.exception, (where, at.exception)
    broken = [e.value for e in at.error if "could not be drawn" in e.value]
    assert not broken, (where, broken)
    for chart in at.get("plotly_chart"):
        if not chart.key.startswith("chart-"):  # ui.figures.show's charts (a few small ones are drawn directly)
            continue
        layout = json.loads(chart.proto.spec)["layout"]
        assert layout.get("font", {}).get("size") == PRESENTER_FONT, (where, chart.key)


def test_home_opens_in_presenter_mode_by_link_and_keeps_it_in_the_link(seeded_store):
    at = AppTest.from_file(os.path.join(ROOT, "lab.py"), default_timeout=300)
    at.query_params["presenter"] = "1"
    at.run()
    assert_presenter_page(at, "Home")
    assert at.title[0].value == "ResNet Lab" and at.toggle(key="presenter").value is True
    assert at.query_params.get("presenter") == "1"  # lab.py writes it back on every page, Home too


@pytest.mark.parametrize("page", [v.page for v in VIEWS])
def test_every_page_opens_in_presenter_mode(seeded_store, page):
    at = AppTest.from_file(os.path.join(ROOT, page), default_timeout=300)
    at.session_state["presenter"] = True
    for key, value in SMALL.get(os.path.splitext(os.path.basename(page))[0], {}).items():
        at.session_state[key] = value
    at.query_params["presenter"] = "1"
    at.run()
    assert_presenter_page(at, page)
    assert at.get("plotly_chart"), page  # the default comparison is drawn at once
    assert at.query_params.get("presenter") == "1", page  # url_state writes it back


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.slug)
def test_every_preset_opens_in_presenter_mode(seeded_store, preset):
    at = AppTest.from_file(os.path.join(ROOT, "lab.py"), default_timeout=600)
    at.query_params["presenter"] = "1"
    at.run()
    at.button(key=f"preset_{preset.slug}").click().run()
    assert at.title[0].value == preset.view_record.title, preset.slug
    at.session_state["presenter"] = True  # lab.py's switch (see the module's docstring)
    at.run()
    assert_presenter_page(at, preset.slug)
    assert at.get("plotly_chart"), preset.slug
