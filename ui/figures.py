"""Showing figures: one call that draws a plotly figure with PNG and HTML export and presenter styling."""

from __future__ import annotations

import dataclasses
import hashlib
import textwrap
import threading
import weakref
from collections import OrderedDict

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from resnet_viz.captions import details_of, takeaway_of
from resnet_viz.report import figure_html

MAX_FIGURES = 256  # figures kept by `figure` for the whole server (least recently drawn dropped first)
PRESENTER_FONT = 20  # plotly base font in presenter mode; titles and subplot titles a little larger
# Characters of a presenter-mode title that fit across a full-width chart on a 1280-pixel screen (sidebar open);
# a chart in one of n columns holds 1/n of them. Longer titles, axis titles and subplot titles are wrapped
# (plotly never wraps one: it would be cut).
TITLE_CHARS = 64


def presenter() -> bool:
    """True when presenter mode is on (large fonts, plain and residual still side by side)."""
    return bool(st.session_state.get("presenter", False))


class Column:
    """One column of `columns`: the Streamlit column (every call and `with` go to it) and `share`, the part of
    the page's width it gets, which `show` wraps a chart's titles to. Nothing is set on the Streamlit object
    (a DeltaGenerator answers any unknown attribute with a function)."""

    __slots__ = ("column", "share")

    def __init__(self, column, share: float) -> None:
        self.column = column
        self.share = share

    def __getattr__(self, name: str):
        if name in Column.__slots__:  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.column, name)

    def __enter__(self) -> "Column":
        self.column.__enter__()
        _shares.stack = [*getattr(_shares, "stack", ()), self.share]
        return self

    def __exit__(self, *exc):
        _shares.stack = getattr(_shares, "stack", [1.0])[:-1]
        return self.column.__exit__(*exc)


_shares = threading.local()  # shares of the `with column:` blocks the script thread is in, innermost last


def columns(spec: int | list = 2) -> list[Column]:
    """`st.columns(spec)` (a count or relative widths): side by side in both modes (a comparison stacked on a
    projector is no comparison). Each column knows the share of the page it gets, so that `show` wraps its
    charts' titles to fit."""
    weights = [1.0] * spec if isinstance(spec, int) else [float(w) for w in spec]
    cols = st.columns(spec, gap="small" if presenter() else "medium")
    return [Column(c, w / sum(weights)) for c, w in zip(cols, weights)]


def share_of(where) -> float:
    """The part of the page's width `where` draws in: a `Column`'s share; for the page itself (None or `st`)
    that of the `with column:` block the script is in; 1.0 for any other container (a plain `st.columns`
    column included: pass `share=` to `show` for one)."""
    if isinstance(where, Column):
        return where.share
    if where is None or where is st:
        stack = getattr(_shares, "stack", None)
        return stack[-1] if stack else 1.0
    return 1.0


class _Uncacheable(Exception):
    pass


