"""Each view's one computation, kept for every session under one key (ui.common.cached_compute).

`result(view, settings, ...)` computes a view of the registry (`resnet_viz.registry`) through its study
function: the pages call it, and so does the server's warm-up (ui.warmup) with the default pair and each view's
default settings, so a result the warm-up computed is, key for key, the one a page asks for. `text` titles the
progress bar drawn while computing (None: nothing is drawn, as in the warm-up).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from resnet_viz.data import load_dataset
from resnet_viz.registry import Inputs, View

from .common import cached_compute, run_store

MAX_ENTRIES = 32  # results kept per view


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def computation(settings) -> dict:
    """The fields of `settings` that determine the numbers (a cache key): its own `computation()` where it has one
    (fields that change no number left out), else every field."""
    if hasattr(settings, "computation"):
        return settings.computation()
    return {f.name: _jsonable(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


def study_trainer():
    """The trainer of the studies that train nets of their own (degradation, identity): a shipped net is loaded
    as it is, without taking a place in the server's run store (the study's result keeps what it needs, and 18
    shipped nets would push the students' pairs out of the store's LRU); any other net is trained once through
    the store (kept, shared, on disk)."""
    from resnet_viz.assets import shipped_first

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
        configs = {k: (r.net.to_json(), r.train.to_json()) for k, r in runs.items()}
    elif pair is not None:
        net, train = pair.net, pair.train
        configs = (net.to_json(), train.to_json())
    else:
        net = train = configs = None
    key = json.dumps([configs, computation(settings), extra_key], sort_keys=True)

    # The result is computed from the fields in its key only (the display fields at their defaults): it is
    # shared by every session, whatever display settings each one has.
    shared = type(settings)(**computation(settings)) if hasattr(settings, "computation") else settings

    def compute(progress):
        # On a Dask cluster the study's nets start training side by side now (kept while it runs); in-process: nothing.
        started = None if view.nets is None or net is None else run_store().prefetch(
            [(n, c) for n, c in view.nets(net, train, shared) if not available(n, c)])
        data = None if train is None else load_dataset(train.dataset, train.data_root, train.data_limit)
        inputs = Inputs(net=net, train=train, runs=runs, data=data, trainer=study_trainer(), progress=progress,
                        preview=preview, extra=dict(extra or {}))
        try:
            return view.compute(shared, inputs)
        finally:
            del started  # the study is done (or stopped): its prefetched trainings are no longer wanted

    return cached_compute(view.slug, key, compute, text, max_entries=MAX_ENTRIES)


def ready(view: View, pair, settings) -> bool:
    """True when every net the view's study would train for `pair` at `settings` is already trained (kept by this
    server or shipped with the lab), so that showing it costs no training: a page then shows it at once."""
    if view.nets is None:
        return True
    return all(available(n, c) for n, c in view.nets(pair.net, pair.train, settings))


def available(net, cfg) -> bool:
    """True when (net, cfg) needs no training: kept by this server or shipped with the lab."""
    from resnet_viz.assets import is_shipped
    from resnet_viz.store import run_key

    return run_store().get(run_key(net, cfg)) is not None or is_shipped(net, cfg)


def input_key(x) -> str:
    """The key of one input of the features view (a hash of its float32 values)."""
    return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()
