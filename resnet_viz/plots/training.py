"""Figures of the Build & train view: curves, gradient norms, degradation (He et al. 2016)."""

from __future__ import annotations

import math

import numpy as np
import plotly.colors as px_colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..degradation import smooth
from .common import COLORS, style


def loss_curves(runs: dict, log_y: bool = True) -> go.Figure:
    """Training loss of each run: per step (faint, smoothed) and per epoch (eval mode, markers).

    `runs` maps a label ('plain', 'residual') to a Run.
    """
    fig = go.Figure()
    for label, run in runs.items():
        h = run.history
        steps_per_epoch = max(len(h.step_loss) / max(len(h.epoch_train_loss) - 1, 1), 1)
        color = COLORS.get(label, None)
        if h.step_loss:
            fig.add_trace(go.Scatter(
                x=np.arange(1, len(h.step_loss) + 1) / steps_per_epoch, y=smooth(h.step_loss, 5),
                mode="lines", line=dict(color=color, width=1), opacity=0.35,
                name=f"{label}: minibatch loss", legendgroup=label, showlegend=False))
        fig.add_trace(go.Scatter(
            x=list(range(len(h.epoch_train_loss))), y=h.epoch_train_loss, mode="lines+markers",
            line=dict(color=color, width=3), name=f"{label}: train loss", legendgroup=label))
        fig.add_trace(go.Scatter(
            x=list(range(len(h.epoch_test_loss))), y=h.epoch_test_loss, mode="lines",
            line=dict(color=color, width=2, dash="dot"), name=f"{label}: test loss", legendgroup=label))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="cross-entropy", type="log" if log_y else "linear", dtick="D2" if log_y else None)
    return style(fig, "Loss (thick: whole train set in eval mode; faint: minibatches)")


def accuracy_curves(runs: dict, chance: float | None = None) -> go.Figure:
    """Test accuracy per epoch of each run, with the chance level."""
    fig = go.Figure()
    for label, run in runs.items():
        h = run.history
        fig.add_trace(go.Scatter(x=list(range(len(h.epoch_test_accuracy))), y=h.epoch_test_accuracy,
                                 mode="lines+markers", line=dict(color=COLORS.get(label), width=3),
                                 name=f"{label}: test accuracy"))
    if chance is not None:
        fig.add_hline(y=chance, line=dict(color="grey", dash="dash"), annotation_text="chance")
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%")
    return style(fig, "Test accuracy")


def gradient_norms(runs: dict) -> go.Figure:
    """Per-block parameter-gradient norm over the first training steps (log scale).

    A plain deep net's early blocks get gradients orders of magnitude smaller
    (or larger) than its late ones; the residual twin's stay flat.
    Shows the median over the recorded steps with the min-max range.
    """
    fig = go.Figure()
    for label, run in runs.items():
        g = np.asarray(run.history.grad_norms, dtype=float)
        if g.size == 0:
            continue
        g = np.where(g > 0, g, np.nan)
        blocks = np.arange(1, g.shape[1] + 1)
        color = COLORS.get(label)
        lo, hi = np.nanmin(g, axis=0), np.nanmax(g, axis=0)
        fig.add_trace(go.Scatter(x=np.concatenate([blocks, blocks[::-1]]), y=np.concatenate([hi, lo[::-1]]),
                                 fill="toself", fillcolor=color, opacity=0.15, line=dict(width=0),
                                 hoverinfo="skip", showlegend=False, legendgroup=label))
        fig.add_trace(go.Scatter(x=blocks, y=np.nanmedian(g, axis=0), mode="lines+markers",
                                 line=dict(color=color, width=3), legendgroup=label,
                                 name=f"{label} (median of first {g.shape[0]} steps)"))
    fig.update_xaxes(title="block (input side → output side)", dtick=1 if fig.data and len(fig.data[0].x) <= 30 else None)
    fig.update_yaxes(title="‖∂L/∂θ_block‖", type="log", dtick="D2")
    return style(fig, "Gradient norm per block, first steps")


def _depth_colors(kind: str, n: int) -> list[str]:
    # One hue per kind, light (shallow) to dark (deep), as in He et al.'s Fig. 1.
    scale = "Blues" if kind == "plain" else "Reds"
    return px_colors.sample_colorscale(scale, [0.45 + 0.55 * i / max(n - 1, 1) for i in range(n)])


