"""Figures of the loss-landscape view (Li et al. 2018): pure functions, results in, plotly Figure out.

Loss surfaces span orders of magnitude, so they are drawn either as log10(loss) or
clipped at a ceiling; non-finite losses (overflow) are drawn at the ceiling and
counted in the title, never silently dropped. Plain and residual share one colour
range: pass the same `zrange` (from `shared_zrange`) to both figures.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..captions import Caption
from ..report import Section
from ..train import Run
from ..views.landscape import (
    BASIN_RISE,
    LOSS_CEILING,
    Curvature,
    CurvatureMap,
    Interpolation,
    Surface,
    Trajectory,
    slices_caption,
    surface_stats,
)
from .common import COLORS, PLAIN_COLOR, RESIDUAL_COLOR, SEQUENTIAL, style

MODES = ("log", "clip")
DEFAULT_CLIP = 10.0


def display_values(loss: np.ndarray, mode: str = "log", clip: float = DEFAULT_CLIP) -> np.ndarray:
    """The values drawn for `loss`: log10(loss) ("log", floored at 1e-4) or min(loss, clip)
    ("clip"). NaN/inf (overflow) become the ceiling (log10(clip) or clip); not-yet-evaluated
    points must be removed by the caller (`Surface.subgrid`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"clip must be a positive number, got {clip!r}")
    z = np.array(loss, dtype=float)
    bad = ~np.isfinite(z)
    z = np.minimum(np.where(bad, clip, z), clip)
    return np.log10(np.maximum(z, 1e-4)) if mode == "log" else z


def z_label(mode: str, clip: float = DEFAULT_CLIP) -> str:
    """Colour-bar title for a mode."""
    return f"log₁₀ loss (≤ {clip:g})" if mode == "log" else f"loss (clipped at {clip:g})"


def shared_zrange(surfaces, mode: str = "log", clip: float = DEFAULT_CLIP) -> tuple[float, float]:
    """One (zmin, zmax) covering every surface, for a shared colour scale."""
    vals = [display_values(s.subgrid().loss, mode, clip) for s in surfaces if s is not None]
    vals = [v for v in vals if v.size]
    if not vals:
        return (0.0, 1.0)
    lo = float(min(v.min() for v in vals))
    hi = float(max(v.max() for v in vals))
    return (lo, hi if hi > lo else lo + 1e-6)


def _overflow_note(s: Surface) -> str:
    n = s.overflowed
    return f" · {n} point{'s' if n != 1 else ''} overflowed (drawn at the ceiling)" if n else ""


def _mark_theta_star(fig: go.Figure, value: str) -> None:
    """A white cross at the plane's origin, the trained weights θ*; `value` is its hover text."""
    fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", marker=dict(symbol="x", size=10, color="white",
                             line=dict(width=1, color="black")), name="θ* (trained)", showlegend=False,
                             hovertemplate=f"θ*: {value}<extra></extra>"))


def contour_figure(s: Surface, title: str, mode: str = "log", clip: float = DEFAULT_CLIP,
                   zrange: tuple[float, float] | None = None, height: int = 420,
                   axis_titles: tuple[str, str] = ("α (direction δ)", "β (direction η)")) -> go.Figure:
    """Filled contour of a 2-D surface (Li et al. 2018 Fig. 5 style), θ* marked at (0, 0), and the basin's
    edge drawn as a white line: where the loss has risen BASIN_RISE nats above its value at θ* (the width
    the caption measures, `landscape.basin`)."""

    g = s.subgrid()
    z = display_values(g.loss, mode, clip)
    zmin, zmax = zrange or (float(z.min()), float(z.max()))
    fig = go.Figure(go.Contour(
        x=g.alphas, y=g.betas, z=z, colorscale=SEQUENTIAL, zmin=zmin, zmax=zmax,
        ncontours=25, contours=dict(coloring="heatmap", showlines=True),
        line=dict(width=0.5, color="rgba(255,255,255,0.4)"),
        colorbar=dict(title=dict(text=z_label(mode, clip), side="right")),
        hovertemplate="α=%{x:.3f}<br>β=%{y:.3f}<br>z=%{z:.3f}<extra></extra>"))
    rise = np.where(np.isfinite(g.loss), g.loss, LOSS_CEILING) - s.center_loss
    fig.add_trace(go.Contour(
        x=g.alphas, y=g.betas, z=rise, showscale=False, hoverinfo="skip", showlegend=False,
        contours=dict(coloring="none", showlines=True, start=BASIN_RISE, end=BASIN_RISE, size=1.0),
        line=dict(width=2.5, color="white")))
    _mark_theta_star(fig, f"loss {s.center_loss:.4f}")
    coarse = "" if s.complete else f" · coarse {len(g.alphas)}×{len(g.betas)}, refining…"
    style(fig, f"{title}{coarse}{_overflow_note(s)}", height)
    fig.update_xaxes(title=axis_titles[0])
    fig.update_yaxes(title=axis_titles[1], scaleanchor="x", scaleratio=1)
    return fig


