"""Streamlit helpers shared by the pages: the run store, the current trained pair, errors.

Science lives in `resnet_viz`; this module only connects widgets, caches and the
library. The store is shared by every session (`st.cache_resource`) and keyed by
config, so the default pair is trained once per server; which pairs a student has
trained is kept in that student's own `st.session_state`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import streamlit as st

from resnet_viz.data import DatasetError
from resnet_viz.models import ConfigError, NetConfig
from resnet_viz.store import RunStore, run_key
from resnet_viz.train import Run, RunLoadError, TrainConfig, net_config_for

USER_ERRORS = (ConfigError, DatasetError, RunLoadError)


@dataclass(frozen=True)
class Pair:
    """A trained plain/residual pair, by config (the runs themselves live in the store)."""

    net: NetConfig  # the residual config; the plain one is net.twin()
    train: TrainConfig

    @property
    def label(self) -> str:
        """Human label shown in pickers."""
        n = self.net
        extra = []
        if n.shortcut_scale != 1:
            extra.append(f"λ={n.shortcut_scale:g}")
        if n.norm != "batch":
            extra.append("no BN")
        if n.order != "post":
            extra.append("pre-act")
        if n.block != "basic":
            extra.append(n.block)
        if self.train.seed:
            extra.append(f"seed {self.train.seed}")
        more = f", {', '.join(extra)}" if extra else ""
        return f"{n.arch.upper()}-{n.layer_count} · {n.depth} blocks · width {n.width} · {self.train.dataset}{more}"

    @property
    def configs(self) -> tuple[tuple[NetConfig, TrainConfig], tuple[NetConfig, TrainConfig]]:
        """((plain net, train), (residual net, train))."""
        return (self.net.replace(skip=False), self.train), (self.net.replace(skip=True), self.train)


def default_pair() -> Pair:
    """The pair every view shows on first open: ResNet-20-style CNN on digits."""
    return Pair(net_config_for("digits"), TrainConfig())


@st.cache_resource
def run_store() -> RunStore:
    """The server-wide store of trained runs (bounded by $RESNET_VIZ_MAX_RUNS, default 24).

    On creation it starts training the default pair in the background (unless
    $RESNET_VIZ_WARM is 0), so that the first view a lecturer opens is ready sooner.
    """
    store = RunStore(max_runs=int(os.environ.get("RESNET_VIZ_MAX_RUNS", "24")))
    if os.environ.get("RESNET_VIZ_WARM", "1") != "0":
        store.warm(list(default_pair().configs))
    return store


def ensure_run(net: NetConfig, train: TrainConfig, progress=None) -> Run:
    """The stored run for (net, train), trained now (with an optional progress callback) if absent."""
    return run_store().get_or_train(net, train, callback=progress)[1]


def train_pair_ui(pair: Pair) -> tuple[Run, Run]:
    """Train (or fetch) both nets of `pair`, showing one progress bar per net."""
    runs = []
    for net, train in pair.configs:
        store = run_store()
        cached = store.get(run_key(net, train))
        if cached is not None:
            runs.append(cached)
            continue
        kind = "residual" if net.skip else "plain"
        if store.training(run_key(net, train)):  # someone else (or the warm-up) is training it
            with st.spinner(f"The {kind} net is being trained for this server (first use) …"):
                runs.append(ensure_run(net, train))
            continue
        bar = st.progress(0.0, text=f"Training the {kind} net …")

        def cb(p, bar=bar, kind=kind):
            if p.step % 5 == 0 or p.step == p.total_steps:
                bar.progress(min(p.fraction, 1.0),
                             text=f"Training the {kind} net: epoch {p.epoch}/{p.epochs}, loss {p.loss:.3f}")

        runs.append(ensure_run(net, train, cb))
        bar.empty()
    return runs[0], runs[1]


def session_pairs() -> list[Pair]:
    """Pairs this session has trained, the default first."""
    pairs = st.session_state.setdefault("pairs", [default_pair()])
    return pairs


def add_pair(pair: Pair) -> None:
    """Remember a trained pair in this session and make it the current one."""
    pairs = session_pairs()
    if pair not in pairs:
        pairs.append(pair)
    st.session_state["current_pair"] = pair


def current_pair_choice() -> Pair:
    """The session's current pair (the default until another is trained)."""
    return st.session_state.get("current_pair", default_pair())


