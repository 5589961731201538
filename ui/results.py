"""Each view's one computation, kept for every session under one key (ui.common.cached_compute).

`result(view, settings, ...)` reads a view's result kept on disk (`resnet_viz.results`: this server's, written when
it computed one or by `prepare`, or shipped with the lab) or computes it through its study function (and keeps
it there): the pages call it, and so does the server's warm-up (ui.warmup) with the default pair and each view's
default settings, so a result the warm-up computed is, key for key, the one a page asks for. `text` titles the
progress bar drawn while computing (None: nothing is drawn, as in the warm-up).
"""

from __future__ import annotations

from resnet_viz.assets import is_shipped, shipped_first
from resnet_viz.data import load_dataset
from resnet_viz.registry import Inputs, View
from resnet_viz.results import array_key, default_store, result_key, shared_settings, shipped_resolver, study
from resnet_viz.store import run_key

from .common import cached_compute, run_store

MAX_ENTRIES = 32  # results kept in memory per view


def study_trainer():
    """The trainer of the studies that train nets of their own (degradation, identity): a shipped net is loaded
    as it is, without taking a place in the server's run store (the study's result keeps what it needs, and 18
    shipped nets would push the students' pairs out of the store's LRU); any other net is trained once through
    the store (kept, shared, on disk)."""

    return shipped_first(run_store().trainer())


def result(view: View, settings, *, pair=None, runs: dict | None = None, text: str | None = None, preview=None,
           extra: dict | None = None, extra_key: str = ""):
    """`view`'s study of `settings`, computed once for the whole server and kept (`cached_compute`).

    `pair` (a ui.common.Pair) for a view that trains nets from the pair's configs; `runs` ({"plain", "residual"}
    trained) for a view of a trained pair; `extra` what the view needs more (the features view's input `x`), named
    in the key by `extra_key`; `preview(...)` for partial results while computing (not part of the key)."""
    if runs is not None:
        first = runs["residual"] if "residual" in runs else next(iter(runs.values()))
        net, train = first.net.replace(skip=True), first.train
    elif pair is not None:
        net, train = pair.net, pair.train
    else:
        net = train = None
    key = result_key(view, settings, net=net, train=train, runs=runs, extra_key=extra_key)
    store, resolve = default_store(), shipped_resolver(run_store())

    def load():  # kept on disk (this server's, or shipped): read at once, without a place in the job queue
        return store.get(key, resolve) if view.stored else None

    def compute(progress):
        # The study's nets train side by side through the server's job queue (View.compute, RunStore.prefetch).
        data = None if train is None else load_dataset(train.dataset, train.data_root, train.data_limit)
        inputs = Inputs(net=net, train=train, runs=runs, data=data, trainer=study_trainer(), progress=progress,
                        preview=preview, extra=dict(extra or {}))
        # Computed from the fields in its key only (display fields at their defaults): shared by every session.
        return study(view, shared_settings(settings), inputs, store=store, resolve=resolve, key=key)

    return cached_compute(view.slug, key, compute, text, max_entries=MAX_ENTRIES, load=load)


def ready(view: View, pair, settings) -> bool:
    """True when every net the view's study would train for `pair` at `settings` is already trained (kept by this
    server or shipped with the lab), or its result is kept, so that showing it costs no training: a page then shows
    it at once."""
    if view.nets is None:
        return True
    if view.stored and default_store().has(result_key(view, settings, net=pair.net, train=pair.train)):
        return True
    return all(available(n, c) for n, c in view.nets(pair.net, pair.train, settings))


def available(net, cfg) -> bool:
    """True when (net, cfg) needs no training: kept by this server or shipped with the lab."""

    return run_store().get(run_key(net, cfg)) is not None or is_shipped(net, cfg)


def input_key(x) -> str:
    """The key of one input of the features view (`results.array_key`)."""
    return array_key(x)
