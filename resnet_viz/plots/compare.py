"""Figures comparing more than a plain/residual pair (the identity-mapping study): several λ, pre vs post blocks."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import PLAIN_COLOR, log_axis, style


def recolor(fig: go.Figure, colors: dict[str, str]) -> go.Figure:
    """Give every trace of run `label` the colour `colors[label]` (in place; returns `fig`).

    The training figures colour only 'plain' and 'residual'; a comparison of more
    runs names them otherwise. A trace belongs to `label` when its legend group is
    `label` or its name starts with 'label:' or 'label ('.
    """
    for t in fig.data:
        for label, color in colors.items():
            name = t.name or ""
            if t.legendgroup == label or name == label or name.startswith((f"{label}:", f"{label} (")):
                if getattr(t, "line", None) is not None:
                    t.line.color = color
                if getattr(t, "marker", None) is not None and t.mode and "markers" in t.mode:
                    t.marker.color = color
                if getattr(t, "fill", None):
                    t.fillcolor = color
                break
    return fig


def table_figure(rows: list[dict[str, str]], title: str | None = None) -> go.Figure:
    """A plotly table of text rows (one dict per row, the keys as the header): for reports, where a page
    would draw a dataframe."""
    cols = list(rows[0]) if rows else []
    fig = go.Figure(go.Table(header=dict(values=[f"<b>{c}</b>" for c in cols], align="left", fill_color="#eef0f4"),
                             cells=dict(values=[[r[c] for r in rows] for c in cols], align="left", height=26)))
    return style(fig, title, height=90 + 28 * len(rows))


def scale_sweep_figure(depths, curves: dict[str, dict], height: int = 400) -> go.Figure:
    """Lag-1 autocorrelation and RMS of df/dx against depth, one curve per net and shortcut scale λ.

    λ is He et al. 2016b's constant scaling of the shortcut (§3, which studies training); how
    it changes shattering (Balduzzi et al. 2017's lag-1) is the lab's own experiment.

    `curves` maps a label to {"lag1": [...], "rms": [...], "color": str} over `depths`
    (mean over seeds). Left: do neighbouring gradients stay correlated (Balduzzi 2017)?
    Right (log scale): does the gradient vanish or explode with depth?
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("lag-1 autocorrelation of df/dx", "RMS of df/dx (log scale)"))
    d = np.asarray(depths)
    for label, c in curves.items():
        color = c.get("color", PLAIN_COLOR)
        fig.add_trace(go.Scatter(x=d, y=c["lag1"], mode="lines+markers", name=label, legendgroup=label,
                                 line=dict(color=color, width=3)), row=1, col=1)
        fig.add_trace(go.Scatter(x=d, y=c["rms"], mode="lines+markers", name=label, legendgroup=label,
                                 showlegend=False, line=dict(color=color, width=3)), row=1, col=2)
    for col in (1, 2):
        log_axis(fig, "x", ticks=list(d), row=1, col=col, title="depth d (residual modules)")
    fig.update_yaxes(range=[-0.3, 1.05], row=1, col=1)
    log_axis(fig, "y", row=1, col=2)
    style(fig, "Random nets f: ℝ → ℝ at initialisation, by shortcut scale λ", height)
    fig.update_layout(margin=dict(t=90))  # room for the title above the subplot titles
    return fig


# Colours of the identity-mapping study's nets (He et al. 2016b): λ from light (fading) to dark (exploding).
SCALE_COLORS = {0.5: "#f4a582", 1.0: "#d6604d", 1.5: "#67001f"}
PRE_COLOR = "#1b7837"


OTHER_COLORS = ("#7b3294", "#1f78b4", "#e66101", "#a6761d", "#01665e", "#c51b7d", "#4d4d4d", "#8c510a")


def identity_colors(labels) -> dict[str, str]:
    """A colour for each net of an identity-mapping comparison, by its label: the plain net, the
    pre-activation net, residual nets by their shortcut scale ("λ = 0.5", "original (λ = 1)"), and
    distinct colours for the other variants (gates, 1×1 and dropout shortcuts, placements)."""
    import re

    from .common import RESIDUAL_COLOR

    out, others = {}, iter(OTHER_COLORS * 2)
    for label in labels:
        m = re.search(r"λ = ([0-9.]+)", label)
        if label == "plain":
            out[label] = PLAIN_COLOR
        elif label == "pre-activation":
            out[label] = PRE_COLOR
        elif m:
            out[label] = SCALE_COLORS.get(float(m.group(1)), RESIDUAL_COLOR)
        else:
            out[label] = next(others, RESIDUAL_COLOR)
    return out


def block_gradient_figure(gradients: dict[str, dict[str, list[float]]], colors: dict[str, str],
                          height: int = 420) -> go.Figure:
    """‖∂L/∂x_l‖ at the input of every block l, at initialisation (left) and after training
    (right), one line per net (He et al. 2016b eqs. 4–5: with λ on every shortcut, the
    shortcut path scales the gradient by the product of the λs between block l and the top).
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, shared_yaxes=True,
                        subplot_titles=("at initialisation", "after training"))
    for label, g in gradients.items():
        for col, key in ((1, "init"), (2, "trained")):
            values = np.asarray(g.get(key, []), dtype=float)
            if values.size == 0:
                continue
            fig.add_trace(go.Scatter(x=np.arange(1, values.size + 1), y=np.where(values > 0, values, np.nan),
                                     mode="lines+markers", name=label, legendgroup=label, showlegend=col == 1,
                                     line=dict(color=colors.get(label, PLAIN_COLOR), width=3)), row=1, col=col)
    for col in (1, 2):
        fig.update_xaxes(title="block l (input side → output side)", row=1, col=col)
    # One set of ticks over both panels (the axes are shared), labelled on both: the after-training panel
    # sits far from the left axis and its values must be read off it.
    values = [v for t in fig.data for v in np.asarray(t.y, dtype=float) if np.isfinite(v) and v > 0]
    log_axis(fig, "y", values=values or None, row=1, col=1, title="‖∂L/∂x_l‖ (mean over inputs)")
    log_axis(fig, "y", values=values or None, row=1, col=2, showticklabels=True)
    style(fig, "Gradient reaching each block (He 2016b, eqs. 4–5)", height)
    fig.update_layout(margin=dict(t=90))
    return fig
