"""Presenter mode (issue 15): the comparison stays side by side, figures' text grows, no Deploy button."""

from __future__ import annotations

import json
import os
import tomllib

from streamlit.testing.v1 import AppTest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script():
    import plotly.graph_objects as go
    import streamlit as st
    from plotly.subplots import make_subplots

    from ui.figures import columns, show

    left, right = columns(2)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("plain", "residual"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[1, 2]), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[2, 1]), 1, 2)
    fig.update_layout(title="t")
    show(fig, "a", left, export=False)
    show(fig, "b", right, export=False)
    st.metric("loss", "0.01")


def _run(presenter: bool) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["presenter"] = presenter
    return at.run()


def test_presenter_mode_keeps_plain_and_residual_side_by_side():
    for presenter in (False, True):
        at = _run(presenter)
        assert not at.exception, at.exception
        assert len(at.columns) == 2  # one row, two columns, in both modes
        assert [len(c.get("plotly_chart")) for c in at.columns] == [1, 1]


def test_presenter_mode_enlarges_titles_and_subplot_titles():
    normal, big = (json.loads(_run(p).get("plotly_chart")[0].proto.spec)["layout"] for p in (False, True))
    assert big["font"]["size"] >= 20 and big["title"]["font"]["size"] >= 24
    assert all(a["font"]["size"] >= 22 for a in big["annotations"])  # the subplot titles
    assert all(a["font"]["size"] < 22 for a in normal["annotations"])


def test_no_deploy_button():
    with open(os.path.join(ROOT, ".streamlit", "config.toml"), "rb") as f:
        config = tomllib.load(f)
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")
