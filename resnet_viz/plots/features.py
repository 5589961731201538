"""Figures of the feature-map view: inputs, predictions, channel grids, block statistics
and attribution maps (pure functions: arrays in, plotly Figure or PIL image out)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import DIVERGING, PLAIN_COLOR, RESIDUAL_COLOR, SEQUENTIAL, color_of, style



# Inferno-like scale for unsigned maps (saliency, Grad-CAM) and a red-blue one for IG, as
# explicit rgb() stops: the same anchors colour the PNG export. (Plotly's own "Inferno"
# starts at '#000004', which some browsers draw as pink.)
_INFERNO = [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)]
_RDBU = [(33, 102, 172), (146, 197, 222), (247, 247, 247), (244, 165, 130), (178, 24, 43)]
ATTRIBUTION_SCALE = [[i / (len(_INFERNO) - 1), f"rgb{c}"] for i, c in enumerate(_INFERNO)]


def _image_axes(fig: go.Figure, row=None, col=None) -> None:
    kw = {} if row is None else dict(row=row, col=col)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain", **kw)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
                     scaleanchor="x", **kw)


def input_figure(raw: np.ndarray, vmax: float, title: str | None = None, height: int = 260) -> go.Figure:
    """The input image in raw units ([C, H, W]; grayscale 0..vmax, bright = high, or RGB)."""
    raw = np.asarray(raw, dtype=np.float32)
    if raw.shape[0] == 3:
        rgb = np.clip(raw.transpose(1, 2, 0) / vmax * 255, 0, 255).astype(np.uint8)
        fig = go.Figure(go.Image(z=rgb))
    else:
        fig = go.Figure(go.Heatmap(z=raw[0], zmin=0, zmax=vmax, colorscale="gray", showscale=False,
                                   hovertemplate="row %{y}, col %{x}: %{z:.1f}<extra></extra>"))
    _image_axes(fig)
    style(fig, title, height)
    fig.update_layout(margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def probabilities_figure(probs, class_names, skip: bool, true_label: int | None = None,
                         title: str | None = None, height: int = 260) -> go.Figure:
    """Bar chart of the softmax probabilities, in the net's colour; the true class is outlined."""
    probs = list(probs)
    names = [str(c) for c in class_names]
    line = [3 if i == true_label else 0 for i in range(len(probs))]
    fig = go.Figure(go.Bar(x=names, y=probs, marker=dict(color=color_of(skip), line=dict(width=line, color="black")),
                           hovertemplate="class %{x}: %{y:.3f}<extra></extra>"))
    style(fig, title, height)
    fig.update_yaxes(range=[0, 1], title="probability")
    fig.update_xaxes(type="category", title="class" + (" (outlined: true class)" if true_label is not None else ""))
    return fig


def tile_channels(act: np.ndarray, cols: int | None = None) -> tuple[np.ndarray, int]:
    """Channels [C, H, W] tiled into one 2-D array, one-pixel NaN gaps; returns (tiles, cols)."""
    c, h, w = act.shape
    cols = cols or math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan, dtype=np.float32)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = act[k]
    return out, cols


def channel_grid_figure(act: np.ndarray, zmin: float, zmax: float, title: str | None = None,
                        height: int = 420) -> go.Figure:
    """Every channel of one block output [C, H, W] in a grid, on one colour scale (zmin..zmax)."""
    act = np.asarray(act, dtype=np.float32)
    tiles, cols = tile_channels(act)
    # Channel number of each pixel (-1 in the gaps), for the hover text: the channels' numbers tiled alike.
    numbers, _ = tile_channels(np.broadcast_to(np.arange(len(act), dtype=np.float32)[:, None, None], act.shape), cols)
    chan = np.nan_to_num(numbers, nan=-1).astype(int)
    fig = go.Figure(go.Heatmap(z=tiles, zmin=zmin, zmax=zmax, colorscale=SEQUENTIAL, customdata=chan,
                               hoverongaps=False, colorbar=dict(thickness=12),
                               hovertemplate="channel %{customdata}: %{z:.3f}<extra></extra>"))
    _image_axes(fig)
    style(fig, title, height)
    fig.update_layout(margin=dict(l=10, r=10, t=50 if title else 10, b=10))
    return fig


