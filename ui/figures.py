"""Showing figures: one call that draws a plotly figure with PNG and HTML export and presenter styling."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from resnet_viz.report import figure_html


def presenter() -> bool:
    """True when presenter mode is on (large fonts, one comparison per row)."""
    return bool(st.session_state.get("presenter", False))


def columns(n: int = 2):
    """`st.columns(n)`, or n full-width containers stacked in presenter mode."""
    if presenter():
        return [st.container() for _ in range(n)]
    return st.columns(n)


def show(fig: go.Figure, key: str, where=None, export: bool = True) -> None:
    """Draw `fig` full-width with the PNG button of plotly's toolbar (2x scale) and an HTML download.

    The HTML (plotly.js embedded, works offline) is only built when clicked.
    In presenter mode fonts are enlarged for a projector.
    """
    where = where or st
    if presenter():
        fig = go.Figure(fig).update_layout(font=dict(size=20), title_font=dict(size=24),
                                           height=max(fig.layout.height or 450, 600))
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": key}}
    # Streamlit's chart theme sets its own (small) fonts: leave it out in presenter mode.
    where.plotly_chart(fig, width="stretch", config=config, key=f"chart-{key}",
                       theme=None if presenter() else "streamlit")
    if export:
        where.download_button("⤓ interactive HTML", data=lambda: figure_html(fig), file_name=f"{key}.html",
                              mime="text/html", key=f"html-{key}", on_click="ignore", type="tertiary")
