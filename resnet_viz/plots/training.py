"""Figures of the Build & train view: curves, gradient norms, degradation (He et al. 2016)."""

from __future__ import annotations

import math

import numpy as np
import plotly.colors as px_colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..captions import Caption
from ..numbers import count, num, pct
from ..report import Section
from ..train import Run
from ..views.degradation import pair_caption, pair_findings, smooth
from .common import COLORS, log_axis, style, tick_label

# A loss more than this factor above the 90th percentile of a figure's losses is a spike:
# the axis stops there (1.5 decades on a log axis) and the spike is marked on the top edge.
SPIKE_FACTOR = {True: 30.0, False: 3.0}  # by log_y


def loss_cap(values, log_y: bool = True) -> float | None:
    """Upper end of a loss axis that keeps the bulk of `values` readable, or None when no spike needs cutting.

    A brief spike (say a first-epoch jump to 10⁵ when the rest is below 3) would squeeze the
    other curves into a corner; the cap is SPIKE_FACTOR × the 90th percentile of the finite values.
    """
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size < 4:
        return None
    cap = float(np.quantile(v, 0.9)) * SPIKE_FACTOR[bool(log_y)]
    return cap if float(v.max()) > cap else None


def _mark_spikes(fig: go.Figure, cap: float, log_y: bool) -> None:
    """Cut the y-axis at `cap` and mark each run's highest point above it on the top edge, with its value."""
    lows = [float(y) for t in fig.data for y in (t.y if t.y is not None else ())
            if y is not None and math.isfinite(float(y)) and float(y) > 0]
    lo = min(lows) if lows else cap / 100
    fig.update_yaxes(range=[math.log10(lo) - 0.1, math.log10(cap)] if log_y else [0, cap])
    peaks = {}  # run label -> (peak, x, colour)
    for t in fig.data:
        y = np.asarray([np.nan if v is None else v for v in (t.y if t.y is not None else ())], dtype=float)
        y = np.where(np.isfinite(y), y, np.nan)
        if not np.any(y > cap):
            continue
        i = int(np.nanargmax(y))
        if y[i] > peaks.get(t.legendgroup, (-math.inf,))[0]:
            peaks[t.legendgroup] = (float(y[i]), float(np.asarray(t.x)[i]), t.line.color)
    for n, (group, (peak, x, color)) in enumerate(peaks.items()):
        fig.add_trace(go.Scatter(x=[x], y=[cap], mode="markers", cliponaxis=False, showlegend=False,
                                 marker=dict(symbol="triangle-up", size=12, color=color),
                                 legendgroup=group, name=f"{group}: spike",
                                 hovertemplate=f"{group}: loss {tick_label(peak)} at epoch {x:.2f} "
                                               "(above the axis)<extra></extra>"))
        if len(peaks) > MAX_SPIKE_NOTES:
            continue  # one line for all of them, below: stacked notes would cover the curves and each other
        # Short, and pointing inwards: it must fit a half-page chart in presenter mode too.
        right = x > 0.5 * (max(float(np.nanmax(np.asarray(t.x, dtype=float))) for t in fig.data if t.x is not None))
        fig.add_annotation(x=x, y=math.log10(cap) if log_y else cap, yref="y",
                           # a long run name in a half-page chart ran past its right edge: then the colour names it
                           text=(f"{group}: " if len(group) <= 12 else "") + f"↑ {tick_label(peak)} (off scale)",
                           showarrow=True, arrowhead=0,
                           ax=-40 if right else 40, ay=18 + 22 * n, xanchor="right" if right else "left",
                           font=dict(color=color))
    if len(peaks) > MAX_SPIKE_NOTES:  # a legend entry: a note on the plot covered curves or the title
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(symbol="triangle-up", size=10,
                                 color="#555"), name=f"{len(peaks)} runs off scale (hover the ▲)", hoverinfo="skip"))


MAX_SPIKE_NOTES = 2  # more runs off scale than this: one line names their count, the markers' hover their peaks
MANY_RUNS = 2  # more runs than this: one legend entry a run (the line styles are named in the title)


def _legend_rows(names: list[str], chars_per_row: int = 70) -> int:
    """About how many rows a horizontal legend of `names` takes in a half-page chart."""
    rows, used = 1, 0
    for name in names:
        width = len(name) + 6
        if used and used + width > chars_per_row:
            rows, used = rows + 1, 0
        used += width
    return rows