def degradation_curves(result) -> go.Figure:
    """He et al. 2016, Fig. 1 at toy scale: training loss and test error against iterations.

    `result` is a `resnet_viz.degradation.DegradationResult`. Top row: minibatch
    training loss (mean over the seeds that trained, smoothed over half an epoch;
    band: min to max over seeds), one curve per depth, plain panel beside residual
    panel on a shared log axis. Bottom row: test error at each epoch end. Runs that
    failed to train are left out and named in the legend.
    """
    depths = list(result.settings.depths)
    fig = make_subplots(rows=2, cols=2, shared_xaxes=True, shared_yaxes="rows", vertical_spacing=0.08,
                        horizontal_spacing=0.04, row_heights=[0.62, 0.38],
                        subplot_titles=("plain nets: training loss", "residual nets: training loss",
                                        "plain nets: test error", "residual nets: test error"))
    for col, kind in ((1, "plain"), (2, "residual")):
        for depth, color in zip(depths, _depth_colors(kind, len(depths))):
            runs = result.of(kind, depth)
            layers = runs[0].layers if runs else depth
            failed = sum(r.failed for r in runs)
            name = f"{kind} {layers} layers ({depth} blocks)" + (f", {failed} of {len(runs)} seeds failed" if failed else "")
            curve = result.mean_curve(kind, depth)
            group = f"{kind}{depth}"
            if curve is None:  # every seed failed: say so in the legend only
                fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color=color, dash="dot"),
                                         name=name + " — failed to train", legendgroup=group), row=1, col=col)
                continue
            mean, lo, hi = curve
            x = np.arange(1, len(mean) + 1)
            fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself",
                                     fillcolor=color, opacity=0.18, line=dict(width=0), hoverinfo="skip",
                                     showlegend=False, legendgroup=group), row=1, col=col)
            fig.add_trace(go.Scatter(x=x, y=mean, mode="lines", line=dict(color=color, width=2.5), name=name,
                                     legendgroup=group), row=1, col=col)
            ok = [r for r in runs if not r.failed]
            n = min(len(r.test_error) for r in ok)
            err = np.mean([r.test_error[:n] for r in ok], axis=0)
            fig.add_trace(go.Scatter(x=np.arange(n) * ok[0].steps_per_epoch, y=err, mode="lines+markers",
                                     line=dict(color=color, width=2), marker=dict(size=5), name=name,
                                     legendgroup=group, showlegend=False), row=2, col=col)
    fig.update_yaxes(type="log", dtick="D2", row=1)
    fig.update_yaxes(title="cross-entropy", row=1, col=1)
    fig.update_yaxes(title="test error", tickformat=".0%", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title="iteration", row=2)
    return style(fig, "Training loss and test error against iterations (mean over seeds; band: min–max)", height=620)


def degradation(summary: dict, runs=None) -> go.Figure:
    """Final training loss against depth for plain and residual nets (He et al. 2016, Fig. 1).

    `summary` is `resnet_viz.degradation.summarize(runs)`; the band is the min-max
    over the seeds that trained, the line their mean; single seeds as dots when
    `runs` are given, and runs that failed to train as crosses on the top edge.
    """
    fig = go.Figure()
    for kind in ("plain", "residual"):
        s = summary.get(kind)
        if not s or not s["depth"]:
            continue
        color = COLORS[kind]
        x = s["layers"]
        hi = [v if math.isfinite(v) else None for v in s["max"]]
        lo = [v if math.isfinite(v) else None for v in s["min"]]
        fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], fill="toself", fillcolor=color, opacity=0.18,
                                 line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=kind))
        fig.add_trace(go.Scatter(x=x, y=[v if math.isfinite(v) else None for v in s["mean"]], mode="lines+markers",
                                 line=dict(color=color, width=3), marker=dict(size=9),
                                 name=f"{kind} (mean over seeds that trained)", legendgroup=kind))
        if runs:
            ok = [r for r in runs if r.kind == kind and not r.failed]
            bad = [r for r in runs if r.kind == kind and r.failed]
            fig.add_trace(go.Scatter(x=[r.layers for r in ok], y=[r.train_loss for r in ok], mode="markers",
                                     marker=dict(color=color, size=6, symbol="circle-open"), legendgroup=kind,
                                     name=f"{kind}: single seeds", showlegend=False,
                                     hovertext=[f"seed {r.seed}" for r in ok]))
            if bad:
                fig.add_trace(go.Scatter(x=[r.layers for r in bad], y=[1.0] * len(bad), yaxis="y2", mode="markers",
                                         marker=dict(color=color, size=11, symbol="x"), legendgroup=kind,
                                         name=f"{kind}: failed to train",
                                         hovertext=[f"seed {r.seed}: {r.failure}" for r in bad]))
    fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1.05], visible=False))
    fig.update_xaxes(title="layers (weight layers on the longest path)", type="log",
                     tickvals=sorted({v for s in summary.values() for v in s["layers"]}))
    fig.update_yaxes(title="final training loss (eval mode)", type="log", dtick="D2")
    return style(fig, "Final training loss against depth", height=420)
