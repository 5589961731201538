"""Colours and layout shared by every figure, so plain and residual look the same everywhere."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

PLAIN_COLOR = "#2166ac"  # blue
RESIDUAL_COLOR = "#d6604d"  # red
COLORS = {"plain": PLAIN_COLOR, "residual": RESIDUAL_COLOR}
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"


def color_of(skip: bool) -> str:
    """Colour of the residual (skip=True) or plain net."""
    return RESIDUAL_COLOR if skip else PLAIN_COLOR


def style(fig: go.Figure, title: str | None = None, height: int = 420) -> go.Figure:
    """Apply the lab's common layout (white template, compact margins, legend on top)."""
    fig.update_layout(
        template="plotly_white",
        title=title,
        height=height,
        margin=dict(l=50, r=20, t=50 if title else 20, b=40),
        # Legend below the plot: above it, long legends collide with the title.
        legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0),
    )
    return fig


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tick_label(value: float, power: bool = False) -> str:
    """A tick label that reads the same out of context: 0.001 … 1000 as decimals, 2·10⁵ beyond
    (or always as a power of ten with `power`).

    Plotly's own log-axis labels abbreviate minor ticks to their first digit ("2", "5"),
    so 20 and 0.2 both read "2"; every label made here names its whole value.
    """
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        return ""
    if 1e-3 <= value < 1e4 and not power:
        return np.format_float_positional(float(f"{value:.3g}"), trim="-")
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = float(f"{value / 10 ** exponent:.3g}")
    head = "" if mantissa == 1 else f"{mantissa:g}·"
    return f"{head}10{str(exponent).translate(_SUPERSCRIPT)}"


def log_ticks(lo: float, hi: float, max_labels: int = 8) -> tuple[list[float], list[str], list[float]]:
    """Tick values, their labels and minor (unlabelled) tick values for a log axis over [lo, hi].

    Two decades or more: decades only (every n-th when there are more than `max_labels`),
    with 2…9 as unlabelled minor ticks. Less: 1-2-5 steps (1…9 under half a decade),
    each labelled in full.
    """
    lo, hi = (float(lo), float(hi)) if lo <= hi else (float(hi), float(lo))
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0:
        raise ValueError(f"a log axis needs a positive finite range, got [{lo}, {hi}]")
    e0, e1 = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    e1 = max(e1, e0 + 1)
    span = math.log10(hi / lo)
    if span >= 2:
        step = max(1, math.ceil((e1 - e0 + 1) / max_labels))
        values = [10.0 ** e for e in range(e0, e1 + 1) if (e - e0) % step == 0]
        minor = [float(f"{m * 10.0 ** e:.3g}") for e in range(e0, e1 + 1) for m in range(1, 10)
                 if not (m == 1 and (e - e0) % step == 0)]
    else:
        mantissas = (1, 2, 5) if span >= 0.5 else range(1, 10)
        values = [float(f"{m * 10.0 ** e:.3g}") for e in range(e0, e1 + 1) for m in mantissas]
        minor = []
    # One notation for the labels the data spans (beyond the data a label may differ: still unambiguous).
    power = any(not 1e-3 <= v < 1e4 for v in values if lo / 1.01 <= v <= hi * 1.01)
    return values, [tick_label(v, power) for v in values], minor


def _axis_values(fig: go.Figure, axis: str, row=None, col=None) -> np.ndarray:
    traces = fig.select_traces(row=row, col=col) if row is not None or col is not None else fig.data
    out = []
    for t in traces:
        if row is None and col is None and (getattr(t, f"{axis}axis", None) or axis) != axis:
            continue  # an overlaid second axis (e.g. 'y2') is not this one
        data = getattr(t, axis, None)
        if data is None:
            continue
        out.extend(v for v in np.ravel(np.asarray(data, dtype=object)) if isinstance(v, (int, float, np.number)))
    v = np.asarray(out, dtype=float)
    return v[np.isfinite(v) & (v > 0)]


def log_axis(fig: go.Figure, axis: str = "y", values=None, ticks=None, row=None, col=None, **kwargs) -> go.Figure:
    """Make `axis` ("x" or "y") of `fig` logarithmic with labels that cannot be misread.

    `ticks`: the values to label, each in full (e.g. the depths of a sweep); used when
    there are at most 12 of them. Otherwise the labels come from `log_ticks` over the
    range of `values` (default: the data of the traces on that axis, or in `row`/`col`).
    Other keyword arguments go to `update_xaxes`/`update_yaxes`. Every log axis of the
    lab goes through here.
    """
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    minor = []
    if ticks is not None and 0 < len(ticks) <= 12:
        vals = sorted({float(v) for v in ticks if float(v) > 0})
        text = [tick_label(v) for v in vals]
    else:
        v = _axis_values(fig, axis, row, col) if values is None else np.asarray(values, dtype=float)
        v = v[np.isfinite(v) & (v > 0)]
        if v.size == 0:
            update(type="log", row=row, col=col, **kwargs)
            return fig
        vals, text, minor = log_ticks(float(v.min()), float(v.max()))
    update(type="log", tickmode="array", tickvals=vals, ticktext=text, row=row, col=col,
           minor=dict(tickmode="array", tickvals=minor, showgrid=True, gridcolor="#f3f3f3") if minor else None,
           **kwargs)
    return fig