def surface3d_figure(s: Surface, title: str, mode: str = "log", clip: float = DEFAULT_CLIP,
                     zrange: tuple[float, float] | None = None, height: int = 480) -> go.Figure:
    """3-D surface plot of a 2-D landscape (Li et al. 2018 Fig. 1 style)."""
    g = s.subgrid()
    z = display_values(g.loss, mode, clip)
    zmin, zmax = zrange or (float(z.min()), float(z.max()))
    fig = go.Figure(go.Surface(x=g.alphas, y=g.betas, z=z, colorscale=SEQUENTIAL, cmin=zmin, cmax=zmax,
                               colorbar=dict(title=dict(text=z_label(mode, clip), side="right"))))
    style(fig, f"{title}{_overflow_note(s)}", height)
    fig.update_layout(scene=dict(xaxis_title="α", yaxis_title="β", zaxis_title=z_label(mode, clip),
                                 zaxis=dict(range=[zmin, zmax]), camera=dict(eye=dict(x=1.5, y=1.5, z=1.0))),
                      margin=dict(l=0, r=0, t=50, b=0))
    return fig


def slices_figure(surfaces: dict[str, Surface], mode: str = "log", clip: float = DEFAULT_CLIP,
                  metric: str = "loss", height: int = 380) -> go.Figure:
    """1-D slices through θ* (the β = 0 row of a plane, or a line) for each net, one colour per net."""
    fig = go.Figure()
    for label, s in surfaces.items():
        g = s.subgrid()
        row = g.loss if metric == "loss" else g.accuracy
        if g.dim == 2:
            c = (len(g.betas) - 1) // 2
            row = (g.loss if metric == "loss" else g.accuracy)[c]
        y = display_values(row, mode, clip) if metric == "loss" else row
        fig.add_trace(go.Scatter(x=g.alphas, y=y, mode="lines+markers", name=label,
                                 line=dict(color=COLORS.get(label.split()[0], None), width=2), marker=dict(size=4)))
    ytitle = z_label(mode, clip) if metric == "loss" else "accuracy"
    style(fig, f"1-D slice through θ* along δ ({metric})", height)
    fig.update_xaxes(title="α")
    fig.update_yaxes(title=ytitle)
    return fig


def interpolation_figure(curves: list[tuple[Interpolation, str]], title: str, mode: str = "log",
                         clip: float = DEFAULT_CLIP, height: int = 380) -> go.Figure:
    """Loss along θ(t) = (1 − t)θ_start + tθ_end (Goodfellow et al. 2015); each curve with its colour.
    `curves` holds (interpolation, colour) pairs; dashed lines mark t = 0 and t = 1."""
    fig = go.Figure()
    for interp, color in curves:
        fig.add_trace(go.Scatter(x=interp.ts, y=display_values(interp.loss, mode, clip), mode="lines+markers",
                                 name=interp.label, line=dict(color=color, width=2), marker=dict(size=4)))
    for t in (0, 1):
        fig.add_vline(x=t, line=dict(dash="dot", color="gray"))
    style(fig, title, height)
    fig.update_xaxes(title="t (0 = start, 1 = end)")
    fig.update_yaxes(title=z_label(mode, clip))
    return fig


