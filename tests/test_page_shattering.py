"""The shattered-gradients page (AppTest, with the default pair already in the store)."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.views import shattering as sh

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pages", "shattering.py")

pytestmark = pytest.mark.usefixtures("one_thread")


def _open(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_shows_default_comparison(seeded_store):
    at = _open(seeded_store)
    assert not at.error
    labels = [m.label for m in at.metric]
    assert any("Plain net" in s for s in labels) and any("Residual net" in s for s in labels)
    # 2 gradients + 2 matrices + ACF + sweep + trained line
    assert len(at.get("plotly_chart")) == 7
    values = {m.label: float(m.value.replace("−", "-")) for m in at.metric}  # a true minus sign (numbers)
    assert len(values) == 4  # two random-net metrics, two trained-net metrics
    # defaults (10 blocks, 3 seeds): plain shattered, residual still correlated
    assert values["Plain net: lag-1 autocorrelation"] < 0.2
    assert values["Residual net: lag-1 autocorrelation"] > 0.3
    assert at.title[0].value == "Shattered gradients"


def test_bad_inputs_show_messages(seeded_store):
    at = _open(seeded_store)
    at.text_input[0].set_value("1,x")
    at.button[0].click().run()
    assert not at.exception
    assert any("comma-separated" in e.value for e in at.error)
    at.number_input(key="line_a").set_value(5).run()
    at.number_input(key="line_b").set_value(5).run()
    assert not at.exception
    assert any("two different" in e.value for e in at.error)
    # a setting too large for memory (with a valid sweep: the view reports one error at a time)
    at.text_input[0].set_value("1,2")
    at.slider[0].set_value(100)
    at.select_slider[0].set_value(400)
    at.number_input[0].set_value(4096)
    at.button[0].click().run()
    assert not at.exception
    assert any("GiB" in e.value for e in at.error)


def test_block_choice_and_captions_from_this_run(seeded_store):
    at = _open(seeded_store)
    radio = at.radio(key="sh_block")
    assert radio.value == "single"  # Balduzzi's one-layer module by default
    captions = " ".join(c.value for c in at.caption)
    # the captions state the measured trend of this run (defaults: 50 modules, 3 seeds)
    assert "plain net's gradients are white noise" in captions
    assert "residual net's correlated like brown noise" in captions
    assert "still correlated like brown noise at 50 modules" in captions
    assert "not Balduzzi's" not in captions
    # the takeaway first, then how it was measured (issue 32)
    assert "At 50 modules, shortcuts keep neighbouring gradients correlated" in captions
    assert "From 1 to 50 modules, lag-1 goes from" in captions
    # the lab's two-layer block, shallow sweep to stay quick: named honestly, numbers from this run
    radio.set_value("basic-post")
    at.text_input(key="sh_sweep").set_value("1,30")
    at.slider(key="sh_depth").set_value(30)
    at.slider(key="sh_seeds").set_value(2)
    at.button[0].click().run()
    assert not at.exception and not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "not Balduzzi's" in captions and "30 blocks" in captions
    values = {m.label: float(m.value.replace("−", "-")) for m in at.metric}  # a true minus sign (numbers)
    assert f"lag-1 {sh.lag_text(values['Residual net: lag-1 autocorrelation'])}" in captions
