"""Figures of the Build & train view: curves, gradient norms, degradation (He et al. 2016)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .common import COLORS, style


def _smooth(values: list[float], window: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) < window:
        return v
    kernel = np.ones(window) / window
    head = np.cumsum(v[: window - 1]) / np.arange(1, window)  # partial windows at the start
    return np.concatenate([head, np.convolve(v, kernel, mode="valid")])


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
                x=np.arange(1, len(h.step_loss) + 1) / steps_per_epoch, y=_smooth(h.step_loss, 5),
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


def degradation(summary: dict, points=None) -> go.Figure:
    """Final training loss against depth for plain and residual nets (He et al. 2016, Fig. 1).

    `summary` is `resnet_viz.degradation.summarize(points)`; the band is the
    min-max over seeds, the line the mean; individual seeds as dots when `points` given.
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
        fig.add_trace(go.Scatter(x=x, y=s["mean"], mode="lines+markers", line=dict(color=color, width=3),
                                 marker=dict(size=9), name=f"{kind} (mean over seeds)", legendgroup=kind))
        if points:
            ps = [p for p in points if p.skip == (kind == "residual")]
            fig.add_trace(go.Scatter(x=[p.layers for p in ps], y=[p.train_loss for p in ps], mode="markers",
                                     marker=dict(color=color, size=6, symbol="circle-open"), legendgroup=kind,
                                     name=f"{kind}: single seeds", showlegend=False,
                                     hovertext=[f"seed {p.seed}" for p in ps]))
    fig.update_xaxes(title="layers (weight layers on the longest path)", type="log",
                     tickvals=sorted({v for s in summary.values() for v in s["layers"]}))
    fig.update_yaxes(title="final training loss (eval mode)", type="log", dtick="D2")
    return style(fig, "Degradation: deeper plain nets train worse; residual nets do not", height=420)