def trajectory_figure(tr: Trajectory, title: str, color: str, mode: str = "log", clip: float = DEFAULT_CLIP,
                      zrange: tuple[float, float] | None = None, height: int = 440) -> go.Figure:
    """The optimisation path on the loss contour of its PCA plane (Li et al. 2018 Fig. 9),
    axes labelled with the explained variance of each PCA direction."""
    ev = tr.explained_variance
    fig = contour_figure(tr.surface, title, mode, clip, zrange, height,
                         axis_titles=(f"1st PCA direction ({100 * ev[0]:.1f}% of variance)",
                                      f"2nd PCA direction ({100 * ev[1]:.1f}% of variance)"))
    fig.add_trace(go.Scatter(x=tr.coords[:, 0], y=tr.coords[:, 1], mode="lines+markers", name="path",
                             line=dict(color=color, width=3), marker=dict(size=6, color=color),
                             text=[f"step {s}" for s in tr.steps],
                             hovertemplate="%{text}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[tr.coords[0, 0]], y=[tr.coords[0, 1]], mode="markers+text", text=["init"],
                             textposition="top center", marker=dict(size=10, color=color, symbol="circle-open"),
                             showlegend=False))
    fig.update_yaxes(scaleanchor=None)
    return fig


def curvature_figure(curvatures: dict[str, Curvature], height: int = 320) -> go.Figure:
    """|λmin/λmax| of the Hessian at θ* per net (Li et al. 2018 §6: near 0 = locally convex),
    each bar labelled with its eigenvalues and how the Lanczos iteration ended."""
    labels = list(curvatures)

    def note(c: Curvature) -> str:
        end = f"converged in {c.iterations} steps" if c.converged else f"NOT converged after {c.iterations} steps"
        return f"λmax={c.lambda_max:.3g}<br>λmin={c.lambda_min:.3g}<br>{end}"

    fig = go.Figure(go.Bar(
        x=labels, y=[curvatures[k].ratio for k in labels],
        marker_color=[COLORS.get(k.split()[0], "gray") for k in labels],
        text=[note(c) for c in curvatures.values()], textposition="outside"))
    style(fig, "|λmin / λmax| of the Hessian at θ* (0 = locally convex)", height)
    fig.update_yaxes(title="|λmin / λmax|", rangemode="tozero")
    return fig


def shared_ratio_range(maps) -> tuple[float, float]:
    """One (0, zmax) covering the finite |λmin/λmax| of every map, for a shared colour scale."""
    vals = [m.ratio[np.isfinite(m.ratio)] for m in maps if m is not None]
    hi = max((float(v.max()) for v in vals if v.size), default=1.0)
    return (0.0, hi if hi > 0 else 1.0)


def curvature_map_figure(m: CurvatureMap, title: str, zrange: tuple[float, float] | None = None,
                         height: int = 420) -> go.Figure:
    """Heat map of |λmin/λmax| over the plane θ* + αδ + βη (Li et al. 2018 Fig. 7): 0 (dark) where
    the loss is locally convex, larger where negative curvature is strong. θ* is marked; points
    whose Lanczos iteration did not converge are circled. Pass the same `zrange` (from
    `shared_ratio_range`) to the plain and the residual map."""
    r = m.ratio
    z = np.where(np.isfinite(r), r, np.nan)
    zmin, zmax = zrange or shared_ratio_range([m])
    text = [[f"λmin={lo:.3g}, λmax={hi:.3g}, {it} steps{'' if ok else ' (not converged)'}"
             for lo, hi, it, ok in zip(*rows)]
            for rows in zip(m.lambda_min, m.lambda_max, m.iterations, m.converged)]
    fig = go.Figure(go.Heatmap(
        x=m.alphas, y=m.betas, z=z, zmin=zmin, zmax=zmax, colorscale=SEQUENTIAL, text=text,
        colorbar=dict(title=dict(text="|λmin/λmax|", side="right")),
        hovertemplate="α=%{x:.3f}<br>β=%{y:.3f}<br>|λmin/λmax|=%{z:.4f}<br>%{text}<extra></extra>"))
    _mark_theta_star(fig, f"|λmin/λmax| = {m.center_ratio:.4f}")
    jj, ii = np.nonzero(~m.converged)
    if len(jj):
        fig.add_trace(go.Scatter(x=m.alphas[ii], y=m.betas[jj], mode="markers", name="not converged",
                                 marker=dict(symbol="circle-open", size=14, color="red"), showlegend=False,
                                 hoverinfo="skip"))
    style(fig, f"{title}{'' if not len(jj) else f' · {len(jj)} point(s) not converged'}", height)
    fig.update_xaxes(title="α (direction δ)")
    fig.update_yaxes(title="β (direction η)", scaleanchor="x", scaleratio=1)
    return fig


