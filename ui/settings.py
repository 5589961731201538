"""A view's settings as widgets, drawn from their declarations (`resnet_viz.settings`): label, help, options or
limits, the widget kind and its key (which is also its name in the link) are the dataclass's, so a page, a link,
a preset and the command line cannot disagree.

`widget(cls, name, where)` draws one field's widget where the page wants it (a form, a column, the sidebar),
bound to the link; `read(cls, state)` builds the settings object from the widgets' values; `state(settings)`
gives the widget values of a settings object (what a preset writes into the session); `defaults(cls)` the
widgets' default values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from resnet_viz import settings as S
from resnet_viz.registry import VIEWS

from .urlstate import link_bind


def to_widget(spec: S.Spec, value) -> Any:
    """A field's value as its widget holds it: a list for a multiselect, text for a text box."""
    if spec.widget == "multiselect":
        return list(value)
    if spec.widget == "text":
        return spec.show(value) if spec.show else ",".join(map(str, value))
    return value


def from_widget(spec: S.Spec, value) -> Any:
    """A widget's value as the field holds it (ValueError/ConfigError with one line for text it cannot read)."""
    if spec.widget == "multiselect":
        return tuple(value)
    if spec.widget == "text":
        return spec.parse(value) if spec.parse else tuple(v.strip() for v in str(value).split(",") if v.strip())
    if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def defaults(cls: type) -> dict[str, Any]:
    """Widget key -> the default settings' widget value (what a page starts with)."""
    return {s.key: to_widget(s, s.default) for s in S.specs(cls) if s.key and s.widget != "none"}


def state(settings) -> dict[str, Any]:
    """Widget key -> widget value for every field of `settings` that its page shows."""
    return {s.key: to_widget(s, getattr(settings, s.name)) for s in S.specs(type(settings))
            if s.key and s.widget != "none"}


def read(cls: type, values, base=None):
    """The `cls` settings from widget values (a mapping such as `st.session_state`): fields whose widget holds no
    value keep `base`'s (default: the class defaults). ValueError/ConfigError for values the settings refuse."""
    base = base if base is not None else cls()
    kw = {}
    for s in S.specs(cls):
        if s.key and s.key in values and values[s.key] is not None:
            kw[s.name] = from_widget(s, values[s.key])
    return dataclasses.replace(base, **kw)


def form_widget(cls: type, name: str, value, where=None, **override) -> Any:
    """Draw the widget of field `name` of `cls` showing `value`, unbound and without a key (a form whose values
    become a config, e.g. Build & train's pair); returns the field's value (`from_widget`)."""
    s = dataclasses.replace(S.spec(cls, name), **override)
    return from_widget(s, _draw(s, where if where is not None else st, to_widget(s, value), key=None, bind=None))


def _draw(s: S.Spec, where, value, key, bind, extra=()) -> Any:
    """The widget of `s` showing `value`. A choice widget offers the declared picks (or categories) and any value of
    the domain among `value` and `extra` (what a link or a preset set) that they lack, so it can show it."""
    kw = dict(key=key, help=s.help or None)
    if bind is not None:
        kw["bind"] = bind
    fmt = {"format_func": s.label_of} if s.labels is not None else {}
    shown = list(value) if isinstance(value, (list, tuple)) else [value]
    options = s.offered(*shown, *extra)
    if s.widget == "checkbox":
        return where.checkbox(s.label, value=value, **kw)
    if s.widget == "multiselect":
        return where.multiselect(s.label, options, default=[v for v in value if v in options], **fmt, **kw)
    if s.widget == "text":
        return where.text_input(s.label, value, **kw)
    if s.widget == "select_slider":
        return where.select_slider(s.label, options, value=value, **fmt, **kw)
    if s.widget == "radio":
        return where.radio(s.label, options, index=options.index(value), horizontal=True, **fmt, **kw)
    if s.widget == "select":
        return where.selectbox(s.label, options, index=options.index(value), **fmt, **kw)
    lo = s.kind(s.min) if s.min is not None else None
    hi = s.kind(s.max) if s.max is not None else None
    step = s.kind(s.step) if s.step is not None else None
    if s.widget == "slider":
        return where.slider(s.label, lo, hi, value, step, **kw)
    fmt_number = {"format": "%.4f"} if s.kind is float and s.min is not None and 0 < s.min < 0.01 else {}
    return where.number_input(s.label, min_value=lo, max_value=hi, value=value, step=step, **fmt_number, **kw)


def widget(cls: type, name: str, where=None, **override) -> Any:
    """Draw the widget of field `name` of `cls` in `where` (default: the page), bound to the link under its key;
    returns its value as the widget holds it. `override` replaces declared attributes for this drawing (e.g. a
    `max` that depends on the trained net: its number of blocks)."""

    s = dataclasses.replace(S.spec(cls, name), **override)
    bind = link_bind(s.key) if s.widget == "number" and s.kind is int else "query-params"
    # Values beyond the picks that a link or a preset brought stay offered for the session: a widget whose options
    # change is a new widget to Streamlit, which would drop its value.
    kept = st.session_state.setdefault(f"_offered_{s.key}", [])
    for v in [*linked_values(s), *session_values(s)]:
        if s.choices is not None and v not in s.choices and v not in kept and s.allows_item(v):
            kept.append(v)
    extra = list(kept)
    return _draw(s, where if where is not None else st, to_widget(s, s.default), key=s.key, bind=bind, extra=extra)


def session_values(s: S.Spec) -> list:
    """The value(s) the session holds for the widget of `s` (a preset's), as items of its choices."""
    value = st.session_state.get(s.key) if s.key else None
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def linked_values(s: S.Spec) -> list:
    """The values the link holds for the widget of `s` (its key), read as the field's items: a choice widget
    offers them too when the domain allows them, so a link may name any value of the domain, not only a pick.
    A link spells an option by its label; text that names no value is left out (Streamlit then drops it)."""
    if not s.key or s.choices is None or s.key not in st.query_params:
        return []
    kind = s.item if s.kind is tuple else s.kind
    out = []
    for text in st.query_params.get_all(s.key):
        for option in s.choices:
            if text == s.label_of(option):
                out.append(option)
                break
        else:
            try:
                out.append(kind(float(text)) if kind is int and float(text).is_integer() else kind(text))
            except (TypeError, ValueError, OverflowError):
                pass
    return out


def label_of_key(key: str):
    """The option labels (`format_func`) of the declared setting whose widget key is `key`, None when it has none:
    how that widget spells a value in the link."""

    for view in VIEWS:
        for s in S.specs(view.settings):
            if s.key == key:
                return s.label_of if s.labels is not None else None
    return None
