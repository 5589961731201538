"""The home page: links to every view and one-click presets (AppTest through lab.py's navigation)."""

import os

from streamlit.testing.v1 import AppTest

from resnet_viz.presets import PRESETS, preset_pair

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "lab.py")


def test_home_lists_views_and_presets(seeded_store):
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    assert at.title[0].value == "ResNet Lab"
    keys = {b.key for b in at.button}
    assert {f"preset_{p.slug}" for p in PRESETS} <= keys


def test_a_preset_sets_its_pair_and_view_and_opens_its_page(seeded_store):
    preset = next(p for p in PRESETS if p.slug == "shattering")
    at = AppTest.from_file(APP, default_timeout=600).run()
    at.button(key=f"preset_{preset.slug}").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Shattered gradients"  # the preset's page is open
    net, train = preset_pair(preset)
    assert at.session_state["current_pair"].net == net and at.session_state["current_pair"].train == train
    from ui import settings as U

    for key, value in U.state(preset.settings).items():  # the page's widgets show the preset's settings
        assert at.session_state[key] == value