def pick_pair(where=st.sidebar, key: str = "pair_picker") -> tuple[Pair, Run, Run]:
    """A picker over this session's trained pairs; returns (pair, plain run, residual run).

    The chosen pair is trained (with progress) when it is not in the store yet,
    so a page always shows its default comparison on first open.
    """
    pairs = session_pairs()
    current = current_pair_choice()
    index = pairs.index(current) if current in pairs else 0
    pair = where.selectbox("Trained pair", pairs, index=index, format_func=lambda p: p.label, key=key,
                           help="Train other pairs on the 'Build & train' page; they appear here.")
    st.session_state["current_pair"] = pair
    plain, residual = train_pair_ui(pair)
    for run in (plain, residual):
        if run.failure:  # every view draws it anyway, so say what it is
            st.warning(f"The {run.label} net of this pair **failed to train** ({run.failure}): its figures show a "
                       "broken net. Train it again with a lower learning rate, a warm-up or λ = 1 on the "
                       "Build & train page.")
    return pair, plain, residual


def url_state(page: str, defaults: dict | None = None) -> None:
    """Keep this page's state in the URL (see ui/urlstate.py); call it at the top of a page.

    On the session's first run, a pair named in the link is added and made current
    (it is trained, with progress, by `pick_pair`); on a page's first run its widget
    settings are read from the link. Every run writes the current pair and the
    page's non-default settings back to the URL.
    """
    from . import urlstate

    defaults = defaults or {}
    if not st.session_state.get("_url_pair_read"):
        st.session_state["_url_pair_read"] = True
        try:
            configs = urlstate.pair_from_params(dict(st.query_params), default_pair())
        except USER_ERRORS as e:
            show_error(e)
            configs = None
        if configs is not None:
            pair = Pair(*configs)
            add_pair(pair)
            st.session_state["pair_picker"] = pair
    urlstate.restore(page, defaults)
    pair = st.session_state.get("pair_picker") or current_pair_choice()
    # Presenter mode is read from the link by app.py (its switch is drawn before the page).
    urlstate.publish({"presenter": False, **defaults},
                     extra=urlstate.pair_params(pair.net, pair.train, default_pair()))


def show_error(e: Exception) -> None:
    """One clear message in the page for an error the user can fix."""
    st.error(str(e), icon="⚠️")


@contextlib.contextmanager
def live_output():
    """Draw (e.g. update a progress bar) from inside an `st.cache_data` function without the
    drawing being recorded for replay: a cache hit would otherwise replay stale progress, or
    fail on an element that no longer exists. Uses Streamlit's cached-function flag; on a
    Streamlit without it, drawing is recorded as usual."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import in_cached_function
    except ImportError:
        yield
        return
    token = in_cached_function.set(False)
    try:
        yield
    finally:
        in_cached_function.reset(token)


def progress_bar(text: str):
    """A progress bar and a callback `cb(fraction, message)` that is safe inside cached functions."""
    bar = st.progress(0.0, text=text)

    def cb(fraction: float, message: str) -> None:
        with live_output():
            bar.progress(min(max(fraction, 0.0), 1.0), text=f"{text}: {message}")

    return bar, cb


def apply_preset(preset) -> None:
    """Open a preset (resnet_viz.presets): make its pair current, set its page settings, switch page.

    The pair is trained (with progress) by the target page's `pick_pair` if it is not stored yet.
    """
    import copy

    from resnet_viz.presets import preset_pair

    pair = Pair(*preset_pair(preset))
    add_pair(pair)
    st.session_state["pair_picker"] = pair
    for key, value in preset.view.items():
        st.session_state[key] = copy.deepcopy(value)
    # The settings just set win over whatever the target page's link held.
    st.session_state.setdefault("_url_restored", set()).add(preset.page.rsplit("/", 1)[-1][:-3])
    st.switch_page(preset.page)
