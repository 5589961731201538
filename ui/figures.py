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

from resnet_viz.report import figure_html


MAX_FIGURES = 256  # figures kept by `figure` for the whole server (least recently drawn dropped first)
PRESENTER_FONT = 20  # plotly base font in presenter mode; titles and subplot titles a little larger
TITLE_CHARS = 40  # a chart title longer than this is wrapped in presenter mode (half a page holds about 40)


def presenter() -> bool:
    """True when presenter mode is on (large fonts, plain and residual still side by side)."""
    return bool(st.session_state.get("presenter", False))


def columns(n: int = 2):
    """`st.columns(n)`: side by side in both modes (a comparison stacked on a projector is no comparison)."""
    return st.columns(n, gap="small" if presenter() else "medium")


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


def enlarged(fig: go.Figure) -> go.Figure:
    """A copy of `fig` for a projector: larger fonts for tick labels, legends, titles and subplot titles
    (plotly annotations), a taller plot, and a long title wrapped (plotly never wraps one: at this
    size it would be cut)."""
    fig = go.Figure(fig).update_layout(font=dict(size=PRESENTER_FONT), title_font=dict(size=PRESENTER_FONT + 4),
                                       height=max(fig.layout.height or 450, 560))
    fig.update_annotations(font_size=PRESENTER_FONT + 2)
    title = fig.layout.title.text
    if title and len(title) > TITLE_CHARS:
        lines = textwrap.wrap(title, TITLE_CHARS)
        fig.update_layout(title_text="<br>".join(lines), margin_t=max(fig.layout.margin.t or 0, 30 + 32 * len(lines)))
    return fig


def show(fig: go.Figure, key: str, where=None, export: bool = True) -> None:
    """Draw `fig` full-width with the PNG button of plotly's toolbar (2x scale) and an HTML download.

    The HTML (plotly.js embedded, works offline) is only built when clicked.
    In presenter mode fonts are enlarged for a projector: tick labels, legends, titles and the
    subplot titles (plotly annotations).
    """
    where = where or st
    if presenter():
        fig = figure(enlarged, fig)
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": key}}
    # Streamlit's chart theme sets its own (small) fonts: leave it out in presenter mode.
    where.plotly_chart(fig, width="stretch", config=config, key=f"chart-{key}",
                       theme=None if presenter() else "streamlit")
    if export:
        where.download_button("⤓ interactive HTML", data=lambda: figure_html(fig), file_name=f"{key}.html",
                              mime="text/html", key=f"html-{key}", on_click="ignore", type="tertiary")
