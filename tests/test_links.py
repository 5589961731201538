"""Links (issue 11): every page's settings widgets are bound to the URL (bind="query-params"), so a
shared link reopens the same view; crafted links never raise and never set a widget to a value it
could not take; a preset's settings win over the old link and land in the page's new link.

AppTest has no browser: it shows what the server reads from a link and writes to it, not what the
browser writes on a widget change (tests/test_browser.py checks the address bar).
"""

from __future__ import annotations

import math
import os

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.registry import VIEWS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(1500)
# Every view's page (the Playground's links: test_playground.py, whose default study is its own).
PAGES = tuple(os.path.basename(v.page)[:-3] for v in VIEWS if v.slug != "playground")
# Small settings so that the default computations stay quick (set as session state, as a user would).
SMALL = {"landscape": {"ls_grid": 5, "ls_span": 0.5, "ls_samples": 64}, "ensemble": {"ens_samples": 4, "ens_batch": 32},
         "shattering": {"sh_width": 25, "sh_seeds": 1, "sh_points": 64, "sh_sweep": "1,4"}}
KINDS = ("selectbox", "radio", "slider", "select_slider", "number_input", "checkbox", "toggle", "text_input",
         "multiselect")
# Settings a user cannot choose: not numbers, infinite, huge, negative, empty, unknown, repeated.
CRAFTED = ["inf", "-inf", "1e400", "nan", "-1", "99999999999999999999999", "x", "", "%00", "0x10", "1e308",
           ["1", "x", "1"], ["inf", "2"]]
# Settings that are no widget (the pair, presenter mode, a started study) crafted alike.
CUSTOM = {"depth": "inf", "lr": "nan", "epochs": "1e400", "presenter": "inf", "build_train_run": "inf", "root": "/etc"}


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(os.path.join(ROOT, "pages", f"{name}.py"), default_timeout=300)
    for k, v in {**SMALL.get(name, {}), **state}.items():
        at.session_state[k] = v
    return at


def bound_widgets(at: AppTest) -> dict:
    """query name -> widget, for every widget of the page bound to the link."""
    return {w.proto.query_param_key: w for kind in KINDS for w in at.get(kind) if w.proto.query_param_key}


def assert_within_bounds(widgets: dict) -> None:
    for name, w in widgets.items():
        if w.type in ("number_input", "slider"):
            values = w.value if isinstance(w.value, (list, tuple)) else [w.value]
            for v in values:
                assert math.isfinite(v), (name, v)
                if w.type == "slider" or w.proto.has_min:
                    assert v >= w.proto.min, (name, v)
                if w.type == "slider" or w.proto.has_max:
                    assert v <= w.proto.max, (name, v)


@pytest.mark.parametrize("name", PAGES)
def test_every_settings_widget_is_bound_to_the_link_under_its_key(seeded_store, name):
    at = page(name).run()
    assert not at.exception, at.exception
    keyed = {w.key: w for kind in KINDS for w in at.get(kind) if w.key}
    unbound = {k for k, w in keyed.items() if w.proto.query_param_key != k}
    assert unbound <= {"pair_picker"}, unbound  # the pair travels as its own fields (ui/urlstate.py)
    # Each settings widget is its declaration (resnet_viz.settings): the options it offers, the value it opens with.
    from resnet_viz import settings as S
    from ui import settings as U

    [view] = [v for v in VIEWS if v.page == f"pages/{name}.py"]
    declared = {s.key: s for s in S.specs(view.settings) if s.key and s.widget != "none"}
    drawn = set(declared) & set(keyed)
    assert drawn, name
    defaults = U.defaults(view.settings)
    for key in drawn:
        s, w = declared[key], keyed[key]
        if s.options is not None:
            assert list(w.options) == [s.label_of(o) for o in s.options], key
        if key not in SMALL.get(name, {}):
            assert w.value == defaults[key], (key, w.value, defaults[key])


