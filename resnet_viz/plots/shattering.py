"""Figures of the shattered-gradients view (Balduzzi et al. 2017): results in, plotly Figure out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..captions import Caption
from ..numbers import count
from ..report import Section
from ..views import shattering as sh
from ..views.shattering import (
    LineResult,
    ShatterResult,
    SweepResult,
    acf_matrix,
    theory_feedforward,
    theory_residual_bn,
)
from .common import COLORS, DIVERGING, color_of, log_axis, style


def _kind(result: ShatterResult) -> str:
    return "residual" if result.config.skip else "plain"


def gradient_figure(result: ShatterResult, y_range: tuple[float, float] | None = (-4.5, 4.5)) -> go.Figure:
    """g = df/dx against x for the first seed: a random walk or white noise.

    Plotted as g / RMS(g), so both nets share one axis whatever their gradient
    scale (deep BN nets have much larger input gradients); the RMS is in the title.
    """
    g = result.gradients[0]
    rms = float(np.sqrt(np.mean(g * g))) or 1.0
    fig = go.Figure(go.Scatter(x=result.x, y=g / rms, mode="lines", line=dict(
        color=color_of(result.config.skip), width=1.3), name=_kind(result)))
    fig.update_xaxes(title="input x")
    fig.update_yaxes(title="df/dx ÷ RMS", range=list(y_range) if y_range else None)
    return style(fig, f"{_kind(result)}: gradient (RMS {rms:.3g}, lag-1 r = {result.lag1:.2f})", 300)


def correlation_figure(result: ShatterResult, window: int | None = 64) -> go.Figure:
    """Heatmap of the correlation of g_i and g_j, estimated over positions, fixed scale [-1, 1].

    Entry (i, j) is r_|i-j|, the sample autocorrelation at lag |i - j| averaged over the seeds
    (`shattering.acf_matrix` of `result.acf`): every lag rests on all the positions of every net, so white
    noise shows only its diagonal and brown noise broad bands (the correlation over the seeds alone rests on
    three samples an entry: ±1 noise everywhere). `window` inputs a side are drawn (None: all), so a band a
    few grid steps wide is visible against a bare diagonal.
    """
    n = len(result.x)
    size = n if window is None or window >= n else int(window)
    lo = (n - size) // 2
    xs = result.x[lo:lo + size]
    z = acf_matrix(result.acf, size)
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=xs, zmin=-1, zmax=1, colorscale=DIVERGING,
                               colorbar=dict(title="corr", thickness=12),
                               hovertemplate="x_i %{x:.3f}, x_j %{y:.3f}: r = %{z:.2f}<extra></extra>"))
    fig.update_xaxes(title="x_i")
    fig.update_yaxes(title="x_j", autorange="reversed", scaleanchor="x")
    k = len(result.lag1_per_seed)
    return style(fig, f"{_kind(result)}: corr(g_i, g_j) over positions of {k} net{'s' if k > 1 else ''} "
                      f"({size} neighbouring inputs)", 360)


def acf_figure(plain: ShatterResult, residual: ShatterResult, max_lag: int = 60) -> go.Figure:
    """Autocorrelation functions of both nets' gradients, mean over seeds."""
    fig = go.Figure()
    for r in (plain, residual):
        k = min(max_lag, len(r.acf) - 1)
        fig.add_trace(go.Scatter(x=np.arange(k + 1), y=r.acf[: k + 1], mode="lines+markers", marker=dict(size=4),
                                 line=dict(color=color_of(r.config.skip)), name=_kind(r)))
    fig.add_hline(y=0, line=dict(color="grey", width=1))
    fig.update_xaxes(title="lag k (grid steps)")
    fig.update_yaxes(title="autocorrelation r_k", range=[-0.5, 1.05])
    return style(fig, "Autocorrelation of the gradients", 320)


def sweep_figure(sweep: SweepResult) -> go.Figure:
    """Lag-1 autocorrelation against depth (mean ± std over seeds) with Balduzzi et al. 2017's theory curves.

    The x axis is the module count d; the dotted curves are 2^-L for the plain
    twin's L hidden ReLU layers (Thm. 1; L = d for one-layer modules, 2d + 1 for
    the lab's two-layer blocks) and 1/√d for d BN residual modules (Thm. 3).
    """
    d = np.asarray(sweep.depths)
    block = sweep.block
    fig = go.Figure()
    for kind in ("plain", "residual"):
        mean, std = sweep.mean(kind), sweep.std(kind)
        name = kind + (" (looks-linear init)" if kind == "plain" and sweep.looks_linear else "")
        fig.add_trace(go.Scatter(x=d, y=mean, mode="lines+markers", name=name, line=dict(color=COLORS[kind]),
                                 error_y=dict(type="data", array=std, visible=True, thickness=1)))
    dense = np.linspace(d.min(), d.max(), 200)
    ell = "L = d" if block == "single" else "L = 2d+1"
    fig.add_trace(go.Scatter(x=dense, y=theory_feedforward(dense, block), mode="lines",
                             name=f"theory 2^-L ({ell}), plain", line=dict(color=COLORS["plain"], dash="dot")))
    fig.add_trace(go.Scatter(x=dense, y=theory_residual_bn(dense), mode="lines", name="theory 1/√d, BN resnet",
                             line=dict(color=COLORS["residual"], dash="dot")))
    fig.add_hline(y=0, line=dict(color="grey", width=1))
    axis = ("depth d (one-layer modules x + W·ReLU(BN x); plain twin: d hidden layers)" if block == "single" else
            "depth d (two-layer blocks; plain twin: 2d+1 hidden layers)")
    log_axis(fig, "x", ticks=d, title=axis)
    fig.update_yaxes(title="lag-1 autocorrelation", range=[-0.3, 1.05])
    return style(fig, "Neighbouring gradients decorrelate with depth", 400)