def statistics_figure(stats_plain: dict, stats_residual: dict, height: int = 320) -> go.Figure:
    """Mean, std and dead fraction of each block output against depth, both nets."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("mean", "std", "dead fraction (≤ 0)"),
                        horizontal_spacing=0.08)
    for name, stats, color in (("plain", stats_plain, PLAIN_COLOR), ("residual", stats_residual, RESIDUAL_COLOR)):
        for col, key in enumerate(("mean", "std", "dead_fraction"), start=1):
            y = stats[key]
            fig.add_trace(go.Scatter(x=list(range(1, len(y) + 1)), y=y, mode="lines+markers", name=name,
                                     legendgroup=name, showlegend=col == 1, line=dict(color=color),
                                     hovertemplate=f"{name}, block %{{x}}: %{{y:.3f}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(title="block", dtick=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_yaxes(range=[0, 1], row=1, col=3)
    style(fig, None, height)
    # Legend under the plots, where it cannot cover the subplot titles.
    fig.update_layout(legend=dict(orientation="h", y=-0.3, yanchor="top", x=0.5, xanchor="center"),
                      margin=dict(t=40, b=90))
    return fig


def attribution_figure(attr_map: np.ndarray, raw_input: np.ndarray | None, vmax_input: float,
                       signed: bool, zmax: float, title: str | None = None, outline: bool = True,
                       feature_names=None, height: int = 280, cells: tuple[int, ...] | None = None,
                       block: int | None = None) -> go.Figure:
    """An attribution map over its input, on a colour scale fixed by `zmax` (shared by both nets).

    Images: the map with the input's strokes outlined (a contour at half of `vmax_input`,
    when `outline`); signed maps (IG) use a diverging scale on [-zmax, zmax], unsigned
    ones [0, zmax]. Vector inputs
    ([1, features]): a bar per input feature. A map whose own peak is under DARK_BELOW of
    `zmax` says so under it (how many times smaller: dark on the shared scale, not empty).
    `cells` (Grad-CAM: the block output's spatial size) and `block` (1-based) put the map's
    resolution in the title and draw the cells' edges: a cell lights all the pixels it covers,
    an empty corner of the digit included.
    """
    attr_map = np.asarray(attr_map, dtype=np.float32)
    zmax = float(zmax) if zmax and math.isfinite(zmax) and zmax > 0 else 1.0
    if cells:
        where = f" at block {block}" if block is not None else ""
        title = f"{title}<br>{'×'.join(map(str, cells))} cells{where}, upsampled" if title else \
            f"{'×'.join(map(str, cells))} cells{where}, upsampled"
    note = _dark_note(attr_map, zmax)
    if raw_input is None or np.asarray(raw_input).ndim != 3:
        return _attribution_bars(attr_map, signed, zmax, title, feature_names, height, note)
    fig = go.Figure()
    fig.add_trace(go.Heatmap(z=attr_map, zmin=-zmax if signed else 0, zmax=zmax,
                             colorscale=DIVERGING if signed else ATTRIBUTION_SCALE, zmid=0 if signed else None,
                             colorbar=dict(thickness=12),
                             hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>"))
    if outline:
        _add_outline(fig, raw_input, vmax_input, signed)
    if cells and len(cells) == 2:
        _add_cell_edges(fig, attr_map.shape[-2:], cells)
    _image_axes(fig)
    style(fig, title, height + (34 if note else 0))  # the note's room: the map keeps the other net's size
    top = 10 if not title else 40 + 22 * title.count("<br>")
    fig.update_layout(margin=dict(l=10, r=10, t=top, b=44 if note else 10), showlegend=False)
    if note:
        _note(fig, note)
    return fig


def _dark_note(attr_map: np.ndarray, zmax: float) -> str | None:
    """What to say under a map that looks empty on the shared scale: "all zero", or how many times its own peak
    is below `zmax` when under DARK_BELOW of it (dark, not empty); None otherwise."""
    peak = float(np.nanmax(np.abs(attr_map))) if attr_map.size else 0.0
    if not math.isfinite(peak) or peak == 0:
        return "all zero"
    if peak < DARK_BELOW * zmax:
        return f"peak 1/{_ratio(zmax / peak)} of the shared scale:<br>dark, not empty"
    return None


def _attribution_bars(attr_map: np.ndarray, signed: bool, zmax: float, title: str | None, feature_names,
                      height: int, note: str | None) -> go.Figure:
    """A vector input's attributions: a bar per input feature on the shared scale (signed: [-zmax, zmax])."""
    names = list(feature_names or [f"x{i + 1}" for i in range(attr_map.shape[-1])])
    fig = go.Figure(go.Bar(x=names, y=attr_map.reshape(-1), marker_color="#555",
                           hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    fig.update_yaxes(range=[-zmax * 1.05 if signed else 0, zmax * 1.05], title="attribution")
    style(fig, title, height)
    if note:
        _note(fig, note)
    return fig


def _add_outline(fig: go.Figure, raw_input: np.ndarray, vmax_input: float, signed: bool) -> None:
    """The input's strokes as an outline at half the raw range, so the map stays readable."""
    gray = np.asarray(raw_input, dtype=np.float32).mean(axis=0)
    fig.add_trace(go.Contour(z=gray, contours=dict(coloring="none", start=vmax_input / 2, end=vmax_input / 2,
                                                   size=1), line=dict(color="#000" if signed else "#7fffd4",
                                                                    width=2, smoothing=0.6),
                             showscale=False, hoverinfo="skip", name="input outline"))


def _add_cell_edges(fig: go.Figure, shape: tuple[int, int], cells: tuple[int, ...]) -> None:
    """Grad-CAM's cells drawn on the upsampled map (Selvaraju et al. 2017: one value per cell of the block's
    output): their edges across the image only, pixel centres at integers."""
    h, w = shape
    edge = dict(type="line", xref="x", yref="y", line=dict(color="#9ecae1", width=1, dash="dot"))
    for k in range(1, cells[0]):
        fig.add_shape(**edge, x0=-0.5, x1=w - 0.5, y0=k * h / cells[0] - 0.5, y1=k * h / cells[0] - 0.5)
    for k in range(1, cells[1]):
        fig.add_shape(**edge, y0=-0.5, y1=h - 0.5, x0=k * w / cells[1] - 0.5, x1=k * w / cells[1] - 0.5)


DARK_BELOW = 0.2  # a map whose peak is under this part of the shared scale is named dark, with the ratio


def _ratio(r: float) -> str:
    return f"{r:.0f}" if r >= 10 else f"{r:.1f}"


def _note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0, yanchor="top", yshift=-4,
                       showarrow=False, font=dict(size=12, color="#555"))


# --- PNG export (Pillow, no kaleido) -----------------------------------------------------



def _colormap(t: np.ndarray, anchors) -> np.ndarray:
    pts = np.linspace(0, 1, len(anchors))
    a = np.asarray(anchors, dtype=np.float32)
    t = np.clip(np.nan_to_num(t, nan=0.0), 0, 1)
    return np.stack([np.interp(t, pts, a[:, k]) for k in range(3)], axis=-1).astype(np.uint8)


def attribution_image(attr_map: np.ndarray, signed: bool, zmax: float | None = None, scale: int = 32):
    """The attribution map as a PIL RGB image, each input pixel a `scale`x`scale` square.

    Unsigned maps use an inferno-like scale on [0, zmax]; signed maps (IG) a red-blue
    diverging scale on [-zmax, zmax] with white at 0. zmax defaults to max |map|.
    """
    from PIL import Image

    m = np.asarray(attr_map, dtype=np.float32)
    if m.ndim == 1:
        m = m[None]
    top = float(np.nanmax(np.abs(m))) if zmax is None else float(zmax)
    top = top if top > 0 and math.isfinite(top) else 1.0
    rgb = _colormap((m / top + 1) / 2, _RDBU) if signed else _colormap(m / top, _INFERNO)
    img = Image.fromarray(rgb)
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