@pytest.mark.parametrize("name", PAGES)
def test_crafted_links_never_raise_nor_leave_a_widget_out_of_bounds(seeded_store, name):
    names = list(bound_widgets(page(name).run()))
    for value in CRAFTED:
        at = page(name)
        for n in names:
            at.query_params[n] = value
        at.query_params.update(CUSTOM)
        at.run()
        assert not at.exception, (value, at.exception)
        widgets = bound_widgets(at)
        assert_within_bounds(widgets)
        for n, kept in at.query_params.items():  # a number left in the link is one a widget holds
            if n in widgets and widgets[n].type == "text_input":
                continue  # any text is a text box's value (the page says what is wrong with it)
            for v in kept if isinstance(kept, list) else [kept]:
                try:
                    assert math.isfinite(float(v)), (value, n, kept)
                except ValueError:
                    pass
        assert "root" not in at.query_params and not st_flag(at, "build_train_run")


def st_flag(at: AppTest, key: str) -> bool:
    return bool(at.session_state[key]) if key in at.session_state else False


def test_a_link_reopens_the_view_it_names(seeded_store):
    at = page("landscape")
    at.query_params.update({"landscape_view": "1-D slices", "ls_grid": "7", "ls_normalization": "none",
                            "landscape_mode": "clipped", "landscape_clip": "5", "ls_bias_bn": "true"})
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="landscape_view").value == "1-D slices"
    assert at.select_slider(key="ls_grid").value == 7 and at.radio(key="ls_normalization").value == "none"
    assert at.radio(key="landscape_mode").value == "clip" and at.number_input(key="landscape_clip").value == 5.0
    assert at.checkbox(key="ls_bias_bn").value is True
    # The link keeps them (the server writes nothing over them), plus nothing for the default pair.
    assert at.query_params["ls_grid"] == "7" and at.query_params["landscape_view"] == "1-D slices"
    assert not {"depth", "width", "presenter"} & set(at.query_params)


def test_a_started_study_and_presenter_mode_travel_in_the_link(seeded_store):
    at = page("build_train", deg_depths=[3], deg_seeds=1)  # one depth: refused at once, nothing trained
    at.query_params.update({"build_train_run": "1", "presenter": "1"})
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["build_train_run"] is True
    assert at.query_params["build_train_run"] == "1"
    assert "presenter" not in at.query_params  # only the switch (lab.py) turns it on; off: left out


@pytest.mark.parametrize("slug", ["landscapes", "shattering", "deletion", "degradation", "preactivation"])
def test_a_presets_settings_win_over_the_old_link_and_land_in_the_new_one(seeded_store, slug):
    """apply_preset's hand-off (ui.common.url_state), on the default pair: the target page moves the
    preset's settings from the session into its link, and its widgets show them."""
    from resnet_viz.presets import get_preset
    from ui import settings as U
    from ui.common import LINK_PENDING

    preset = get_preset(slug)
    name = preset.page.rsplit("/", 1)[-1][:-3]
    values = U.state(preset.settings)  # (the preset's run flag is left out: nothing is trained or mapped here)
    defaults = U.defaults(type(preset.settings))
    if name == "shattering":  # 50 blocks of width 200 take minutes here: the hand-off is the same
        values.update(sh_depth=4, sh_width=25, sh_sweep="1,4")
    at = AppTest.from_file(os.path.join(ROOT, "pages", f"{name}.py"), default_timeout=600)
    for key, value in values.items():
        if isinstance(value, bool) and key in defaults:  # the old link says the opposite
            at.query_params[key] = "false" if value else "true"
        at.session_state[key] = value
    at.session_state[LINK_PENDING] = list(values)
    at.run()
    assert not at.exception, at.exception
    widgets = bound_widgets(at)
    for key, value in values.items():
        if key in widgets:  # drawn: shows the preset's value, in the link unless it is the default
            assert at.session_state[key] == value, key
            assert (key in at.query_params) == (value != defaults[key]), (key, value, dict(at.query_params))
        elif key not in defaults or key == "landscape_map_on":  # a flag: session state
            assert at.session_state[key] == value, key
        elif value != defaults[key]:  # a widget this view does not draw now reads it from the link when drawn
            assert key in at.query_params, key
