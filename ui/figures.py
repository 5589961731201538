"""Showing figures: one call that draws a plotly figure with PNG and HTML export and presenter styling."""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go
import streamlit as st

from resnet_viz.report import figure_html


PRESENTER_FONT = 20  # plotly base font in presenter mode; titles and subplot titles a little larger
TITLE_CHARS = 40  # a chart title longer than this is wrapped in presenter mode (half a page holds about 40)


def presenter() -> bool:
    """True when presenter mode is on (large fonts, plain and residual still side by side)."""
    return bool(st.session_state.get("presenter", False))


def columns(n: int = 2):
    """`st.columns(n)`: side by side in both modes (a comparison stacked on a projector is no comparison)."""
    return st.columns(n, gap="small" if presenter() else "medium")


def show(fig: go.Figure, key: str, where=None, export: bool = True) -> None:
    """Draw `fig` full-width with the PNG button of plotly's toolbar (2x scale) and an HTML download.

    The HTML (plotly.js embedded, works offline) is only built when clicked.
    In presenter mode fonts are enlarged for a projector: tick labels, legends, titles and the
    subplot titles (plotly annotations).
    """
    where = where or st
    if presenter():
        fig = go.Figure(fig).update_layout(font=dict(size=PRESENTER_FONT), title_font=dict(size=PRESENTER_FONT + 4),
                                           height=max(fig.layout.height or 450, 560))
        fig.update_annotations(font_size=PRESENTER_FONT + 2)
        title = fig.layout.title.text
        if title and len(title) > TITLE_CHARS:  # plotly never wraps a title: at this size it would be cut
            lines = textwrap.wrap(title, TITLE_CHARS)
            fig.update_layout(title_text="<br>".join(lines),
                              margin_t=max(fig.layout.margin.t or 0, 30 + 32 * len(lines)))
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": key}}
    # Streamlit's chart theme sets its own (small) fonts: leave it out in presenter mode.
    where.plotly_chart(fig, width="stretch", config=config, key=f"chart-{key}",
                       theme=None if presenter() else "streamlit")
    if export:
        where.download_button("⤓ interactive HTML", data=lambda: figure_html(fig), file_name=f"{key}.html",
                              mime="text/html", key=f"html-{key}", on_click="ignore", type="tertiary")
