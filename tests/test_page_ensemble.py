"""AppTest of the unrolled-ensemble page, on the seeded default pair with small settings."""

from __future__ import annotations

import json
import os

from streamlit.testing.v1 import AppTest

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pages", "ensemble.py")
SMALL = dict(samples=4, seed=0, max_k=0, include_downsampling=False, batch=32)


def _app(**settings) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in {**SMALL, **settings}.items():  # the settings form's widget keys
        at.session_state[f"ens_{k}"] = v
    return at


def _specs(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _title(spec):
    t = spec["layout"].get("title") or {}
    return t.get("text", "") if isinstance(t, dict) else str(t)


def test_page_shows_deletion_sweeps_paths_and_diagram(seeded_store):
    at = _app().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Unrolled ensemble"
    specs = _specs(at)
    titles = [_title(s) for s in specs]
    assert len(specs) == 6, titles
    assert "plain" in titles[0] and "residual" in titles[1]
    bars = [specs[0]["data"][0], specs[1]["data"][0]]
    assert all(b["type"] == "bar" and len(b["y"]) == 15 for b in bars)
    # the residual net keeps its accuracy when most single blocks go, the plain one does not
    assert sorted(bars[1]["y"])[7] > 0.8 and sorted(bars[0]["y"])[7] < 0.3
    assert specs[0]["layout"]["yaxis"]["range"] == specs[1]["layout"]["yaxis"]["range"]  # shared scale
    assert "Delete k blocks" in titles[2] and "Reorder" in titles[3]
    assert len(specs[4]["data"]) == 3  # path counts, g(k), contribution
    assert sum(specs[4]["data"][0]["y"]) == 2**15
    lanes = [t for t in specs[5]["data"] if t.get("mode") == "lines"]
    assert len(lanes) == 8  # n = 3 by default: the 8 paths of Veit Fig. 1
    assert len(at.metric) == 4
    assert at.metric[2].value == "32,768"
    # Issue 32: an accuracy difference is in percentage points, with an ASCII sign (Streamlit colours it by that);
    # each caption shows its takeaway and folds how it was measured.
    plain_delta, residual_delta = at.metric[0].delta, at.metric[1].delta
    assert plain_delta.startswith("-") and plain_delta.endswith(" points from intact") and "%" not in plain_delta
    assert residual_delta.endswith(" from intact") and "point" in residual_delta
    takeaways = [c.value for c in at.caption]
    assert any(t.startswith("Deleting one block (median) costs the residual net") for t in takeaways)
    assert any(t.startswith("90 % of the gradient comes from paths through") for t in takeaways)
    assert sum(e.label == "How this was measured" for e in at.expander) >= 4

    at.slider(key="ensemble_diagram_n").set_value(4).run()
    assert not at.exception
    lanes = [t for t in _specs(at)[-1]["data"] if t.get("mode") == "lines"]
    assert len(lanes) == 16


def test_page_reports_k_larger_than_the_net(seeded_store):
    at = _app(max_k=50).run()
    assert not at.exception, at.exception
    assert at.error and "larger than the 13" in at.error[0].value
    assert at.title[0].value == "Unrolled ensemble"  # the page stays usable
