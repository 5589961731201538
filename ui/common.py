"""Streamlit helpers shared by the pages: the run store, the current trained pair, errors.

Science lives in `resnet_viz`; this module only connects widgets, caches and the
library. The store is shared by every session (`st.cache_resource`) and keyed by
config, so the default pair is trained once per server; which pairs a student has
trained is kept in that student's own `st.session_state`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import threading
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitAPIException

from resnet_viz import config, executor
from resnet_viz.assets import load_shipped, load_shipped_pairs
from resnet_viz.cache import SingleFlight
from resnet_viz.data import DatasetError
from resnet_viz.executor import ClusterError
from resnet_viz.jobs import JobGate, server_policy
from resnet_viz.models import ConfigError, NetConfig
from resnet_viz.presets import preset_pair
from resnet_viz.store import RunStore, run_key
from resnet_viz.train import Run, RunLoadError, TrainConfig, failure_advice, net_config_for

from . import (
    legacy_guard,  # noqa: F401  (a deep link on a fresh server goes through lab.py first)
    urlstate,
)
from .settings import label_of_key, state

USER_ERRORS = (ConfigError, DatasetError, RunLoadError, ClusterError)


def server_config():
    """The server's configuration (`resnet_viz.config.LabConfig`): the one app.py made once when the server
    started, else (a page run on its own, as in AppTest) the environment's now with a server's defaults: on a
    shared server every training run is bounded in time, 10 minutes a net unless the lecturer sets
    RESNET_VIZ_MAX_TRAIN_MINUTES."""

    return config.configured() or config.LabConfig.from_env(server=True)


@dataclass(frozen=True)
class Pair:
    """A trained plain/residual pair, by config (the runs themselves live in the store)."""

    net: NetConfig  # the residual config; the plain one is net.twin()
    train: TrainConfig

    @property
    def label(self) -> str:
        """Human label shown in pickers: names every setting in which this pair differs from the
        default pair, so two different pairs never share a label (the input shape and classes
        follow from the dataset and are named only when the dataset is the default one)."""
        n, t = self.net, self.train
        d = default_pair()
        extra = []
        for f in dataclasses.fields(NetConfig):
            value, base = getattr(n, f.name), getattr(d.net, f.name)
            if f.name in ("arch", "depth", "width") or value == base:
                continue  # shown in the label's head
            if f.name in ("input_shape", "classes") and t.dataset != d.train.dataset:
                continue  # implied by the dataset
            if f.name == "seed":
                if n.seed != t.seed:  # the app keeps them equal; otherwise both are named
                    extra.append(f"init seed {value}")
                continue
            extra.append(_describe(f.name, value))
        for f in dataclasses.fields(TrainConfig):
            value, base = getattr(t, f.name), getattr(d.train, f.name)
            if f.name != "dataset" and value != base:
                extra.append(_describe(f.name, value))
        more = f", {', '.join(extra)}" if extra else ""
        return f"{n.arch.upper()}-{n.layer_count} · {n.depth} blocks · width {n.width} · {t.dataset}{more}"

    @property
    def configs(self) -> tuple[tuple[NetConfig, TrainConfig], tuple[NetConfig, TrainConfig]]:
        """((plain net, train), (residual net, train))."""
        return (self.net.replace(skip=False), self.train), (self.net.replace(skip=True), self.train)


# How Pair.label names a setting that differs from the default pair (others: "name value").
_LABELS = {
    "shortcut_scale": lambda v: f"λ={v:g}",
    "norm": lambda v: "no BN" if v == "none" else f"norm {v}",
    "order": lambda v: {"pre": "pre-act", "bn-after": "BN after add", "relu-before": "ReLU before add",
                        "relu-pre": "ReLU-only pre-act"}.get(v, f"{v}-act"),
    "shortcut": lambda v: {"scaled": "constant scaling", "gate": "gated", "shortcut-gate": "shortcut-gated",
                           "conv": "1×1 shortcut", "dropout": "dropout shortcut"}.get(v, f"{v} shortcut"),
    "gate_bias": lambda v: f"b_g {v:g}",
    "dropout": lambda v: f"shortcut dropout {v:g}",
    "cardinality": lambda v: f"cardinality {v}",
    "branch_dropout": lambda v: f"branch dropout {v:g}",
    "se_ratio": lambda v: f"SE r={v}",
    "block": str,
    "skip": lambda v: "residual" if v else "plain first",
    "input_shape": lambda v: "input " + "×".join(map(str, v)),
    "classes": lambda v: f"{v} classes",
    "seed": lambda v: f"seed {v}",
    "epochs": lambda v: f"{v} epochs",
    "lr": lambda v: f"lr {v:g}",
    "batch_size": lambda v: f"batch {v}",
    "warmup_epochs": lambda v: f"warm-up {v:g}",
    "weight_decay": lambda v: f"wd {v:g}",
    "data_root": lambda v: f"data folder {shorten(v, 40)}",
    "data_limit": lambda v: "all images" if v is None else f"first {v:,} images",
}


def _describe(field: str, value) -> str:
    if field in _LABELS:
        return _LABELS[field](value)
    return f"{field.replace('_', ' ')} {value:g}" if isinstance(value, float) else f"{field.replace('_', ' ')} {value}"


def default_pair() -> Pair:
    """The pair every view shows on first open: a ResNet-32-style CNN on digits (15 blocks, width 16, 8 epochs
    with one of warm-up) and its plain twin. Chosen by measurement (issue 24), as Li et al. chose ResNet-56 for
    their contrast: at 9 blocks the twins' loss basins are about as wide (as Li et al. see at 20 layers); from
    15 blocks on the residual basin is 1.6–2.2× wider over seeds 0–4, the residual net survives losing a block,
    its gradient comes from short paths, and the plain net still trains (87–96 %)."""
    return Pair(net_config_for("digits"), TrainConfig())


@st.cache_resource
def run_store() -> RunStore:
    """The server-wide store of trained runs (bounded by $RESNET_VIZ_MAX_RUNS, default 24, and
    $RESNET_VIZ_MAX_RUNS_GB of weights and snapshots, default 2).

    On creation it loads the default pair's shipped runs (`assets/runs`, see `resnet_viz.assets`),
    so the first figures are there at once; any other config that ships (the default studies' and
    the presets' nets) is loaded from there when first asked for, never trained. A run missing,
    corrupt or trained for another config is trained instead: the default pair in the background
    (unless $RESNET_VIZ_WARM is 0), so that the first view a lecturer opens is ready sooner.
    Trained runs are also kept on disk in $RESNET_VIZ_RUN_STORE (default ~/.cache/resnet_viz/runs;
    "none": memory only), so a restarted server reuses them; shipped runs are reloaded after an
    eviction instead of retrained.
    """
    cfg = server_config()
    minutes = cfg.train_minutes
    store = RunStore(max_runs=cfg.max_runs, max_bytes=cfg.max_run_bytes, folder=cfg.run_store, fallback=load_shipped,
                     gate=job_gate(), time_limit_s=minutes * 60 if minutes else None)
    for run in load_shipped_pairs(list(default_pair().configs)):
        store.put(run)
    if cfg.warm:
        store.warm(list(default_pair().configs))
    return store


def store_notice() -> None:
    """A warning, once a session for each new failure, when the run store cannot save trained runs
    (`RunStore.last_write_error`: a read-only or full disk, a store path that is a file): they are kept in memory only."""
    error = run_store().last_write_error
    if error and error not in st.session_state.setdefault("_store_notices_shown", set()):
        st.session_state["_store_notices_shown"].add(error)
        st.warning(f"This server {error}. Trained nets are kept in memory only and will be trained again after a "
                   "restart; set RESNET_VIZ_RUN_STORE to a folder it can write.", icon=":material/save:")


@st.cache_resource
def job_gate() -> JobGate:
    """The server's one bound on heavy work (resnet_viz.jobs): at most as many trainings and studies
    at once as cores ($RESNET_VIZ_MAX_JOBS), one PyTorch thread each; the others wait in line.

    Orphaned work: a job runs in the script thread of the session that asked for it and calls
    its progress callback, which draws; when that session reruns or goes away, Streamlit stops
    the script at that call, so the job stops too. The background warm-up of the default pair
    has no session: it finishes, and its result is kept for everyone.
    """
    return JobGate(server_policy(server_config()))


def cluster_line() -> str:
    """Where this server's heavy work runs, for the lecturer: in this process, or on the Dask cluster at
    $RESNET_VIZ_DASK with its workers and dashboard link (`resnet_viz.executor`)."""

    return executor.current().describe()


def cluster_notice() -> None:
    """Once a session: a warning when the server's Dask scheduler cannot be reached (its work runs here)."""

    message = executor.notice() if server_config().dask else None
    if message and not st.session_state.get("_cluster_notice_shown"):
        st.session_state["_cluster_notice_shown"] = True
        st.warning(message, icon=":material/cloud_off:")


def ensure_run(net: NetConfig, train: TrainConfig, progress=None) -> Run:
    """The stored run for (net, train), trained now (with an optional progress callback) if absent."""
    return run_store().get_or_train(net, train, progress=progress)[1]


def train_pair_ui(pair: Pair) -> tuple[Run, Run]:
    """Train (or fetch) both nets of `pair` side by side (`RunStore.get_or_train_all`: each in a thread of its own,
    through the server's job gate), showing one progress bar per net.

    The nets' threads only note their progress; this script thread draws both bars about twice a second. When
    this session goes away, that draw stops the script and the trainings stop at their next step (as a training
    in the script thread always did); a waiter in another session then trains the net itself."""
    store = run_store()
    configs = list(pair.configs)
    todo = [i for i, (net, train) in enumerate(configs) if store.get(run_key(net, train)) is None]
    if not todo:
        return tuple(store.get_or_train_all(configs))  # type: ignore[return-value]
    kinds = {i: "residual" if configs[i][0].skip else "plain" for i in todo}
    # Someone else (or the warm-up) may be training a net: its bar says so while this session waits.
    bars = {i: st.progress(0.0, text=f"The {kinds[i]} net is being trained for this server (first use) …"
                           if store.training(run_key(*configs[i])) else f"Training the {kinds[i]} net …")
            for i in todo}
    shown = {i: (0.0, "") for i in todo}

    def noter(i: int):
        return lambda fraction, message: shown.__setitem__(i, (fraction, message))

    def draw() -> None:  # in the script thread: raises once this session has gone
        for i in todo:
            fraction, message = shown[i]
            text = (f"The {kinds[i]} net is {message}" if message.startswith("being trained for another") else
                    f"Training the {kinds[i]} net: {message}" if message else f"Training the {kinds[i]} net …")
            bars[i].progress(min(max(fraction, 0.0), 1.0), text=text)

    runs = store.get_or_train_all(configs, [noter(i) if i in todo else None for i in range(len(configs))],
                                  tick=draw, poll_s=0.4)
    for i in todo:
        bars[i].empty()
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


# Session-state key of the sidebar slot lab.py reserves under the presenter switch: every
# page's pair picker goes there, so it sits in the same place on every page.
PAIR_SLOT = "_pair_slot"


def pick_pair(where=None, key: str = "pair_picker", warn: bool = True) -> tuple[Pair, Run, Run]:
    """A picker over this session's trained pairs; returns (pair, plain run, residual run).

    Drawn in `where`, by default the sidebar slot lab.py reserves for it (the sidebar
    itself when a page runs on its own). The chosen pair is trained (with progress) when
    it is not in the store yet, so a page always shows its default comparison on first open.
    With `warn`, a net of the pair that failed to train is named in a warning: pages whose
    comparison is the pair itself; pages that show other nets (or name failures themselves) pass False.
    """

    where = where or st.session_state.get(PAIR_SLOT) or st.sidebar
    pairs = session_pairs()
    current = current_pair_choice()
    if current not in pairs:
        pairs.append(current)
    # The session's current pair is the picker's value on every page: a widget's own state does not cross pages
    # (each page's picker is another widget to Streamlit), so a pair trained or linked on one page would otherwise
    # fall back to the first on the next. A choice in the box becomes the current pair (`_picked`) before the run.
    st.session_state[key] = current
    pair = where.selectbox("Trained pair", pairs, format_func=lambda p: p.label, key=key, on_change=_picked,
                           args=(key,), help="Train other pairs on the 'Build & train' page; they appear here.")
    if len(pair.label) > 30:  # the box cuts a long label: say it whole
        where.caption(pair.label)
    st.session_state["current_pair"] = pair
    urlstate.sync(_custom_params(pair))  # the link names the pair shown (a new one, trained in this run, too)
    plain, residual = train_pair_ui(pair)
    for run in (plain, residual) if warn else ():
        if run.failure:  # every view draws it anyway, so say what it is
            advice = failure_advice(run.failure)
            st.warning(f"The {run.label} net of this pair **failed to train** ({run.failure}): its figures show a "
                       f"broken net." + (f" Train it again on the Build & train page: {advice}." if advice else ""))
    return pair, plain, residual


def _picked(key: str) -> None:
    """The pair picker's callback: the chosen pair becomes the session's current one."""
    if isinstance(st.session_state.get(key), Pair):
        st.session_state["current_pair"] = st.session_state[key]


# Session key of the settings a preset gives the page it opens (see `apply_preset`).
LINK_PENDING = "_url_pending"


def url_state(*, flags: tuple[str, ...] = (), labels: dict | None = None) -> None:
    """Keep the trained pair, presenter mode and this page's `flags` in the URL (see ui/urlstate.py);
    call it at the top of a page, before its widgets (which keep themselves in the URL:
    `bind="query-params"`).

    On the session's first run, a pair named in the link is added and made current (it is
    trained, with progress, by `pick_pair`). `flags` are session keys of on/off page state
    that is no widget (e.g. a study that was started): on in the link turns them on, and
    every run writes the pair, presenter mode and the flags back, leaving the widgets'
    names alone. `labels` maps widget keys to their `format_func`, for the settings a
    preset hands over (`apply_preset`); by default a declared setting's own labels (`resnet_viz.settings`).
    """

    rerun = False
    # Streamlit drops bad link values of bound widgets itself, except an infinite number, on
    # which its integer inputs raise while reading the link: drop those first.
    for name in urlstate.non_finite(st.query_params, keep=urlstate.PAIR_PARAMS):
        rerun |= urlstate.sync({name: None})
    # A name given twice for one value is no choice: it is dropped (and said), so it never starts work by itself.
    for name in urlstate.repeated(st.query_params):
        st.session_state.setdefault("_url_repeated", []).append(name)
        rerun |= urlstate.sync({name: None})
    # Settings a preset set for this page (apply_preset) move into the link, which its widgets
    # read on their first run: so they win over the old link and a copied link keeps them.
    for key in st.session_state.pop(LINK_PENDING, None) or ():
        if key in flags and not st.session_state.get(key):
            urlstate.sync({key: None})  # off in the preset: off, whatever the old link said
        if key in flags or key not in st.session_state:
            continue
        value = urlstate.url_value(st.session_state[key], (labels or {}).get(key) or label_of_key(key))
        try:
            st.query_params[key] = value
        except StreamlitAPIException:  # already bound (drawn this run): the session value stands
            continue
        del st.session_state[key]
        rerun = True
    if rerun:  # the widgets read the link as it is when a run starts
        st.rerun()
    if not st.session_state.get("_url_pair_read"):
        st.session_state["_url_pair_read"] = True
        try:
            configs = urlstate.pair_from_params(dict(st.query_params), default_pair())
        except USER_ERRORS as e:
            show_error(e)
            configs = None
        ignored = [what for name, what in urlstate.SERVER_PARAMS.items() if name in st.query_params]
        if ignored:
            st.info(f"This link sets the {' and '.join(ignored)}, which only the server's settings choose "
                    "(the RESNET_VIZ_DATA environment variable): that part of the link was ignored.")
        if configs is not None:
            add_pair(Pair(*configs))
    repeated = st.session_state.pop("_url_repeated", None)
    if repeated:
        st.info(f"This link gives {plain_text(', '.join(dict.fromkeys(repeated)), 120)} more than once: that part of "
                "the link was ignored.")
    for key in flags:  # on when the link says so, once (a repeated or garbled flag starts nothing)
        if st.query_params.get_all(key) in ([v] for v in urlstate.ON):
            st.session_state[key] = True
    pair = current_pair_choice()
    urlstate.sync(_custom_params(pair) | {key: "1" if st.session_state.get(key) else None for key in flags})


def _custom_params(pair: Pair) -> dict[str, str | None]:
    """The query parameters `url_state` writes for `pair` and presenter mode (None: absent)."""

    wanted: dict[str, str | None] = dict.fromkeys(urlstate.PAIR_PARAMS | set(urlstate.SERVER_PARAMS))
    wanted.update(urlstate.pair_params(pair.net, pair.train, default_pair()))
    # Presenter mode is read from the link by lab.py (its switch is drawn before the page).
    wanted[urlstate.PRESENTER] = "1" if st.session_state.get("presenter") else None
    return wanted


MAX_MESSAGE_CHARS = 400  # a message box echoes at most this much text
_MARKUP = set("\\`*[]<~$|&")  # markdown, HTML, LaTeX ($) and table characters, escaped with a backslash
# GFM turns bare URLs and e-mail addresses into links after parsing (escapes do not stop it);
# a zero-width space inside "://", "www." and "@" does.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])(?=://)|(?<=www)(?=\.)|(?=@)")


def shorten(text, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` on one line (whitespace collapsed), cut to at most `limit` characters with "…"."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[:max(limit - 1, 0)].rstrip() + "…"


def plain_text(text, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` (a user's or a link's, or a message echoing it) made safe to show in Streamlit markdown.

    One line (whitespace collapsed), at most `limit` characters (cut with "…"), markdown and
    HTML characters escaped and bare URLs broken, so that it shows as typed: never as a live
    link, an image, emphasis or a formula.
    """
    s = shorten(text, limit)
    out = []
    for i, ch in enumerate(s):
        if ch in _MARKUP or (ch == "_" and not (0 < i < len(s) - 1 and s[i - 1].isalnum() and s[i + 1].isalnum())):
            out.append("\\" + ch)  # an intraword _ (snake_case) is no emphasis and is left as typed
        else:
            out.append(ch)
    s = "".join(out)
    if s[:1] in ("#", "-", "+", ">", "=") or re.match(r"\d+[.)]", s):
        s = "\\" + s if not s[:1].isdigit() else re.sub(r"^(\d+)([.)])", r"\1\\\2", s)  # no heading or list
    return _AUTOLINK.sub("\u200b", s)


def show_error(e: Exception) -> None:
    """One clear message in the page for an error the user can fix.

    The message may echo what a user typed or a link held, so it is shown as plain text
    (see `plain_text`): escaped, on one line, shortened.
    """
    st.error(plain_text(e), icon="⚠️")


class _Computed:
    """Results of `cached_compute`: one `cache.SingleFlight` a namespace (a view), bounded, each key computed once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spaces: dict[str, SingleFlight] = {}

    def space(self, namespace: str, max_entries: int) -> SingleFlight:
        """The cache of `namespace`, made on first use with room for `max_entries` results."""
        with self._lock:
            if namespace not in self.spaces:
                self.spaces[namespace] = SingleFlight(max_entries)
            return self.spaces[namespace]

    def clear(self) -> None:
        with self._lock:
            self.spaces.clear()


@st.cache_resource(show_spinner=False)
def _computed() -> _Computed:
    return _Computed()


def clear_computed() -> None:
    """Forget every result of `cached_compute` (tests; the run store is kept)."""
    _computed().clear()


def cached_compute(namespace: str, key, compute, progress_text: str | None = None, max_entries: int = 16,
                   load=None):
    """`compute(progress)` for `key`, computed once for the whole server and kept for every session.

    `key` is hashable (e.g. a JSON string of the configs and settings) and names the result within
    `namespace`, which keeps its last `max_entries` keys (the lab's one cache primitive, `cache.SingleFlight`).
    Only when it computes does this draw a progress bar titled `progress_text` (moved by `progress(fraction,
    message)`, removed when done), and the computation takes a slot of the server's job queue; a stored result
    draws nothing. When another session is computing the same key, this waits for that result, showing that
    session's progress, instead of computing it twice, and computes it itself if that session stops. An error
    is raised, not kept. The result is shared by every session: never change it.

    `load()`, when given, is tried first: a result kept elsewhere (on disk), read without a progress bar or a place
    in the job queue; None when it has none.

    Why not `st.cache_data`: drawing (a progress bar, previews) from inside a cached function is
    recorded and replayed on a hit, so the drawing happens here, outside any cached function.
    """
    space = _computed().space(namespace, max_entries)
    found, result = space.get(key)
    if found:
        return result
    if load is not None and not space.computing(key):
        result = load()
        if result is not None:
            space.put(key, result)
            return result
    # Waiting for another session's computation: its progress, twice a second (a draw, which also ends this wait
    # if this session goes away). Without `progress_text`, as in the server's warm-up, nothing is drawn.
    waiting_bar: list = []
    try:
        return space.get_or_compute(key, _computing(compute, progress_text, waiting_bar),
                                    on_wait=_shown_waiting(waiting_bar) if progress_text else None)
    finally:
        for b in waiting_bar:
            b.empty()


def _shown_waiting(waiting_bar: list):
    """`on_wait(fraction, message)` of `cached_compute` while another session computes the key: that session's
    progress in a bar of this page, drawn on the first call and kept in `waiting_bar`."""

    def shown_waiting(fraction: float, message: str) -> None:
        if not waiting_bar:
            waiting_bar.append(st.progress(0.0, text="Being computed for another session …"))
        waiting_bar[0].progress(min(max(fraction, 0.0), 1.0), text="Being computed for another session"
                                + (f": {message}" if message else " …"))

    return shown_waiting


def _computing(compute, progress_text: str | None, waiting_bar: list):
    """`run(report)` of `cached_compute`, when this session computes the key: the waiting bar removed (another
    session stopped: this one takes over), a progress bar titled `progress_text` (redrawn every half per cent, its
    place in line shown while it waits for a slot of the server's job queue), then `compute(progress)` in a slot,
    every progress also reported to the sessions waiting for it."""

    def run(report):
        for b in waiting_bar:  # another session stopped: this one takes over
            b.empty()
        bar = st.progress(0.0, text=progress_text) if progress_text else None
        shown = [-1.0]

        def draw(fraction: float, message: str = "") -> None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            report(fraction, message)
            if bar is not None and (fraction - shown[0] >= 0.005 or fraction >= 1.0):
                shown[0] = fraction
                bar.progress(fraction, text=f"{progress_text}: {message}" if message else progress_text)

        def waiting(place: int) -> None:
            if bar is not None:
                bar.progress(0.0, text=f"{progress_text}: waiting for a free slot on this server ({place} in line, "
                                       f"{job_gate().slots} at once)")

        try:
            with job_gate().slot(on_wait=waiting):
                return compute(draw)
        finally:
            if bar is not None:
                bar.empty()

    return run


def apply_preset(preset) -> None:
    """Open a preset (resnet_viz.presets): make its pair current, set its page settings, switch page.

    The pair is trained (with progress) by the target page's `pick_pair` if it is not stored yet.
    """

    view = preset.view_record
    if view.inputs != "none":
        pair = Pair(*preset_pair(preset))
        add_pair(pair)
    keys = st.session_state[LINK_PENDING] = []
    for key, value in state(preset.settings).items():  # the page's widgets show the preset's settings
        st.session_state[key] = copy.deepcopy(value)
        keys.append(key)
    # A study shown on request is shown at once: the preset asked for it.
    st.session_state[run_flag(view)] = True
    # The target page moves the settings just set into its link (url_state): they win over the
    # old link. The page's own link starts with the pair and presenter mode only.
    if view.inputs != "none":
        ready = all(run_store().get(run_key(n, t)) for n, t in pair.configs)
        st.toast(f"Opening **{preset.title}** on the {view.title} page: preparing {pair.label} "
                 f"({'already trained' if ready else 'loaded or trained now, with progress there'}) …", icon="⏳")
        query = {k: v for k, v in _custom_params(pair).items() if v is not None}
    else:
        st.toast(f"Opening **{preset.title}** on the {view.title} page …", icon="⏳")
        query = {urlstate.PRESENTER: "1"} if st.session_state.get("presenter") else {}
    st.switch_page(view.page, query_params=query)


def run_flag(view) -> str:
    """The session key (and link name) that says a view's study was asked for, for a page that computes only on
    request what would train new nets (`<slug>_run`)."""
    return f"{view.slug}_run"