def _part(value, refs: list) -> object:
    """A hashable stand-in for one argument of a figure builder: the value itself for plain values and
    frozen dataclasses, a digest of an array's bytes, and for any other object its identity, with a
    weak reference in `refs` (an entry whose objects are gone is not used: its ids may be reused)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise _Uncacheable
        data = np.ascontiguousarray(value)
        return ("array", value.shape, value.dtype.str, hashlib.blake2b(data.view(np.uint8), digest_size=16).digest())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_part(v, refs) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((_part(k, refs), _part(v, refs)) for k, v in value.items()))
    if dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen:
        return (type(value).__qualname__, tuple(_part(getattr(value, f.name), refs) for f in dataclasses.fields(value)))
    try:
        refs.append(weakref.ref(value))
    except TypeError:
        raise _Uncacheable from None
    return ("object", type(value).__qualname__, id(value))


_figures: OrderedDict = OrderedDict()  # key -> (weak references to the key's objects, figure)
_figures_lock = threading.Lock()


def figure(builder, *args, **kwargs) -> go.Figure:
    """`builder(*args, **kwargs)`, a figure of `resnet_viz.plots` (or of `ui`), built once for the whole server.

    Every session's render draws the same figures of the same shared results, and building a
    plotly figure is most of a page's render time (issue 14: N students on one server). A figure is
    kept under its builder and its arguments (their values, an array's bytes, or the identity of a
    shared result object while it lives), MAX_FIGURES at most. The figure returned is shared: it
    must not be changed (`enlarged` makes a copy).
    """
    # A page script's own functions are made anew at each run: only the library's and ui's are kept.
    if not getattr(builder, "__module__", "").startswith(("resnet_viz.", "ui.")) or "<" in builder.__qualname__:
        raise ValueError(f"figure() keeps figures of the lab's module-level plot functions only, not {builder!r}")
    refs: list = []
    try:
        key = (builder.__module__, builder.__qualname__, _part(args, refs), _part(kwargs, refs))
    except _Uncacheable:
        return builder(*args, **kwargs)
    with _figures_lock:
        hit = _figures.get(key)
        if hit is not None and all(r() is not None for r in hit[0]):
            _figures.move_to_end(key)
            return hit[1]
    fig = builder(*args, **kwargs)
    with _figures_lock:
        for k in [k for k, (rs, _) in _figures.items() if any(r() is None for r in rs)]:
            del _figures[k]  # figures of objects that are gone can never be drawn again
        _figures[key] = (refs, fig)
        while len(_figures) > MAX_FIGURES:
            _figures.popitem(last=False)
    return fig


def _wrap(text: str, chars: float) -> tuple[str, int]:
    """`text` wrapped at `chars` characters a line with plotly's <br> (already wrapped text is left alone)."""
    if not text or "<br>" in text or len(text) <= chars:
        return text, 1
    lines = textwrap.wrap(text, max(int(chars), 12))
    return "<br>".join(lines), len(lines)


def enlarged(fig: go.Figure, share: float = 1.0) -> go.Figure:
    """A copy of `fig` for a projector: larger fonts for tick labels, legends, titles and subplot titles
    (plotly annotations), a taller plot, and every title that would not fit wrapped: the chart's, the axes'
    and the subplots' (plotly never wraps one: at this size it would be cut). `share` is the part of the
    page's width the chart gets (0.5 in one of two columns)."""
    fig = go.Figure(fig).update_layout(font=dict(size=PRESENTER_FONT), title_font=dict(size=PRESENTER_FONT + 4),
                                       height=max(fig.layout.height or 450, 560))
    fig.update_annotations(font_size=PRESENTER_FONT + 2)
    chars = TITLE_CHARS * share
    top = fig.layout.margin.t or 0
    text, _ = _wrap(fig.layout.title.text, chars)
    title_lines = _lines(text)
    if title_lines:
        # At the top of the chart, not centred in the top margin: a wrapped title centred there ran into the
        # subplot titles under it (the degradation chart).
        # (plotly.js places a title's first line about 20 px above a top anchor: a 32 px pad keeps it whole.)
        fig.update_layout(title=dict(text=text, y=1, yref="container", yanchor="top", pad=dict(t=32)))
    # Axis titles (a little smaller font: more characters fit) and subplot titles, by the width of their axis.
    layout = fig.layout
    axis_lines = 1
    for name in [k for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]:
        axis = layout[name]
        if axis.title and axis.title.text:
            span = (axis.domain[1] - axis.domain[0]) if axis.domain else 1.0
            text, n = _wrap(axis.title.text, chars * span)
            axis.title.text = text
            if n > 1 and name.startswith("xaxis"):
                axis_lines = max(axis_lines, n)
            if n > 1 and name.startswith("xaxis") and (layout.legend.y or 1) < 0:  # a legend below the axis moves down
                fig.update_layout(legend_y=(layout.legend.y or 0) - 0.08 * (n - 1),
                                  margin_b=(layout.margin.b or 80) + 28 * (n - 1))
    subplot_lines = 0
    widths = [(layout[k].domain or (0, 1)) for k in layout.to_plotly_json() if k.startswith("xaxis")]
    for ann in fig.layout.annotations:
        if ann.text and ann.xref == "paper" and ann.yref == "paper" and (ann.y or 0) >= 0.95:
            span = min((d[1] - d[0] for d in widths if d[0] - 1e-6 <= (ann.x or 0) <= d[1] + 1e-6), default=1.0)
            text, _ = _wrap(ann.text, 1.1 * chars * span)
            ann.text = text
            subplot_lines = max(subplot_lines, _lines(text))
    if (layout.legend.y or 1) < 0:  # larger tick labels and axis titles: the legend below them moves down
        fig.update_layout(legend_y=layout.legend.y - 0.08, margin_b=(layout.margin.b or 80) + 40)
    for control in list(layout.updatemenus) + list(layout.sliders):  # so do play buttons and sliders below the plot
        if control.y is not None and control.y < 0:
            control.y -= 0.05
    # The top margin holds the title's lines and, under them, the subplot titles' lines (which sit just above
    # their plots): neither is cut at the top nor runs into the other.
    need = (26 + 30 * title_lines if title_lines else 10) + (28 * subplot_lines + 8 if subplot_lines else 0)
    fig.update_layout(margin_t=max(top, need))
    _legend_below(fig, share, axis_lines)
    return fig


