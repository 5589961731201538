"""Figures of the unrolled-ensemble view (Veit, Wilber & Belongie 2016): pure functions, results in, plotly out."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..captions import details_of, takeaway_of
from ..models import ConfigError
from ..numbers import pct
from ..report import Section
from ..train import Run
from ..views.ensemble import MAX_DIAGRAM_BLOCKS, LesionResult, PathGradientResult, path_counts, unrolled_paths
from .common import RESIDUAL_COLOR, SEQUENTIAL, color_of, log_axis, style

CHANCE_COLOR = "#888888"
PATH_HEADROOM = 1.45  # the total-gradient panel's y-axis reaches this × its highest bar: room for two label rows
DOWN_NOTE = "Hatched bars (↓) are downsampling blocks, deleted as y = shortcut(x) (subsample + zero-pad)"


def _length_colors(n: int) -> list[str]:
    return sample_colorscale(SEQUENTIAL, [k / max(n, 1) for k in range(n + 1)])


def unrolled_figure(n: int = 3) -> go.Figure:
    """The unrolled view of n residual blocks (Veit Fig. 1): one lane per path, 2^n lanes.

    Each path leaves the input, passes block i either through its residual branch f_i
    (a filled square) or along its shortcut (a small dot), and all paths are summed at
    the output. Lanes are sorted and coloured by path length.
    """
    if not isinstance(n, int) or not 1 <= n <= MAX_DIAGRAM_BLOCKS:
        raise ConfigError(f"the unrolled diagram is drawn for 1 to {MAX_DIAGRAM_BLOCKS} blocks, got {n!r}")
    paths = unrolled_paths(n)
    colors = _length_colors(n)
    m = len(paths)
    mid = (m - 1) / 2
    fig = go.Figure()
    shown = set()
    for lane, p in enumerate(paths):
        k = sum(p)
        yl = m - 1 - lane  # shortest path on top
        xs = [0, 0.5] + [i + 1 for i in range(n)] + [n + 0.5, n + 1]
        ys = [mid, yl] + [yl] * n + [yl, mid]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", line=dict(color=colors[k], width=2), legendgroup=str(k),
            name=f"length {k} ({path_counts(n)['count'][k]} path{'s' if path_counts(n)['count'][k] > 1 else ''})", showlegend=k not in shown,
            hovertext="input → " + " → ".join(f"f{i + 1}" if f else f"skip {i + 1}" for i, f in enumerate(p)) + " → Σ",
            hoverinfo="text"))
        shown.add(k)
        bx = [i + 1 for i, f in enumerate(p) if f]
        if bx:
            fig.add_trace(go.Scatter(
                x=bx, y=[yl] * len(bx), mode="markers+text", showlegend=False, legendgroup=str(k),
                marker=dict(symbol="square", size=22, color=colors[k], line=dict(color="black", width=1)),
                text=[f"f{i}" for i in bx], textfont=dict(color="white" if k < 0.6 * n else "black", size=11), hoverinfo="skip"))
        sx = [i + 1 for i, f in enumerate(p) if not f]
        if sx:
            fig.add_trace(go.Scatter(x=sx, y=[yl] * len(sx), mode="markers", showlegend=False,
                                     marker=dict(size=5, color=colors[k]), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[0, n + 1], y=[mid, mid], mode="markers+text", showlegend=False,
                             marker=dict(size=30, color="white", line=dict(color="black", width=1.5)),
                             text=["x", "Σ"], textfont=dict(size=14), hoverinfo="skip"))
    style(fig, f"{n} residual block{'s' if n > 1 else ''} unroll into 2<sup>{n}</sup> = {m} paths", height=max(300, 34 * m + 110))
    fig.update_xaxes(tickvals=[0] + [i + 1 for i in range(n)] + [n + 1],
                     ticktext=["input"] + [f"block {i + 1}" for i in range(n)] + ["output"],
                     showgrid=False, zeroline=False)
    fig.update_yaxes(visible=False, range=[-0.8, m - 0.2])
    return fig


def deletion_figure(result: LesionResult, title: str | None = None) -> go.Figure:
    """Accuracy after deleting each single block (Veit Fig. 3a), against the intact net and chance.

    Downsampling blocks are hatched: there the deleted block becomes y = shortcut(x).
    """
    n = result.n_blocks
    down = set(result.downsampling_blocks)
    color = color_of(result.skip)
    fig = go.Figure(go.Bar(
        x=list(range(1, n + 1)), y=result.single_block_accuracy, marker_color=color, name="block deleted",
        showlegend=False,
        marker_pattern_shape=["/" if i in down else "" for i in range(n)],
        customdata=[("downsampling: y = shortcut(x)" if i in down else "y = x") for i in range(n)],
        hovertemplate="block %{x} deleted (%{customdata})<br>accuracy %{y:.1%}<extra></extra>"))
    # The two levels are named in the legend under the plot: a label on the line covered the bars (presenter mode).
    _level(fig, result.base_accuracy, f"intact {result.base_accuracy:.1%}", dict(color=color, dash="dash"))
    _level(fig, result.chance, f"chance {result.chance:.0%}", dict(color=CHANCE_COLOR, dash="dot"))
    style(fig, title or f"{result.label}: delete one block", height=380)
    fig.update_xaxes(title="deleted block", tickvals=list(range(1, n + 1)) if n <= 30 else None,
                     ticktext=[f"{i + 1}↓" if i in down else str(i + 1) for i in range(n)] if n <= 30 else None)
    fig.update_yaxes(title="test accuracy", range=[0, 1.05], tickformat=".0%")
    return fig


def _level(fig: go.Figure, y: float, name: str, line: dict) -> None:
    """A horizontal line across the plot at `y`, named `name` in the legend (not on the plot, where a label
    covers the bars or points it crosses)."""
    fig.add_hline(y=y, line=line)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line, name=name, hoverinfo="skip"))


def _chance_line(fig: go.Figure, chance: float | None) -> None:
    """A dotted line at accuracy `chance`, named "chance" in the legend (none for None)."""
    if chance is not None:
        _level(fig, chance, f"chance {chance:.0%}", dict(color=CHANCE_COLOR, dash="dot"))


def k_sweep_figure(results: Sequence[LesionResult]) -> go.Figure:
    """Accuracy against the number k of deleted blocks (Veit Fig. 3b), mean with min-max band, per net."""
    fig = go.Figure()
    chance = None
    for r in results:
        ks = r.k_sweep
        if ks is None:
            continue
        c = color_of(r.skip)
        fig.add_trace(go.Scatter(x=ks.k + ks.k[::-1], y=ks.max + ks.min[::-1], fill="toself", fillcolor=c,
                                 opacity=0.15, line=dict(width=0), hoverinfo="skip", showlegend=False))
        xs = [k for k, accs in zip(ks.k, ks.accuracies) for _ in accs]
        ys = [a for accs in ks.accuracies for a in accs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker=dict(color=c, size=4, opacity=0.35),
                                 name=f"{r.label}: one subset", showlegend=False,
                                 hovertemplate="k=%{x}: %{y:.1%}<extra></extra>"))
        fig.add_trace(go.Scatter(x=ks.k, y=ks.mean, mode="lines+markers", line=dict(color=c, width=3),
                                 error_y=dict(type="data", array=ks.std, visible=True, thickness=1),
                                 name=f"{r.label} (mean ± std)", customdata=list(zip(ks.subsets, ks.exhaustive)),
                                 hovertemplate="k=%{x}: mean %{y:.1%} over %{customdata[0]} subsets<extra></extra>"))
        chance = r.chance
    _chance_line(fig, chance)
    style(fig, "Delete k blocks at once", height=380)
    fig.update_xaxes(title="deleted blocks k", dtick=1)  # which blocks may go: the caption says
    fig.update_yaxes(title="test accuracy", range=[0, 1.05], tickformat=".0%")
    return fig


def reorder_figure(results: Sequence[LesionResult]) -> go.Figure:
    """Accuracy after swapping random pairs of same-shape blocks against the Kendall τ of the new order (Veit Fig. 3c)."""
    fig = go.Figure()
    chance = None
    for r in results:
        ro = r.reorder
        if ro is None:
            continue
        c = color_of(r.skip)
        fig.add_trace(go.Scatter(x=ro.kendall_tau, y=ro.accuracy, mode="markers", name=r.label,
                                 marker=dict(color=c, size=7, opacity=0.6), customdata=ro.swaps,
                                 hovertemplate="τ=%{x:.2f}, %{customdata} swaps: %{y:.1%}<extra></extra>"))
        chance = r.chance
    _chance_line(fig, chance)
    style(fig, "Reorder blocks (swap same-shape pairs)", height=380)
    fig.update_xaxes(title="Kendall τ to the trained order", autorange="reversed")
    fig.update_yaxes(title="test accuracy", range=[0, 1.05], tickformat=".0%")
    return fig


def path_length_figure(result: PathGradientResult) -> go.Figure:
    """Veit Fig. 6: path-length distribution, gradient magnitude of one path and total gradient by length.

    Left: C(n, k) paths of length k (Binomial(n, 1/2)). Middle: g(k), the mean
    gradient norm at the first block's input along one path of length k (log scale).
    Right: C(n, k)·g(k); the shaded window holds 90 % of it (the effective paths), the dotted
    line marks the typical path length n/2.
    """
    n = result.n_blocks
    counts = path_counts(n)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09, subplot_titles=(
        f"Paths of each length ({2**n} in all)", "Gradient along one path, g(k)", "Total gradient, C(n,k)·g(k)"))
    colors = _length_colors(n)
    fig.add_trace(go.Bar(x=counts["path_length"], y=counts["count"], marker_color=colors, showlegend=False,
                         hovertemplate="length %{x}: %{y} paths<extra></extra>"), 1, 1)
    k = result.path_length
    fig.add_trace(go.Scatter(x=k, y=result.gradient_norm, mode="lines+markers", line=dict(color=RESIDUAL_COLOR),
                             error_y=dict(type="data", array=result.gradient_std, visible=True, thickness=1),
                             customdata=result.paths_sampled, showlegend=False,
                             hovertemplate="length %{x}: g = %{y:.2e} (%{customdata} paths)<extra></extra>"), 1, 2)
    fig.add_trace(go.Bar(x=k, y=result.contribution, marker_color=RESIDUAL_COLOR, showlegend=False,
                         hovertemplate="length %{x}: %{y:.2e}<extra></extra>"), 1, 3)
    a, b = result.effective
    fig.add_vrect(x0=a - 0.5, x1=b + 0.5, fillcolor="#ffd92f", opacity=0.3, line_width=0, row=1, col=3, layer="below")
    # The typical path length n/2: Veit's effective paths lie well below it.
    fig.add_vline(x=n / 2, line=dict(color="gray", dash="dot"), row=1, col=3)
    # Their labels in headroom above the bars, on two rows (the window's, then n/2's): on the bars they covered
    # them, and at the top edge the window's label ran into the subplot title.
    top = max([v for v in result.contribution if v == v] or [1.0])
    fig.update_yaxes(range=[0, top * PATH_HEADROOM], row=1, col=3)
    fig.add_annotation(x=a - 0.5, y=1, xref="x3", yref="y3 domain", xanchor="left", yanchor="top", showarrow=False,
                       text=f"90 %: lengths {a}-{b}", bgcolor="rgba(255,255,255,0.85)")
    fig.add_annotation(x=n / 2, y=1, xref="x3", yref="y3 domain", xanchor="left", yanchor="top", yshift=-30,
                       showarrow=False, text="n/2", bgcolor="rgba(255,255,255,0.85)")
    style(fig, None, height=360)
    fig.update_layout(margin=dict(t=50))  # room for a subplot title on two lines
    log_axis(fig, "y", row=1, col=2)
    for col in (1, 2, 3):
        fig.update_xaxes(title="path length k", row=1, col=col, range=[-0.6, n + 0.6])
    fig.update_yaxes(title="paths", row=1, col=1)
    return fig


# --- the view in a report (`slides`, `registry.View.sections`) --------------------------------------------------


def ensemble_sections(view, runs: dict[str, Run]) -> list[Section]:
    """The unrolled-ensemble view (Veit et al. 2016): the unrolled graph, deletions, k-sweep, reorder, paths."""
    s, caps = view.settings, view.captions()
    net = runs["residual"].net
    down = ", ".join(str(i + 1) for i in view.residual.downsampling_blocks)
    n = s.diagram_blocks
    out = [Section("The unrolled view",
                   f"The trained residual net's {net.depth} blocks unroll into {2 ** net.depth:,} paths, most of them "
                   f"about {net.depth / 2:g} blocks long. y = y' + f(y') at every block: {n} blocks expand into 2^{n} = {2 ** n} paths, C({n}, k) of them "
                   f"through k residual branches (Veit et al. 2016, Fig. 1). The trained residual net below has "
                   f"{net.depth} blocks: {2 ** net.depth:,} paths.", unrolled_figure(n))]
    deletion, k_sweep = caps["deletion"], caps["k_sweep"]
    for r in view.lesions:  # each caption the takeaway first, then how it was measured
        out.append(Section(
            f"{r.label.capitalize()} net: delete one block",
            f"{takeaway_of(deletion)} {runs[r.label].net.name}, width {net.width}: test accuracy with one block removed "
            f"(residual: y = x + F(x) → y = x; plain: y = F(x) → y = x). Hatched bars are downsampling blocks ({down}), "
            f"where a deleted block becomes y = shortcut(x). Measured: {details_of(deletion)}", deletion_figure(r)))
    ks = view.residual.k_sweep
    ks_text = ", ".join(f"k = {k}: {pct(m, 0)}" for k, m in zip(ks.k, ks.mean)) if ks else ""
    out.append(Section("Delete k blocks at once",
                       f"{takeaway_of(k_sweep)} Up to {s.samples} random sets of k deleted blocks. {details_of(k_sweep)} "
                       f"Residual net — {ks_text}.", k_sweep_figure(view.lesions)))
    if caps["reorder"]:
        out.append(Section("Reorder blocks", caps["reorder"], reorder_figure(view.lesions)))
    out.append(Section("Gradient by path length", caps["paths"], path_length_figure(view.paths)))
    return out


def sections(result, inputs) -> list[Section]:
    """The unrolled-ensemble view in a report (`registry`): `ensemble_sections` of the trained pair."""
    return ensemble_sections(result, inputs.runs)
