"""AppTest of the feature-map page on the seeded default pair."""

from __future__ import annotations

import copy
import io
import json
import os

import numpy as np
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from resnet_viz.data import load_dataset

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pages", "features.py")


def _specs(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(specs):
    return [(s["layout"].get("title") or {}).get("text") or "" for s in specs]


def test_page_default_view_filters_and_upload(seeded_store, default_pair_runs):
    plain, residual = default_pair_runs
    data = load_dataset("digits")
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Feature maps"
    specs = _specs(at)
    titles = _titles(specs)
    # input + 2 probability charts + 2 channel grids + statistics + 3 methods x 2 nets
    assert len(specs) == 12, titles
    grids = [s for s, t in zip(specs, titles) if "channels of" in t]
    assert len(grids) == 2 and "16 channels of 8×8" in _titles(grids)[0]
    assert grids[0]["data"][0]["zmin"] == grids[1]["data"][0]["zmin"]
    assert grids[0]["data"][0]["zmax"] == grids[1]["data"][0]["zmax"]
    # Each attribution pair shares its colour scale.
    maps = [s["data"][0] for s, t in zip(specs, titles) if t.startswith(("plain: class", "residual: class"))]
    assert len(maps) == 6
    for a, b in zip(maps[::2], maps[1::2]):
        assert a["zmax"] == b["zmax"]
    # The predictions shown are the nets' own (eval mode) on test input 0.
    metrics = {m.label: m for m in at.metric}
    for run in (plain, residual):
        with torch.no_grad():
            pred = int(copy.deepcopy(run.model).eval()(data.x_test[:1]).argmax())
        assert metrics[f"{run.label} net predicts"].value == str(pred)
    deltas = [m for m in at.metric if m.label == "IG convergence delta"]
    assert len(deltas) == 2 and all(abs(float(m.value)) < 0.5 for m in deltas)
    assert all(" % of f(x) − f(x′) = " in m.delta for m in deltas)
    # Issue 32: the statistics and the attributions each open with their takeaway; the rest is folded.
    takeaways = [c.value for c in at.caption]
    assert any(t.startswith("Through the blocks, the residual net's spread") for t in takeaways)
    assert any(t.startswith("Integrated Gradients' attributions add up to f(x) − f(baseline) within") for t in takeaways)
    assert sum(e.label == "How this was measured" for e in at.expander) >= 2

    # A deeper block: the first of the second stage, 32 channels of 4x4 (15 blocks, 5 a stage).
    at.slider(key="feat_block").set_value(6).run()
    assert not at.exception
    assert any("block 6, 32 channels of 4×4" in t for t in _titles(_specs(at)))

    # Filter: misclassified by either net, the shown input really is misclassified by one of them.
    at.checkbox(key="feat_wrong").check().run()
    assert not at.exception
    shown = [m.value for m in at.markdown if m.value.startswith("Test input 1 of ")]
    assert shown
    index = int(shown[0].split("image no. ")[1].split()[0]) - 1  # counted from 1 on screen
    with torch.no_grad():
        wrong = [int(copy.deepcopy(r.model).eval()(data.x_test[index:index + 1]).argmax()) != int(data.y_test[index])
                 for r in (plain, residual)]
    assert any(wrong)

    # Upload: a white-on-black "1" works and shows the conversion; a non-image gives an error.
    at.radio(key="feat_source").set_value("Upload an image").run()
    assert not at.exception
    bits = np.zeros((32, 32), dtype=np.uint8)
    bits[4:28, 14:19] = 255
    buf = io.BytesIO()
    Image.fromarray(bits).save(buf, format="PNG")
    at.file_uploader(key="feat_upload").set_value(("one.png", buf.getvalue(), "image/png")).run()
    assert not at.exception, at.exception
    assert not at.error
    assert any("Conversion" in m.value and "box filter" in m.value for m in at.markdown)
    assert len([m for m in at.metric if m.label == "IG convergence delta"]) == 2

    at.file_uploader(key="feat_upload").set_value(("notes.png", b"this is not an image", "image/png")).run()
    assert not at.exception
    assert at.error and "not an image" in at.error[0].value


def test_page_link_names_classes_as_read(seeded_store, default_pair_runs):
    """feat_class=3 in a link is the digit 3 (not the 4th entry of the list), and feat_target=class+5 the
    logit of the digit 5 (options are named in the link as on screen); the picked input is counted from 1,
    as the slider; a class the data lacks falls back to any class."""
    data = load_dataset("digits")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["feat_class"] = "3"
    at.query_params["feat_target"] = "class 5"
    at.query_params["feat_pos"] = "2"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="feat_class").value == "3"
    assert at.selectbox(key="feat_target").value == "5"
    shown = [m.value for m in at.markdown if m.value.startswith("Test input ")]
    assert shown and shown[0].startswith("Test input 2 of "), shown
    index = int(shown[0].split("image no. ")[1].split()[0]) - 1
    assert int(data.y_test[index]) == 3 and "true class **3**" in shown[0]
    assert [int(i) for i in np.flatnonzero(data.y_test.numpy() == 3)][1] == index
    assert any(t.startswith("plain: class 5") for t in _titles(_specs(at)))
    # Choosing the digit 7 writes feat_class=7 to the link: the browser writes a bound widget's value
    # under its query name (AppTest has no browser; tests/test_browser.py checks the address bar).
    at.selectbox(key="feat_class").set_value("7").run()
    assert at.selectbox(key="feat_class").proto.query_param_key == "feat_class"
    assert at.selectbox(key="feat_class").value == "7" and not at.exception
    # A class the data lacks (an old or hand-made link) is any class, not an error.
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["feat_class"] = "12"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="feat_class").value == "any class"


def test_page_mlp_fallback(seeded_store):
    """2-D point data: no channel grids, but statistics and attributions over the 2 features."""
    from resnet_viz.train import TrainConfig, net_config_for
    from ui.common import Pair

    pair = Pair(net_config_for("moons", depth=3, width=16), TrainConfig(dataset="moons", epochs=2))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["pairs"] = [pair]
    at.session_state["current_pair"] = pair
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("no channel grids" in i.value for i in at.info)
    specs = _specs(at)
    titles = _titles(specs)
    assert not any("channels of" in t for t in titles)
    bars = [s for s, t in zip(specs, titles) if t.startswith(("plain: class", "residual: class"))]
    assert len(bars) == 4 and all(len(s["data"][0]["y"]) == 2 for s in bars)  # saliency + IG, two features
    assert len([m for m in at.metric if m.label == "IG convergence delta"]) == 2
    at.radio(key="feat_source").set_value("Upload an image").run()
    assert not at.exception
    assert any("not images" in i.value for i in at.info)
