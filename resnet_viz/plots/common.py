"""Colours and layout shared by every figure, so plain and residual look the same everywhere."""

from __future__ import annotations

import plotly.graph_objects as go

PLAIN_COLOR = "#2166ac"  # blue
RESIDUAL_COLOR = "#d6604d"  # red
COLORS = {"plain": PLAIN_COLOR, "residual": RESIDUAL_COLOR}
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"


def color_of(skip: bool) -> str:
    """Colour of the residual (skip=True) or plain net."""
    return RESIDUAL_COLOR if skip else PLAIN_COLOR


def style(fig: go.Figure, title: str | None = None, height: int = 420) -> go.Figure:
    """Apply the lab's common layout (white template, compact margins, legend on top)."""
    fig.update_layout(
        template="plotly_white",
        title=title,
        height=height,
        margin=dict(l=50, r=20, t=50 if title else 20, b=40),
        # Legend below the plot: above it, long legends collide with the title.
        legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0),
    )
    return fig
