"""Figures of the Playground view (after TensorFlow Playground, Smilkov et al. 2017): results in, plotly Figure out.

The class colours are Playground's (orange for class 0, blue for class 1); the nets keep the lab's colours
(plain blue, residual red) in the line plots. Probability grids travel as whole percents in uint8 arrays and
block thumbnails as int8, which plotly 6 writes as base64 typed arrays: the default animated figure
(61 frames of two 41×41 grids) is about 0.3 MB of JSON.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..captions import Caption
from ..data import PLANE
from ..report import Section
from ..views.playground import BLOCK_GRID, PlaygroundResult
from .common import COLORS, log_axis, style

CLASS_COLORS = ("#f59322", "#0877bd")  # Playground's: class 0 orange, class 1 blue
# Class probability 0 % -> orange, 50 % -> light grey, 100 % -> blue (Playground's field, lightened so points show).
FIELD_SCALE = [[0.0, "#f8b66b"], [0.5, "#eef0f1"], [1.0, "#5aa4d6"]]
# A block's first principal component, -1 -> orange, 0 -> white, 1 -> blue.
MAP_SCALE = [[0.0, CLASS_COLORS[0]], [0.5, "#ffffff"], [1.0, CLASS_COLORS[1]]]
FRAME_MS = 80  # one frame's time on screen while playing


def _points(result: PlaygroundResult, col: int, show_legend: bool) -> list[go.Scatter]:
    d = result.data
    out = []
    for xy, y, kind, rim in ((d.xy_train, d.y_train, "training", "white"), (d.xy_test, d.y_test, "test", "black")):
        out.append(go.Scatter(
            x=xy[:, 0].astype(np.float32), y=xy[:, 1].astype(np.float32), mode="markers", name=f"{kind} points",
            legendgroup=kind, showlegend=show_legend,
            marker=dict(size=5, color=y.astype(np.uint8), colorscale=[[0, CLASS_COLORS[0]], [1, CLASS_COLORS[1]]],
                        cmin=0, cmax=1, line=dict(color=rim, width=0.8)),
            hovertemplate=f"{kind} point (%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    return out


def _loss_range(result: PlaygroundResult) -> list[float]:
    values = [v for t in result.nets for v in t.train_loss + t.test_loss if np.isfinite(v)]
    top = max(values) if values else 1.0
    return [0.0, min(max(top, 0.75), 3.0) * 1.05]


def _title(t, result: PlaygroundResult) -> str:
    s = result.settings
    if t.diverged_at is not None:
        state = f"diverged at step {t.diverged_at}"
    elif result.complete:
        state = f"train {t.final_train_accuracy:.0%}, test {t.final_test_accuracy:.0%}: {t.verdict}"
    else:
        state = f"step {result.steps[-1]} of {s.steps}, training …"
    return f"{t.label} net, {s.depth} block{'s' if s.depth > 1 else ''}<br>{state}"  # two short lines: presenter mode


def boundary_figure(result: PlaygroundResult, animate: bool = True) -> go.Figure:
    """The two nets' class-1 probability over the input plane with the training and test points, plain beside
    residual on one colour scale, and under each its training and test loss with the current step.

    With `animate` (and a complete result) every frame of training is a plotly animation frame: ▶ Play
    plays the training from step 0, ❚❚ Pause pauses, ▶ Resume goes on from there, the slider picks a step;
    the figure opens at the last step. Without, it shows the last frame recorded (a preview while training runs).
    """
    s, steps = result.settings, result.steps
    last = len(steps) - 1
    fig = make_subplots(rows=2, cols=2, row_heights=[0.74, 0.26], vertical_spacing=0.09, horizontal_spacing=0.08,
                        subplot_titles=[_title(t, result) for t in result.nets] + ["", ""])
    axis = result.data.grid_axis.astype(np.float32)
    for col, t in enumerate(result.nets, start=1):
        fig.add_trace(go.Heatmap(x=axis, y=axis, z=t.probability[last], coloraxis="coloraxis", name=t.label,
                                 hovertemplate="(%{x:.1f}, %{y:.1f}): P(class 1) = %{z} %<extra>" + t.label
                                 + "</extra>"), row=1, col=col)
    for col, t in enumerate(result.nets, start=1):
        for trace in _points(result, col, show_legend=col == 1):
            fig.add_trace(trace, row=1, col=col)
        color = COLORS[t.label]
        for losses, kind, dash in ((t.train_loss, "training", "solid"), (t.test_loss, "test", "dash")):
            fig.add_trace(go.Scatter(x=steps, y=np.asarray(losses, dtype=np.float32), mode="lines",
                                     name=f"{t.label}: {kind} loss", line=dict(color=color, dash=dash, width=2)),
                          row=2, col=col)
        fig.update_xaxes(range=[-PLANE, PLANE], constrain="domain", title_text="x₁", row=1, col=col)
        fig.update_yaxes(range=[-PLANE, PLANE], scaleanchor="x" if col == 1 else "x2", constrain="domain",
                         title_text="x₂" if col == 1 else None, row=1, col=col)
        # No "step" axis title: the slider below names the step, and a title there collides with it in presenter mode.
        fig.update_xaxes(range=[0, s.steps], row=2, col=col)
        fig.update_yaxes(range=_loss_range(result), title_text="loss" if col == 1 else None, row=2, col=col)
    fig.update_layout(coloraxis=dict(colorscale=FIELD_SCALE, cmin=0, cmax=100,
                                     colorbar=dict(title="P(class 1) %", thickness=12, len=0.6, y=0.66)))
    style(fig, None, 820)
    fig.update_layout(legend=dict(y=-0.08), margin=dict(t=60), shapes=_step_lines(steps[last]))
    if animate and result.complete and len(steps) > 1:
        _animate(fig, result)
    return fig


def _step_lines(step: int) -> list[dict]:
    """The current step, a dotted line across both loss panels (layout shapes: a scatter trace in the
    frames would make plotly.js drop every trace while playing)."""
    return [dict(type="line", xref=x, yref=f"{y} domain", x0=step, x1=step, y0=0, y1=1,
                 line=dict(color="#444", width=1, dash="dot")) for x, y in (("x3", "y3"), ("x4", "y4"))]


def _animate(fig: go.Figure, result: PlaygroundResult) -> None:
    steps = result.steps
    fig.frames = [go.Frame(name=str(k), traces=[0, 1],  # the two heatmaps are the first traces
                           data=[go.Heatmap(z=t.probability[i]) for t in result.nets],
                           layout=dict(shapes=_step_lines(k)))
                  for i, k in enumerate(steps)]
    play = dict(frame=dict(duration=FRAME_MS, redraw=True), transition=dict(duration=0), mode="immediate")
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.09, xanchor="left", yanchor="top",
                          pad=dict(t=0, r=10), showactive=False, buttons=[
                              dict(label="▶ Play", method="animate", args=[None, {**play, "fromcurrent": False}]),
                              dict(label="❚❚ Pause", method="animate",
                                   args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate",
                                                      transition=dict(duration=0))]),
                              dict(label="▶ Resume", method="animate", args=[None, {**play, "fromcurrent": True}])])],
        sliders=[dict(active=len(steps) - 1, x=0.3, len=0.7, y=-0.07, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix="step ", xanchor="right", font=dict(size=13, color="#444")),
                      font=dict(color="rgba(0,0,0,0)"),  # 61 tick labels would overlap: the current value names the step
                      steps=[dict(method="animate", label=str(k),
                                  args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                                       transition=dict(duration=0))]) for k in steps])],
        legend=dict(y=-0.2), margin=dict(b=160))


def block_fade(rel: float) -> float:
    """How strongly a block's picture is drawn: its output's variation over the plane relative to the stem's,
    capped at 1 (0 for a flat or broken block). Each picture is its PC1 scaled to its own range; faded by this
    the pictures share one scale, so a block whose output barely varies any more is drawn (almost) white."""
    return float(min(max(rel, 0.0), 1.0)) if np.isfinite(rel) else 0.0


MAX_PER_BAND = 15  # block thumbnails side by side; deeper nets wrap into bands (each: plain row over residual row)


def blocks_figure(result: PlaygroundResult) -> go.Figure:
    """What each block draws over the input plane (Playground's neuron thumbnails): one small heatmap a block,
    the first principal component of its output over the plane (`playground.block_maps`), plain row above
    residual row, block 1 on the left; past MAX_PER_BAND blocks the rows wrap into bands. Every picture is
    faded by how much the block's output varies over the plane relative to the stem's (`block_fade`), so all
    share one colour scale: a block that has faded to 10⁻⁵ of the stem's variation is drawn white. Hover names
    the block, the variance its PC1 explains, its variation relative to the stem's and its fade."""
    g, gap, row_gap, band_gap = BLOCK_GRID, 2, 2, 12  # in grid cells (a band's gap holds the block numbers)
    depth = result.settings.depth
    bands = -(-depth // MAX_PER_BAND)
    per_band = -(-depth // bands)
    band_h = 2 * g + row_gap + band_gap
    fig = go.Figure()
    ticks, labels = [], []

    def origin(b: int, row: int) -> tuple[float, float]:
        band, j = divmod(b, per_band)
        top = (bands - 1 - band) * band_h  # band 1 at the top
        return j * (g + gap), top + (g + row_gap if row == 0 else 0)

    for row, t in enumerate(result.nets):
        if t.block_maps is None:
            continue
        for b, m in enumerate(t.block_maps):
            rel = t.block_spread[b] / t.stem_spread if t.stem_spread > 0 else float("nan")
            share = t.block_share[b]
            name = (f"{t.label} block {b + 1}: PC1 {share:.0%} of the variation, output varies "
                    f"{rel:.2g}× as much as the stem's" if np.isfinite(share) else f"{t.label} block {b + 1}: flat")
            x0, y0 = origin(b, row)
            fade = block_fade(rel)
            name += f"; drawn at {fade:.2g} of full colour" if fade < 1 else ""
            z = np.rint(np.asarray(m, dtype=np.float32) * fade).astype(np.int8)
            fig.add_trace(go.Heatmap(z=z, x0=x0, dx=1, y0=y0, dy=1, coloraxis="coloraxis", name=name,
                                     hovertemplate="%{fullData.name}<extra></extra>"))
        for band in range(bands):
            ticks.append(origin(band * per_band, row)[1] + g / 2)
            labels.append(t.label)
    for b in range(depth):  # the block's number above its plain thumbnail
        x0, y0 = origin(b, 0)
        fig.add_annotation(x=x0 + g / 2, y=y0 + g, yanchor="bottom", text=str(b + 1), showarrow=False,
                           font=dict(size=10, color="#555"))
    width_cells = per_band * (g + gap) - gap
    fig.update_xaxes(visible=False, range=[-1, width_cells + 1])
    fig.update_yaxes(tickvals=ticks, ticktext=labels, showgrid=False, zeroline=False, scaleanchor="x",
                     range=[-1, bands * band_h - band_gap + 6])
    fig.update_layout(coloraxis=dict(colorscale=MAP_SCALE, cmin=-100, cmax=100, showscale=False))
    cell_px = min(820 / width_cells, 5.0)  # the plot area of a page's width, thumbnails at most ~100 px
    return style(fig, "What each block draws over the plane (PC1 of its output, faded by its variation "
                      "relative to the stem's)",
                 int(80 + cell_px * (bands * band_h - band_gap + 7)))


def gradient_figure(result: PlaygroundResult) -> go.Figure:
    """‖∂L/∂θ‖ of the first and the last block at every step, plain and residual (log scale): the gradient
    reaching the first block against what the last block gets (the vanishing-gradient argument; He et al.
    2016b, eq. 5 for what the shortcut changes). Steps where a net got no gradient are left out."""
    fig = go.Figure()
    for t in result.nets:
        x = np.arange(1, len(t.grad_first) + 1, dtype=np.int32)
        for values, which, dash in ((t.grad_first, "block 1", "solid"), (t.grad_last, f"block {t.config.depth}", "dot")):
            v = np.asarray(values, dtype=np.float32)
            v = np.where(v > 0, v, np.nan).astype(np.float32)
            fig.add_trace(go.Scatter(x=x, y=v, mode="lines", name=f"{t.label}: {which}",
                                     line=dict(color=COLORS[t.label], dash=dash, width=1.6)))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="‖∂L/∂θ‖ of the block")
    finite = [v for t in result.nets for v in t.grad_first + t.grad_last if np.isfinite(v) and v > 0]
    if finite:
        log_axis(fig, "y", values=finite)
    return style(fig, "Gradient reaching the first and the last block", 360)


# --- the view in a report (`slides`, `registry.View.sections`) --------------------------------------------------


def playground_sections(result) -> list[Section]:
    """The Playground view (after TensorFlow Playground, Smilkov et al. 2017): the animated boundaries with the
    loss curves, what each block draws, and the gradient reaching the first block."""
    caps = result.captions()
    lesson = caps["lesson"]
    return [Section("Decision boundaries through training",
                    Caption(lesson.takeaway, f"{caps['boundary']} {lesson.details}"), boundary_figure(result)),
            Section("What each block draws", caps["blocks"], blocks_figure(result)),
            Section("Gradient reaching the first and the last block", caps["gradient"], gradient_figure(result))]


def sections(result, inputs) -> list[Section]:
    """The Playground view in a report (`registry`): `playground_sections`."""
    return playground_sections(result)