def _fit_legend(fig: go.Figure, height: int) -> go.Figure:
    """Make the figure taller by the rows its legend below the plot takes, so that the plot keeps its height."""
    names = [t.name for t in fig.data if t.showlegend is not False and t.name]
    rows = _legend_rows(names)
    if rows > 1:
        fig.update_layout(height=height + 22 * (rows - 1), margin_b=40 + 22 * (rows - 1))
    return fig


def loss_curves(runs: dict, log_y: bool = True) -> go.Figure:
    """Training loss of each run: per step (faint, smoothed) and per epoch (eval mode, markers).

    `runs` maps a label ('plain', 'residual') to a Run. A brief spike far above the
    rest (see `loss_cap`) is cut off at the top of the axis, marked there and named
    with its value, so the other curves stay readable.
    """
    fig = go.Figure()
    many = len(runs) > MANY_RUNS
    for label, run in runs.items():
        h = run.history
        steps_per_epoch = max(len(h.step_loss) / max(len(h.epoch_train_loss) - 1, 1), 1)
        color = COLORS.get(label, None)
        if h.step_loss:
            fig.add_trace(go.Scatter(
                x=np.arange(1, len(h.step_loss) + 1) / steps_per_epoch, y=smooth(h.step_loss, 5),
                mode="lines", line=dict(color=color, width=1), opacity=0.35,
                name=f"{label}: minibatch loss", legendgroup=label, showlegend=False))
        # Many runs: one legend entry a run (clicking it hides both its lines), the line styles named in the title.
        fig.add_trace(go.Scatter(
            x=list(range(len(h.epoch_train_loss))), y=h.epoch_train_loss, mode="lines+markers",
            line=dict(color=color, width=3), name=label if many else f"{label}: train loss", legendgroup=label,
            hovertemplate=f"{label}: train loss %{{y:.3g}} at epoch %{{x}}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=list(range(len(h.epoch_test_loss))), y=h.epoch_test_loss, mode="lines",
            line=dict(color=color, width=2, dash="dot"), name=f"{label}: test loss", legendgroup=label,
            showlegend=not many, hovertemplate=f"{label}: test loss %{{y:.3g}} at epoch %{{x}}<extra></extra>"))
    fig.update_xaxes(title="epoch")
    cap = loss_cap([y for t in fig.data for y in t.y], log_y)
    values = [y for t in fig.data for y in t.y if y is not None and (cap is None or y <= cap)]
    if log_y:
        log_axis(fig, "y", values=values, title="cross-entropy")
    else:
        fig.update_yaxes(title="cross-entropy")
    if cap is not None:
        _mark_spikes(fig, cap, log_y)
    title = ("Loss (thick: train set in eval mode; dotted: test set; faint: minibatches)" if many else
             "Loss (thick: whole train set in eval mode; faint: minibatches)")
    return _fit_legend(style(fig, title), 420)


def accuracy_curves(runs: dict, chance: float | None = None) -> go.Figure:
    """Test accuracy per epoch of each run, with the chance level."""
    fig = go.Figure()
    for label, run in runs.items():
        h = run.history
        fig.add_trace(go.Scatter(x=list(range(len(h.epoch_test_accuracy))), y=h.epoch_test_accuracy,
                                 mode="lines+markers", line=dict(color=COLORS.get(label), width=3),
                                 name=label if len(runs) > MANY_RUNS else f"{label}: test accuracy", legendgroup=label,
                                 hovertemplate=f"{label}: test accuracy %{{y:.1%}} at epoch %{{x}}<extra></extra>"))
    if chance is not None:  # named in the legend: a label on the line covered the curves that end near chance
        fig.add_hline(y=chance, line=dict(color="grey", dash="dash"))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color="grey", dash="dash"),
                                 name=f"chance {chance:.0%}", hoverinfo="skip"))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%")
    return _fit_legend(style(fig, "Test accuracy"), 420)


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
                                 name=label if len(runs) > MANY_RUNS else f"{label} (median of first {g.shape[0]} steps)",
                                 hovertemplate=f"{label}, block %{{x}}: median %{{y:.3g}} over the first "
                                               f"{g.shape[0]} steps<extra></extra>"))
    fig.update_xaxes(title="block (input side → output side)", dtick=1 if fig.data and len(fig.data[0].x) <= 30 else None)
    log_axis(fig, "y", title="‖∂L/∂θ‖ of the block")
    title = "Gradient norm per block, first steps" + (" (line: median; band: min–max)" if len(runs) > MANY_RUNS else "")
    return style(fig, title)


