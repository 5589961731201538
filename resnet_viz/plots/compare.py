"""Figures comparing more than a plain/residual pair (the identity-mapping study): several λ, pre vs post blocks."""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..numbers import pct
from ..report import Section
from . import training as T
from .common import PLAIN_COLOR, RESIDUAL_COLOR, log_axis, style


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


# --- the view in a report (`slides`, `registry.View.sections`) --------------------------------------------------


def _error_takeaway(rows: list[dict]) -> str:
    """The identity report's test-accuracy takeaway: the lowest and the highest test error over the nets."""
    have = sorted((r for r in rows if r["test_error"] == r["test_error"]), key=lambda r: r["test_error"])
    if not have:
        return "No net has a test error: none trained."
    if len(have) == 1 or pct(have[0]["test_error"]) == pct(have[-1]["test_error"]):
        return f"Test error {pct(have[0]['test_error'])} for {'every net' if len(have) > 1 else have[0]['net']}."
    return (f"Test error from {pct(have[0]['test_error'])} ({have[0]['net']}) to {pct(have[-1]['test_error'])} "
            f"({have[-1]['net']}).")


def identity_sections(result) -> list[Section]:
    """The identity-mapping study (He et al. 2016b): training curves, test accuracy, gradient norms and,
    with random nets, lag-1 and size of df/dx by λ."""
    runs = result.runs
    colors = identity_colors(runs)
    net, cfg = next(iter(runs.values())).net, next(iter(runs.values())).train
    notes = " ".join(f"{label}: {note}." for label, note in result.notes.items())
    setting = (f"{net.depth} blocks ({net.layer_count} layers), width {net.width}, {cfg.epochs} epochs on "
               f"{cfg.dataset}, the same initial weights and data order for every net")
    verdict = result.verdict()
    out = [
        Section("The variants side by side (He et al. 2016b, Tables 1 and 2 at toy scale)",
                f"{verdict.takeaway} {setting}. Parameters (a gated or 1×1 shortcut adds some to the residual net only; "
                "its plain twin's count is given), final training loss and test error (mean over the seeds that "
                f"trained, range in brackets with several seeds; '—' where no seed trained). {verdict.details}",
                table_figure(result.formatted_table())),
        Section("Training curves of every variant",
                f"{notes} A spike far above the rest is cut off at the top of the axis and named there. "
                f"{result.findings()}", recolor(T.loss_curves(runs), colors)),
        Section("Test accuracy",
                f"{_error_takeaway(result.table())} Test accuracy per epoch of every net (chance is "
                f"{pct(1 / net.classes, 0)}). Test error: " + "; ".join(
                    f"{row['net']} {pct(row['test_error'])}" + (" (failed to train)" if row["failed"] else "")
                    for row in result.table()) + ".",
                recolor(T.accuracy_curves(runs, 1.0 / net.classes), colors)),
        Section("Gradient norm per block, first steps",
                "‖∂L/∂θ‖ per block over the first steps (median, band: min to max). With an identity shortcut and "
                "pre-activation the path from any block to the output is a pure identity (He et al. 2016b, eqs. "
                f"4–5). {result.findings()}", recolor(T.gradient_norms(runs), colors)),
    ]
    out.append(Section("Gradient reaching each block (He et al. 2016b, eqs. 4–5)", result.gradient_caption(),
                       block_gradient_figure(result.gradients, colors)))
    if result.curves:
        s = result.settings
        curves = {k: {**c, "color": c2} for (k, c), c2 in zip(result.curves.items(),
                                                              identity_colors(result.curves).values())}
        out.append(Section(
            "Gradients of random nets by λ and depth",
            f"Random nets f: ℝ → ℝ of Balduzzi's one-layer modules y = λ·x + W·ReLU(BN x) ({s.sweep_width} units; "
            f"{s.sweep_seeds} seeds, {s.sweep_points} inputs). Left: lag-1 autocorrelation of df/dx (1 smooth, 0 "
            f"white noise); right: the gradient's size, RMS of df/dx. {result.sweep_caption()}",
            scale_sweep_figure(s.sweep_depths, curves)))
    return out


def sections(result, inputs) -> list[Section]:
    """The identity-mapping view in a report (`registry`): `identity_sections`."""
    return identity_sections(result)
