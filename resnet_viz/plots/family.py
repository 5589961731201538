"""Figures of the family view (He et al. 2016 Table 1 and Fig. 3): pure functions, results in, plotly out."""

from __future__ import annotations

import math
import re
from typing import Sequence

import plotly.graph_objects as go

from ..views.family import FamilyRow, ModelCost
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


# Label placement for the cost chart, sized for its largest case: presenter mode (20 px text) on a 1280-pixel
# screen, whose plot area is about LABEL_PLOT_PX; a label that fits there fits the smaller page fonts too.
LABEL_PLOT_PX = (820.0, 380.0)
LABEL_CHAR_PX, LABEL_LINE_PX, MARKER_PX = 11.0, 24.0, 8.0
# Candidate places of a label around its marker, in order of preference: plotly's textposition and the
# label's box (left, bottom, right, top) in pixels from the marker, for w = the label's width, h its height.
_PLACES = (
    ("top center", lambda w, h: (-w / 2, MARKER_PX, w / 2, MARKER_PX + h)),
    ("bottom center", lambda w, h: (-w / 2, -MARKER_PX - h, w / 2, -MARKER_PX)),
    ("middle right", lambda w, h: (MARKER_PX, -h / 2, MARKER_PX + w, h / 2)),
    ("middle left", lambda w, h: (-MARKER_PX - w, -h / 2, -MARKER_PX, h / 2)),
    ("top right", lambda w, h: (MARKER_PX / 2, MARKER_PX / 2, MARKER_PX / 2 + w, MARKER_PX / 2 + h)),
    ("bottom right", lambda w, h: (MARKER_PX / 2, -MARKER_PX / 2 - h, MARKER_PX / 2 + w, -MARKER_PX / 2)),
    ("top left", lambda w, h: (-MARKER_PX / 2 - w, MARKER_PX / 2, -MARKER_PX / 2, MARKER_PX / 2 + h)),
    ("bottom left", lambda w, h: (-MARKER_PX / 2 - w, -MARKER_PX / 2 - h, -MARKER_PX / 2, -MARKER_PX / 2)),
)


