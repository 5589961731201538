"""Page state in the URL: a bookmarked or shared link reopens exactly that view.

Who writes what in the query string:
- Each page's view settings: every settings widget is created with `bind="query-params"` and
  its key is its query name. Streamlit itself seeds the widget from the link on the widget's
  first run (a value outside its options or bounds is dropped from the link, a default one is
  left out), and writes each change back. Code sets such a widget only through
  `st.session_state` (or a link, see `ui.common.apply_preset`); `st.query_params` refuses to
  write or delete a bound name.
- The trained pair (the fields that differ from the default pair), presenter mode and a
  page's on/off flags (a study that was started): written by `ui.common.url_state`, one
  name at a time (never `st.query_params.from_dict`, which would drop the bound names).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import streamlit as st
from streamlit.errors import StreamlitAPIException

from resnet_viz.data import EMBEDDED, load_dataset
from resnet_viz.models import ConfigError, NetConfig
from resnet_viz.registry import VIEWS
from resnet_viz.settings import specs
from resnet_viz.train import TrainConfig, net_config_for

# Query names of the pair's fields (short, readable): the `key` each field of NetConfig and TrainConfig declares
# (`resnet_viz.settings`), so a new field with a key is in the links without further edits.
NET_FIELDS = {s.name: s.key for s in specs(NetConfig) if s.key}
TRAIN_FIELDS = {s.name: s.key for s in specs(TrainConfig) if s.key}
PAIR_PARAMS = set(NET_FIELDS.values()) | set(TRAIN_FIELDS.values())
# Settings a link may not make: on a shared server the data folder is the server's
# ($RESNET_VIZ_DATA or its default), never a student's; `root=` in a link is ignored.
SERVER_PARAMS = {"root": "data folder"}
PRESENTER = "presenter"  # presenter mode: presenter=1 (read by lab.py, whose switch is drawn before the page)
ON = ("1", "true")  # how a link spells an on flag


def _cast(text: str, like):
    if isinstance(like, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(float(text))
    if isinstance(like, float):
        return float(text)
    return text


def _text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):  # short where that is exact ("0.05"), else every digit: the link names this pair
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


def pair_from_params(params: dict, default) -> tuple | None:
    """(NetConfig, TrainConfig) from query parameters, or None when the URL names no pair.

    Fields not in the URL keep the default pair's values; the data folder is never read from
    a link (see SERVER_PARAMS). Raises ConfigError for bad values.
    """
    if not PAIR_PARAMS & set(params):
        return None
    net_kw, train_kw = {}, {}
    try:
        for field, name in NET_FIELDS.items():
            if name in params:
                net_kw[field] = _cast(params[name], getattr(default.net, field))
        for field, name in TRAIN_FIELDS.items():
            if name in params:
                like = getattr(default.train, field)
                train_kw[field] = params[name] if like is None else _cast(params[name], like)
    except (ValueError, TypeError, OverflowError) as e:  # OverflowError: depth=inf
        raise ConfigError(f"the link holds a bad value: {e}") from None
    net_kw["seed"] = train_kw.get("seed", default.net.seed)

    train = dataclasses.replace(default.train, **train_kw)
    if train.dataset not in EMBEDDED and train.data_limit is None:
        train = dataclasses.replace(train, data_limit=10_000)
    train.validate()
    data = load_dataset(train.dataset, train.data_root, train.data_limit)
    base = {f.name: getattr(default.net, f.name) for f in dataclasses.fields(NetConfig)
            if f.name not in ("input_shape", "classes")}
    base.update(net_kw)
    if not data.is_image:
        base["arch"], base["block"] = "mlp", "basic"
    return net_config_for(data, **base), train


def pair_params(net: NetConfig, train: TrainConfig, default) -> dict[str, str]:
    """Query parameters of the fields where (net, train) differ from the default pair."""
    out = {}
    for field, name in NET_FIELDS.items():
        if getattr(net, field) != getattr(default.net, field):
            out[name] = _text(getattr(net, field))
    for field, name in TRAIN_FIELDS.items():
        value = getattr(train, field)
        if value != getattr(default.train, field) and value is not None:
            out[name] = _text(value)
    return out


def url_value(value, label: Callable | None = None) -> str | list[str]:
    """How a bound widget holding `value` spells it in the link (what Streamlit reads back).

    Option widgets (radio, selectbox, select_slider, multiselect) are spelled by their shown
    label, so pass the widget's `format_func` as `label` when it has one; a list is one
    repeated name per item; a checkbox is true/false; a number as Streamlit writes it.
    """
    if isinstance(value, (list, tuple)):
        return [str(url_value(v, label)) for v in value]
    if label is not None:
        return str(label(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def non_finite(params, keep=()) -> list[str]:
    """Names in `params` (st.query_params) holding a number no widget can take (±inf, 1e999).

    Streamlit drops most bad link values itself, but an integer number_input raises
    OverflowError on an infinite one while reading the link; these names are removed first.
    """
    bad = []
    for name in params:
        if name in keep:
            continue
        for text in params.get_all(name):
            try:
                if math.isinf(float(text)):
                    bad.append(name)
                    break
            except (ValueError, OverflowError):
                pass
    return bad


def repeated(params) -> list[str]:
    """Names in `params` (st.query_params) given more than once that name one value (all but a multiselect's):
    a hand-made or garbled link, whose last value would otherwise be read as if chosen."""

    many = {s.key for v in VIEWS for s in specs(v.settings) if s.key and s.widget == "multiselect"}
    return [name for name in params if name not in many and len(params.get_all(name)) > 1]


def sync(wanted: Mapping[str, str | None]) -> bool:
    """Make each named query parameter hold its value (None: absent), touching no other name.

    Only names not bound to a widget are written; a bound one is left as it is. True when the
    link changed.
    """
    changed = False
    for name, value in wanted.items():
        try:
            if value is None:
                if name in st.query_params:
                    del st.query_params[name]
                    changed = True
            elif st.query_params.get_all(name) != [value]:  # a repeated name collapses to one
                st.query_params[name] = value
                changed = True
        except (StreamlitAPIException, KeyError):
            pass
    return changed


def link_bind(key: str) -> str | None:
    """`bind=` for an integer `st.number_input` with this key: "query-params", or None for a run where
    the link holds an infinite number under `key`. Streamlit's integer input raises OverflowError
    reading one; url_state drops such values before a widget is bound, but the browser's Back button
    can bring one back for a widget already bound. Unbound for that run, the widget clears it."""
    return None if key in non_finite(st.query_params) else "query-params"