def line_figure(plain: LineResult, residual: LineResult) -> go.Figure:
    """Trained nets: d logit/dt along the line between two images, both nets, shared axes."""
    fig = go.Figure()
    for r, kind in ((plain, "plain"), (residual, "residual")):
        fig.add_trace(go.Scatter(x=r.t, y=r.gradients, mode="lines", line=dict(color=COLORS[kind], width=1.3),
                                 name=f"{kind} (lag-1 r = {r.lag1:.2f})"))
    fig.update_xaxes(title="t along x(t) = (1-t)·image A + t·image B")
    fig.update_yaxes(title="d logit / dt")
    return style(fig, "Trained nets: gradient of the logit along a line", 340)


# --- the view in a report (`slides`, `registry.View.sections`) --------------------------------------------------


def shattering_sections(view) -> list[Section]:
    """The shattered-gradients view (Balduzzi et al. 2017): gradients, correlations, autocorrelation, sweep; each
    caption opens with the setting's (or the sweep's) takeaway."""
    s, plain, residual = view.settings, view.plain, view.residual
    cap = view.setting_caption()
    lp, lr = sh.lag_text(plain.lag1), sh.lag_text(residual.lag1)
    module = ("one-layer residual modules x + W·ReLU(BN x) (Balduzzi et al. 2017)" if s.block == "single" else
              "the lab's two-layer blocks")
    where = (f"{sh.units(s.depth, s.block)}, {module}; the plain twin has {int(sh.hidden_relu_layers(s.depth, s.block))} "
             f"hidden ReLU layers of {s.width} units ({'BN, ' if s.bn else ''}He initialisation); {s.points} inputs "
             "on [−2, 2]")
    n = count(s.seeds, "net")
    out = [
        Section("Plain net: gradient against input", Caption(
            cap.takeaway, f"{where}. The gradient df/dx of one random plain net; over {n} its lag-1 autocorrelation is "
                          f"{lp}: {sh.noise_kind(plain.lag1)} (1 is smooth, 0 is white noise)."),
                gradient_figure(plain)),
        Section("Residual net: gradient against input", Caption(
            cap.takeaway, f"The residual twin (same weights, with shortcuts); lag-1 autocorrelation {lr}: "
                          f"{sh.noise_kind(residual.lag1)}."), gradient_figure(residual)),
        Section("Plain net: correlation of gradients", Caption(
            cap.takeaway, f"Correlation of g_i with g_j estimated over positions (each net's autocorrelation by "
                          f"lag, averaged over {n}): only the diagonal is lit when "
                          f"neighbouring gradients are unrelated, bands along it when they agree. Here: "
                          f"{sh.noise_kind(plain.lag1)} (lag-1 {lp})."), correlation_figure(plain)),
        Section("Residual net: correlation of gradients", Caption(
            cap.takeaway, f"The same for the residual net. Here: {sh.noise_kind(residual.lag1)} (lag-1 {lr})."),
                correlation_figure(residual)),
        Section("Autocorrelation of the gradients", Caption(
            cap.takeaway, "r_k between gradients k grid steps apart (white noise drops to 0 after one step, brown "
                          f"noise decays slowly). {cap.details}"), acf_figure(plain, residual)),
    ]
    if view.sweep is not None:
        sw, swc = view.sweep, view.sweep_caption()
        table = "; ".join(f"{d}: plain {sh.lag_text(p)}, residual {sh.lag_text(r)}"
                          for d, p, r in zip(sw.depths, sw.mean("plain"), sw.mean("residual")))
        out.append(Section("Lag-1 autocorrelation against depth", Caption(
            swc.takeaway, f"{swc.details} Measured ({'modules' if s.block == 'single' else 'blocks'}: lag-1) — "
                          f"{table}."), sweep_figure(sw)))
    return out


def sections(result, inputs) -> list[Section]:
    """The shattered-gradients view in a report (`registry`): `shattering_sections`."""
    return shattering_sections(result)