def _overlap(a, b) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def label_places(points: Sequence[tuple[float, float, str]], x_range: tuple[float, float],
                 y_range: tuple[float, float]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """A textposition for each labelled point of a log-log chart, chosen so that labels cover neither
    each other nor a marker (greedy, densest points first; the least overlap when nothing is free), and
    each label's box in pixels of a LABEL_PLOT_PX plot. `points`: (x, y, label); ranges in log10 units."""
    W, H = LABEL_PLOT_PX

    def px(x, y):
        return ((math.log10(x) - x_range[0]) / (x_range[1] - x_range[0]) * W,
                (math.log10(y) - y_range[0]) / (y_range[1] - y_range[0]) * H)

    centres = [px(x, y) for x, y, _ in points]
    markers = [(cx - MARKER_PX, cy - MARKER_PX, cx + MARKER_PX, cy + MARKER_PX) for cx, cy in centres]

    def crowd(i):
        return sum(math.hypot(centres[i][0] - c[0], centres[i][1] - c[1]) < 150 for c in centres)

    placed: dict[int, tuple[str, tuple]] = {}

    def place(i: int) -> None:
        cx, cy = centres[i]
        w, h = LABEL_CHAR_PX * len(points[i][2]), LABEL_LINE_PX
        best = None
        for name, box in _PLACES:
            left, b, r, t = box(w, h)
            rect = (cx + left, cy + b, cx + r, cy + t)
            cost = 3 * sum(_overlap(rect, o[1]) for j, o in placed.items() if j != i)  # on a label: worst
            cost += sum(_overlap(rect, m) for j, m in enumerate(markers) if j != i)
            cost += 4 * (max(0.0, -rect[0]) + max(0.0, rect[2] - W)) * h  # off the plot
            cost += 4 * (max(0.0, -rect[1]) + max(0.0, rect[3] - H)) * w
            if best is None or cost < best[0] - 1e-9:
                best = (cost, name, rect)
            if cost == 0:
                break
        placed[i] = (best[1], best[2])

    order = sorted(range(len(points)), key=lambda i: -crowd(i))
    for _ in range(4):  # greedy, then a few passes that move each label given all the others
        for i in order:
            place(i)
    return [placed[i] for i in range(len(points))]


def short_name(name: str) -> str:
    """The papers' name of a torchvision model, shorter on a crowded chart: 'resnet50' -> 'ResNet-50',
    'resnext50_32x4d' -> 'ResNeXt-50', 'wide_resnet50_2' -> 'WRN-50-2', 'densenet121' -> 'DenseNet-121'."""

    for pattern, form in ((r"resnext(\d+)_.*", "ResNeXt-{}"), (r"wide_resnet(\d+)_(\d+)", "WRN-{}-{}"),
                          (r"resnet(\d+)", "ResNet-{}"), (r"densenet(\d+)", "DenseNet-{}"), (r"vgg(\d+)", "VGG-{}")):
        m = re.fullmatch(pattern, name)
        if m:
            return form.format(*m.groups())
    return name


def cost_figure(rows: Sequence[FamilyRow], lab: Sequence[tuple[str, ModelCost, bool]] = ()) -> go.Figure:
    """Parameters against multiply-adds per image, log-log, each model labelled (He et al. 2016
    compare ResNets with VGG this way, Table 1 and §4.1); `lab`: (label, cost, skip) of the lab's
    own nets, drawn on the same axes in the lab's plain/residual colours (nets with the same
    cost share one labelled point). Accuracy-free: cost only."""
    fig = go.Figure()
    # Each label goes where it covers no other label and no marker (`label_places`), so neighbours
    # (ResNet-50 and ResNeXt-50, ResNet-152 and WRN-50-2, the two VGGs) stay readable in presenter mode too.
    points: dict[tuple[int, int], list[tuple[str, bool]]] = {}
    for label, cost, skip in lab:
        points.setdefault((cost.macs, cost.parameters), []).append((label, skip))
    lab_labels = {key: "lab: " + " = ".join(n for n, _ in nets) for key, nets in points.items()}
    everything = [(r.macs, r.parameters, short_name(r.name)) for r in rows if r.macs > 0 and r.parameters > 0] + \
        [(m, p, text) for (m, p), text in lab_labels.items() if m > 0 and p > 0]
    position = {}
    if everything:
        xs = [math.log10(x) for x, _, _ in everything]
        ys = [math.log10(y) for _, y, _ in everything]
        ranges = ((min(xs) - 0.3, max(xs) + 0.3), (min(ys) - 0.3, max(ys) + 0.3))  # the axes' ranges, set below
        places = label_places(everything, *ranges)
        position = {text: place for (_, _, text), (place, _) in zip(everything, places)}
    for fam in dict.fromkeys(family_of(r.name) for r in rows):
        members = [r for r in rows if family_of(r.name) == fam]
        fig.add_trace(go.Scatter(
            x=[r.macs for r in members], y=[r.parameters for r in members], mode="markers+text",
            name=fam, text=[short_name(r.name) for r in members],
            textposition=[position.get(short_name(r.name), "top center") for r in members],
            marker=dict(size=10, color=FAMILY_COLORS[fam]),
            customdata=[[r.layers, r.image_size, r.name] for r in members],
            hovertemplate="%{text} (torchvision's %{customdata[2]})<br>%{y:,} parameters<br>%{x:,} multiply-adds per %{customdata[1]}² image"
                          "<br>%{customdata[0]} weight layers<extra></extra>"))
    for (macs, params), nets in points.items():
        label = " = ".join(n for n, _ in nets)
        fig.add_trace(go.Scatter(
            x=[macs], y=[params], mode="markers+text", name=f"lab: {label}", text=[f"lab: {label}"],
            textposition=position.get(f"lab: {label}", "bottom center"), marker=dict(size=12, symbol="diamond", color=color_of(nets[-1][1])),
            hovertemplate=f"lab: {label}<br>%{{y:,}} parameters<br>%{{x:,}} multiply-adds per input<extra></extra>"))
    xs = [r.macs for r in rows] + [m for m, _ in points]
    ys = [r.parameters for r in rows] + [p for _, p in points]
    style(fig, "Cost without accuracy: parameters against multiply-adds per image", height=520)
    if xs:
        log_axis(fig, "x", ticks=_decades(xs), title="multiply-adds per image (log)",
                 **({"range": list(ranges[0])} if everything else {}))
        log_axis(fig, "y", ticks=_decades(ys), title="parameters (log)",
                 **({"range": list(ranges[1])} if everything else {}))
    return fig