# --- the view in a report (`slides`, `registry.View.sections`) --------------------------------------------------


def landscape_sections(view, runs: dict[str, Run]) -> list[Section]:
    """The loss-landscape view (Li et al. 2018) for its chosen sub-view: the planes (Fig. 5) and their 1-D slices,
    the interpolations (Goodfellow et al. 2015), the optimisation paths, or the Hessian's extreme eigenvalues with
    the Fig. 7 maps when they were computed."""
    s = view.settings
    if view.surfaces is not None:
        return _surface_sections(view, runs)
    if view.interpolations is not None:
        curves = view.interpolations
        return [Section("Interpolations between weights", view.caption(), fig) for fig in (
            interpolation_figure([(curves["plain: init → trained"], PLAIN_COLOR),
                                    (curves["residual: init → trained"], RESIDUAL_COLOR)],
                                   "Initial → trained weights (Goodfellow et al. 2015)", s.mode, s.clip),
            interpolation_figure([(curves["in the plain net"], PLAIN_COLOR),
                                    (curves["in the residual net"], RESIDUAL_COLOR)],
                                   "Plain weights (t=0) → residual weights (t=1)", s.mode, s.clip))]
    if view.trajectories is not None:
        trs = view.trajectories
        zr = shared_zrange([t.surface for t in trs.values()], s.mode, s.clip)
        colors = {"plain": PLAIN_COLOR, "residual": RESIDUAL_COLOR}
        return [Section(f"{label.capitalize()} net: path of training", view.caption(),
                        trajectory_figure(tr, f"{label}: path of training", colors.get(label, PLAIN_COLOR),
                                            s.mode, s.clip, zr)) for label, tr in trs.items()]
    out = [Section("Extreme Hessian eigenvalues at θ*", view.caption(), curvature_figure(view.curvature))]
    if view.maps:
        zr = shared_ratio_range(view.maps.values())
        out += [Section(f"{label.capitalize()} net: |λmin/λmax| across the plane (Li et al. Fig. 7)", view.map_caption(),
                        curvature_map_figure(m, f"{label}: {runs[label].net.name}", zr))
                for label, m in view.maps.items()]
    return out


def _surface_sections(view, runs: dict[str, Run]) -> list[Section]:
    s = view.settings
    zr = shared_zrange(view.surfaces.values(), s.mode, s.clip)
    net, cfg = runs["residual"].net, runs["residual"].train
    cap = view.caption()
    out = [Section(
        f"{label.capitalize()} net: loss surface", Caption(
            cap.takeaway,
            f"{runs[label].net.name}, width {net.width}, trained {cfg.epochs} epochs. f(α, β) = L(θ* + αδ + βη) on a "
            f"{s.grid}×{s.grid} grid over [−{s.span:g}, {s.span:g}]², {s.normalization}-normalized directions from "
            f"seed {s.seed} (the same for both nets), one colour scale for both. "
            f"{surface_stats(srf, view.classes)[0].upper()}{surface_stats(srf, view.classes)[1:]}."),
        contour_figure(srf, f"{label}: {runs[label].net.name}", s.mode, s.clip, zr))
        for label, srf in view.surfaces.items()]
    sl = slices_caption(view.surfaces)
    details = cap.details if cap.takeaway == sl.takeaway else f"{sl.details} {cap}"  # the 1-D view: its own caption
    out.append(Section("1-D slices through θ*", Caption(sl.takeaway, details),
                       slices_figure(view.surfaces, s.mode, s.clip)))
    return out


def sections(result, inputs) -> list[Section]:
    """The loss-landscape view in a report (`registry`): `landscape_sections` of the trained pair."""
    return landscape_sections(result, inputs.runs)
