"""Page state in the URL: a bookmarked or shared link reopens exactly that view.

Two kinds of state travel in the query string:
- the trained pair (net and training fields that differ from the default pair), and
- each page's view settings (widget keys listed by the page).
A link is read once per page per session, on that page's first run; after that
the page writes its current state back to the URL on every run.
"""

from __future__ import annotations

import dataclasses
import json

import streamlit as st

from resnet_viz.models import ConfigError, NetConfig
from resnet_viz.train import TrainConfig

# Query names of the pair's fields (short, readable).
NET_FIELDS = {"arch": "arch", "depth": "depth", "width": "width", "shortcut_scale": "lam", "norm": "norm",
              "order": "order", "block": "block"}
TRAIN_FIELDS = {"dataset": "data", "epochs": "epochs", "lr": "lr", "warmup_epochs": "warmup", "batch_size": "bs",
                "optimizer": "opt", "seed": "seed"}
PAIR_PARAMS = set(NET_FIELDS.values()) | set(TRAIN_FIELDS.values())
# Settings a link may not make: on a shared server the data folder is the server's
# ($RESNET_VIZ_DATA or its default), never a student's; `root=` in a link is ignored.
SERVER_PARAMS = {"root": "data folder"}


def _cast(text: str, like):
    if isinstance(like, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(float(text))
    if isinstance(like, float):
        return float(text)
    if isinstance(like, (list, tuple)):
        return type(like)(json.loads(text))
    return text


def _text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value), separators=(",", ":"))
    if isinstance(value, float):
        return f"{value:g}"
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
    except (ValueError, TypeError) as e:
        raise ConfigError(f"the link holds a bad value: {e}") from None
    net_kw["seed"] = train_kw.get("seed", default.net.seed)
    from resnet_viz.data import EMBEDDED, load_dataset
    from resnet_viz.train import net_config_for

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


def restore(page: str, defaults: dict) -> None:
    """On this page's first run in the session, copy its settings from the URL into session state.

    `defaults` maps widget keys to their default values (which give the types).
    Values that do not parse are ignored.
    """
    done = st.session_state.setdefault("_url_restored", set())
    if page in done:
        return
    done.add(page)
    for key, default in defaults.items():
        if key in st.query_params:
            try:
                st.session_state[key] = _cast(st.query_params[key], default)
            except (ValueError, TypeError, json.JSONDecodeError):
                pass


def publish(defaults: dict, extra: dict[str, str] | None = None) -> None:
    """Write the page's current settings (those that differ from `defaults`) and `extra` to the URL."""
    params = dict(extra or {})
    for key, default in defaults.items():
        if key in st.session_state and st.session_state[key] != default:
            params[key] = _text(st.session_state[key])
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