def _depth_colors(kind: str, n: int) -> list[str]:
    # One hue per kind, light (shallow) to dark (deep), as in He et al.'s Fig. 1.
    scale = "Blues" if kind == "plain" else "Reds"
    return px_colors.sample_colorscale(scale, [0.45 + 0.55 * i / max(n - 1, 1) for i in range(n)])


def degradation_curves(result) -> go.Figure:
    """He et al. 2016, Fig. 1 at toy scale: training loss and test error against iterations.

    `result` is a `resnet_viz.views.degradation.DegradationResult`. Top row: minibatch
    training loss (mean over the seeds that trained, smoothed over half an epoch;
    band: min to max over seeds), one curve per depth, plain panel beside residual
    panel on a shared log axis. Bottom row: test error at each epoch end. Runs that
    failed to train are left out and named in the legend.
    """
    depths = list(result.settings.depths)
    fig = make_subplots(rows=2, cols=2, shared_xaxes=True, shared_yaxes="rows", vertical_spacing=0.11,
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
    log_axis(fig, "y", row=1)
    fig.update_yaxes(title="cross-entropy", row=1, col=1)
    fig.update_yaxes(title="test error", tickformat=".0%", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title="iteration", row=2)
    style(fig, "Training loss and test error against iterations (mean over seeds; band: min–max)", height=620)
    return fig.update_layout(margin_t=80)  # the title above the subplot titles, not touching them


def degradation(summary: dict, runs=None) -> go.Figure:
    """Final training loss against depth for plain and residual nets (He et al. 2016, Fig. 1).

    `summary` is `resnet_viz.views.degradation.summarize(runs)`; the band is the min-max
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
    log_axis(fig, "x", ticks=sorted({v for s in summary.values() for v in s["layers"]}),
             title="layers (weight layers on the longest path)")
    log_axis(fig, "y", title="final training loss (eval mode)")
    return style(fig, "Final training loss against depth", height=420)


# --- the view in a report (`slides`, `registry.View.sections`) --------------------------------------------------


def _acc(run: Run) -> str:
    return pct(run.history.test_accuracy)


def _loss(run: Run) -> str:
    h = run.history
    if h.diverged:
        return f"diverged at step {h.diverged_at_step}"

    return num(h.train_loss) + (" (failed to train)" if run.failure else "")


def training_sections(runs: dict[str, Run], findings: list[str]) -> list[Section]:
    """The Build & train view of a trained pair: training curves and gradient norms per block."""
    plain, residual = runs["plain"], runs["residual"]
    net, cfg = residual.net, residual.train
    pair = pair_caption(plain, residual)
    text = " ".join(s.replace("**", "") for s in findings)
    return [
        Section("Training curves of the deep pair", Caption(
            pair.takeaway,
            f"{net.depth} blocks ({net.layer_count} layers), width {net.width}, {cfg.epochs} epochs on "
            f"{cfg.dataset}, same initial weights and data order. Final training loss: plain {_loss(plain)}, "
            f"residual {_loss(residual)}; test accuracy: plain {_acc(plain)}, residual {_acc(residual)}. {pair.details}"),
                loss_curves(runs)),
        Section("Gradient norm per block, first steps", Caption(
            pair.takeaway, f"How large ‖∂L/∂θ‖ is in each block over the first training steps. {text}"),
                gradient_norms(runs)),
    ]


def degradation_sections(result) -> list[Section]:
    """The degradation study (He et al. 2016 Fig. 1): curves by depth and final loss against depth."""
    s = result.settings
    cap = result.caption()
    budget = (f"width {s.width}, {count(s.epochs, 'epoch')} (the first a linear warm-up) at learning rate "
              f"{num(s.lr)}, {count(s.seeds, 'seed')} per depth")
    return [
        Section("Degradation: training loss and test error against iterations (He et al. 2016, Fig. 1)", Caption(
            cap.takeaway, f"Plain nets (left) and residual nets (right) at {', '.join(map(str, s.depths))} blocks, "
                          f"{budget}. {cap.details}"), degradation_curves(result)),
        Section("Final training loss against depth", Caption(
            cap.takeaway, "The final training loss (eval mode, whole train set) of every net; the band is the min–max "
                          "over the seeds that trained, crosses mark nets that failed to train."),
                degradation(result.summary(), result.runs)),
    ]


def sections(result, inputs) -> list[Section]:
    """The Build & train view in a report (`registry`): the trained pair's curves and gradient norms when it is
    given, then the degradation study (He et al. 2016 Fig. 1)."""
    runs = inputs.runs
    out = training_sections(runs, pair_findings(runs["plain"], runs["residual"])) if runs else []
    return out + degradation_sections(result)
