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


LONG_TITLE = "a long title that a projector's narrow column must wrap " * 2


def _shares_script():
    import plotly.graph_objects as go
    import streamlit as st

    from ui import figures

    long_title = "a long title that a projector's narrow column must wrap " * 2  # = LONG_TITLE (a script of its own)
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 2]), layout_title_text=long_title)
    wide, narrow = figures.columns([3, 1])
    figures.show(fig, "wide", wide, export=False)
    with narrow:
        figures.show(fig, "narrow", export=False)  # the `with` block's column
    plain = st.columns(2)[0]  # a plain Streamlit column: the whole width, or the share passed
    figures.show(fig, "plain", plain, export=False)
    figures.show(fig, "passed", plain, export=False, share=0.5)
    figures.show(fig, "page", export=False)


def test_presenter_mode_wraps_titles_to_each_columns_share():
    # A plain st.columns column has no share (its __getattr__ answers any name with a function: issue 36's
    # TypeError on the Unrolled ensemble page); `columns` knows its columns' shares, also in `with` blocks.
    from ui.figures import TITLE_CHARS, _wrap

    at = AppTest.from_function(_shares_script, default_timeout=60)
    at.session_state["presenter"] = True
    at.run()
    assert not at.exception, at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles == [_wrap(LONG_TITLE, TITLE_CHARS * share)[0] for share in (0.75, 0.25, 1.0, 0.5, 1.0)]
    assert len(set(titles)) == 4