LEGEND_CHARS = 75  # characters of legend entries that fit across a full-width chart in presenter mode
LEGEND_ROW_PX, AXIS_ROOM_PX, PLOT_MIN_PX = 30, 100, 300


def _legend_below(fig: go.Figure, share: float, axis_lines: int) -> None:
    """A legend under the plot (and no play buttons or slider there) moves to the bottom of the chart, under the
    x-axis's tick labels and title, and the chart grows by the rows it takes at presenter size: a long legend
    in a half-page column (an identity study's nine nets) took the plot's place and ran over the axis title."""
    layout = fig.layout
    if (layout.legend.y or 1) >= 0 or layout.showlegend is False or layout.updatemenus or layout.sliders:
        return
    names = [t.name for t in fig.data if t.showlegend is not False and t.name]
    if len(names) < 2 and layout.showlegend is not True:
        return  # plotly shows no legend for a single trace
    rows, used, per_row = 1, 0, LEGEND_CHARS * share
    for name in names:
        width = len(name) + 5  # the symbol and the gap
        if used and used + width > per_row:
            rows, used = rows + 1, 0
        used += width
    bottom = AXIS_ROOM_PX + 28 * (axis_lines - 1) + LEGEND_ROW_PX * rows + 10
    fig.update_layout(legend=dict(yref="container", y=0, yanchor="bottom"), margin_b=bottom,
                      height=max(layout.height or 450, (layout.margin.t or 0) + bottom + PLOT_MIN_PX))


def _lines(text: str | None) -> int:
    """How many lines plotly draws `text` on (0 for none)."""
    return text.count("<br>") + 1 if text else 0


def show(fig: go.Figure, key: str, where=None, export: bool = True, share: float | None = None) -> None:
    """Draw `fig` full-width with the PNG button of plotly's toolbar (2x scale) and an HTML download.

    The HTML (plotly.js embedded, works offline) is only built when clicked.
    In presenter mode fonts are enlarged for a projector: tick labels, legends, titles and the
    subplot titles (plotly annotations), and titles wrapped to the chart's `share` of the page's width (by
    default `share_of(where)`).
    """
    if presenter():
        fig = figure(enlarged, fig, float(share if share is not None else share_of(where)))
    where = where or st
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": key}}
    # Streamlit's chart theme sets its own (small) fonts: leave it out in presenter mode.
    where.plotly_chart(fig, width="stretch", config=config, key=f"chart-{key}",
                       theme=None if presenter() else "streamlit")
    if export:
        where.download_button("⤓ interactive HTML", data=lambda: figure_html(fig), file_name=f"{key}.html",
                              mime="text/html", key=f"html-{key}", on_click="ignore", type="tertiary")


def caption(text: str, where=None, label: str = "How this was measured") -> None:
    """Show a caption under its figure: its takeaway, and its details folded in an expander (a
    `resnet_viz.captions.Caption`); a plain string is shown whole."""

    where = where or st
    where.caption(takeaway_of(text))
    details = details_of(text)
    if details:
        with where.expander(label):
            st.caption(details)
