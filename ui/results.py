"""Each view's one computation, kept for every session under one key (ui.common.cached_compute).

The pages call these, and so does the server's warm-up (ui.warmup) with the default pair and
the default settings: a result the warm-up computed is, key for key, the one a page asks for.
`text` titles the progress bar drawn while computing (None: nothing is drawn, as in the warm-up).
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from resnet_viz import ensemble as E
from resnet_viz import family as F
from resnet_viz import features as FT
from resnet_viz import identity as I
from resnet_viz import landscape as L
from resnet_viz import playground as PG
from resnet_viz import shattering as SH
from resnet_viz.data import load_dataset
from resnet_viz.degradation import DegradationSettings, degradation_study

from .common import cached_compute, run_store


def _key(*parts) -> str:
    return json.dumps(parts, sort_keys=True)


def landscape(runs: dict, settings: L.LandscapeSettings, text: str | None = None, preview=None) -> L.LandscapeView:
    """`landscape_study` of the pair (Li et al. 2018) for the settings' sub-view; `preview(label, partial
    surface)` is called while a plane is refined."""
    computation = settings.computation()
    train = runs["residual"].train

    def compute(progress):
        data = load_dataset(train.dataset, train.data_root, train.data_limit)
        return L.landscape_study(runs, L.LandscapeSettings(**computation), data=data, progress=progress,
                                 preview=preview)

    key = _key(runs["plain"].net.to_json(), runs["residual"].net.to_json(), train.to_json(), computation)
    return cached_compute("landscape", key, compute, text, max_entries=24)


def shattering(settings: SH.ShatteringSettings, text: str | None = None) -> SH.ShatteringView:
    """`shattering_study` (Balduzzi et al. 2017) at these settings."""
    return cached_compute("shattering", _key(settings.to_dict()),
                          lambda progress: SH.shattering_study(settings, progress=progress), text, max_entries=32)


def playground(settings: PG.PlaygroundSettings, text: str | None = None, preview=None) -> PG.PlaygroundResult:
    """`playground_study` (a deep plain MLP and its residual twin on a 2-D set, after TensorFlow Playground) at
    these settings; `preview(partial result)` is called after every frame while it trains."""
    return cached_compute("playground", _key(settings.to_dict()),
                          lambda progress: PG.playground_study(settings, progress=progress, preview=preview),
                          text, max_entries=16)


def ensemble(plain, residual, settings: E.EnsembleSettings, text: str | None = None) -> E.EnsembleView:
    """`ensemble_study` (Veit et al. 2016): deletions, k-sweep and swaps of both nets and the residual
    net's gradient by path length."""
    computation = settings.computation()
    key = _key(plain.net.to_json(), residual.net.to_json(), residual.train.to_json(), computation)
    return cached_compute("ensemble", key,
                          lambda progress: E.ensemble_study(plain, residual, E.EnsembleSettings(**computation),
                                                            progress=progress),
                          text, max_entries=32)


def family(settings: F.FamilySettings, text: str | None = None) -> list:
    """`family_table` (He et al. 2016 Table 1, from torchvision's definitions) at these settings."""
    return cached_compute("family", _key(settings.to_dict()),
                          lambda progress: F.family_table(settings, progress=progress), text, max_entries=8)


def degradation(pair, settings: DegradationSettings, text: str | None = None):
    """`degradation_study` (He et al. 2016 Fig. 1) of `pair`'s config; every net it trains goes through
    the server's run store."""
    return cached_compute("degradation", _key(pair.net.to_json(), pair.train.to_json(), settings.to_dict()),
                          lambda progress: degradation_study(pair.net, pair.train, settings, progress=progress,
                                                             trainer=study_trainer()),
                          text, max_entries=8)


def study_trainer():
    """The trainer of the studies that train nets of their own (degradation, identity): a shipped net is loaded
    as it is, without taking a place in the server's run store (the study's result keeps what it needs, and 18
    shipped nets would push the students' pairs out of the store's LRU); any other net is trained once through
    the store (kept, shared, on disk)."""
    from resnet_viz.assets import shipped_first

    return shipped_first(run_store().trainer())


def degradation_ready(pair, settings: DegradationSettings) -> bool:
    """True when every net of the degradation study of `pair` at `settings` is already trained (kept by this
    server or shipped with the lab), so that showing it costs no training: the page then shows it at once."""
    from resnet_viz.assets import run_folder, shipped_dir
    from resnet_viz.store import run_key

    store, folder = run_store(), shipped_dir()
    cfg = settings.train_config(pair.train)
    for net in settings.nets(pair.net):
        c = cfg.replace(seed=net.seed)
        if store.get(run_key(net, c)) is None and not (folder and os.path.isdir(run_folder(net, c, folder))):
            return False
    return True


def identity(pair, settings: I.IdentitySettings, text: str | None = None) -> I.IdentityResult:
    """`identity_study` (He et al. 2016b) of `pair`'s config; every net it trains goes through the
    server's run store."""
    return cached_compute("identity", _key(pair.net.to_json(), pair.train.to_json(), settings.to_dict()),
                          lambda progress: I.identity_study(pair.net, pair.train, settings, progress=progress,
                                                            trainer=study_trainer()),
                          text, max_entries=8)


def input_key(x) -> str:
    """The key of one input of the features view (a hash of its float32 values)."""
    return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def features(runs: dict, x, input_key: str, settings: FT.FeatureSettings, data,
             text: str | None = None) -> FT.FeatureView:
    """`feature_study` of one input (block outputs, IG, saliency, Grad-CAM); `input_key` names the input."""
    key = _key({k: (r.net.to_json(), r.train.to_json()) for k, r in runs.items()}, input_key, settings.computation())
    return cached_compute("features", key,
                          lambda progress: FT.feature_study(runs, x, settings, data=data, progress=progress),
                          text, max_entries=64)
