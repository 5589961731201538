"""Figures of the family view (He et al. 2016 Table 1 and Fig. 3): pure functions, results in, plotly out."""

from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

from ..family import FamilyRow, ModelCost
from .common import color_of, log_axis, style

# One colour per family (the lab's plain and residual nets keep the lab's own colours).
FAMILY_COLORS = {"resnet": "#4d4d4d", "resnext": "#1b7837", "wide": "#762a83", "densenet": "#e08214",
                 "vgg": "#8c510a"}


def family_of(name: str) -> str:
    """'resnet', 'resnext', 'wide', 'densenet' or 'vgg' for a torchvision model name."""
    for key in ("resnext", "wide", "densenet", "vgg"):
        if name.startswith(key):
            return key
    return "resnet"


def _decades(values) -> list[float]:
    v = [float(x) for x in values if x and x > 0]
    lo, hi = math.floor(math.log10(min(v))), math.ceil(math.log10(max(v)))
    return [10.0 ** e for e in range(lo, max(hi, lo + 1) + 1)]


def cost_figure(rows: Sequence[FamilyRow], lab: Sequence[tuple[str, ModelCost, bool]] = ()) -> go.Figure:
    """Parameters against multiply-adds per image, log-log, each model labelled (He et al. 2016
    compare ResNets with VGG this way, Table 1 and §4.1); `lab`: (label, cost, skip) of the lab's
    own nets, drawn on the same axes in the lab's plain/residual colours (nets with the same
    cost share one labelled point). Accuracy-free: cost only."""
    fig = go.Figure()
    # Labels alternate above and below along the x axis, so neighbours (ResNet-50 and ResNeXt-50,
    # ResNet-152 and WRN-50-2) stay readable.
    order = {r.name: i for i, r in enumerate(sorted(rows, key=lambda r: r.macs))}
    for fam in dict.fromkeys(family_of(r.name) for r in rows):
        members = [r for r in rows if family_of(r.name) == fam]
        fig.add_trace(go.Scatter(
            x=[r.macs for r in members], y=[r.parameters for r in members], mode="markers+text",
            name=fam, text=[r.name for r in members],
            textposition=["top center" if order[r.name] % 2 == 0 else "bottom center" for r in members],
            marker=dict(size=10, color=FAMILY_COLORS[fam]),
            customdata=[[r.layers, r.image_size] for r in members],
            hovertemplate="%{text}<br>%{y:,} parameters<br>%{x:,} multiply-adds per %{customdata[1]}² image"
                          "<br>%{customdata[0]} weight layers<extra></extra>"))
    points: dict[tuple[int, int], list[tuple[str, bool]]] = {}
    for label, cost, skip in lab:
        points.setdefault((cost.macs, cost.parameters), []).append((label, skip))
    for (macs, params), nets in points.items():
        label = " = ".join(n for n, _ in nets)
        fig.add_trace(go.Scatter(
            x=[macs], y=[params], mode="markers+text", name=f"lab: {label}", text=[f"lab: {label}"],
            textposition="bottom center", marker=dict(size=12, symbol="diamond", color=color_of(nets[-1][1])),
            hovertemplate=f"lab: {label}<br>%{{y:,}} parameters<br>%{{x:,}} multiply-adds per input<extra></extra>"))
    xs = [r.macs for r in rows] + [m for m, _ in points]
    ys = [r.parameters for r in rows] + [p for _, p in points]
    style(fig, "Cost without accuracy: parameters against multiply-adds per image", height=520)
    if xs:
        log_axis(fig, "x", ticks=_decades(xs), title="multiply-adds per image (log)")
        log_axis(fig, "y", ticks=_decades(ys), title="parameters (log)")
    return fig
