"""Trained runs shipped with the lab, in the package's `shipped/runs/` (`SHIPPED_DIR`): the default pair, the nets
of every view's default study on it, and every net of every preset; and the views' results computed from them, in
`shipped/results/` (`RESULTS_DIR`, read by `resnet_viz.results`).

Both are package data (pyproject.toml's `[tool.setuptools.package-data]`), found with `importlib.resources`, so an
installed lab carries them as a checkout does: `pip install -e .`, a plain `pip install .` and Colab's
`pip install git+…` alike. For a normal install (files on disk, not a zip) the package's resources are a real folder,
which is what the run store and the result store read; the app, the command line and the notebook API all read
them from there.

A fresh server, the command line and the reports load them instead of training (issue 14: the
first figures are there at once; issue 24: every preset opens at once, and a report made on any
machine shows the numbers the live page shows). Each is an ordinary run folder (`save_run` /
`load_run`: JSON and safetensors, no pickle) named by `store.run_key(net, cfg)`, so it is found
for exactly its configs and never for an edited one; a missing, corrupt or stale folder is
skipped and the caller trains as before.

Regenerate them all (training is deterministic on the CPU with the lab's thread policy, one
PyTorch thread; about 6 minutes on two cores) with `resnet_viz.shipping`:

    python -m resnet_viz.shipping

Only the default pair keeps weight checkpoints, for the loss landscape's optimisation-path view
(Li et al. 2018 §7): every second one, at half precision (the last row is read back as the exact
final weights), which draws the same PCA plane from a quarter of the bytes. The other runs keep
their weights and history only.
"""

from __future__ import annotations

import logging
import os

from .config import RESULTS_DIR, SHIPPED_DIR, active  # noqa: F401  (the folders, here where they are read)
from .jobs import JobGate
from .models import NetConfig
from .store import RunStore, run_key
from .train import Run, TrainConfig, load_run, net_config_for

MANIFEST = "manifest.json"
KEEP_EVERY = 2  # the default pair's shipped trajectory keeps every second checkpoint (`shipping`)

log = logging.getLogger(__name__)


def shipped_dir() -> str | None:
    """The folder of shipped runs: the active configuration's (`config.LabConfig.shipped_runs`:
    $RESNET_VIZ_SHIPPED_RUNS when set, "" or "none" turning loading off: None; else `SHIPPED_DIR`)."""
    return active().shipped_runs


def default_pair_configs() -> list[tuple[NetConfig, TrainConfig]]:
    """(plain, residual) configs of the app's default pair: the digits CNN `net_config_for("digits")` with
    `TrainConfig()` (the same as `ui.common.default_pair().configs`)."""
    net = net_config_for("digits")
    return [(net.replace(skip=False), TrainConfig()), (net.replace(skip=True), TrainConfig())]


def run_folder(net: NetConfig, cfg: TrainConfig, folder: str) -> str:
    """Where the shipped run of (net, cfg) lives in `folder`: its `store.run_key`."""
    return os.path.join(folder, run_key(net, cfg))


def is_shipped(net: NetConfig, cfg: TrainConfig, folder: str | None = None) -> bool:
    """True when a run of exactly (net, cfg) is shipped in `folder` (by default `shipped_dir()`): its run
    folder exists. Cheap (nothing is loaded); `load_shipped` still checks the run inside."""
    folder = shipped_dir() if folder is None else folder
    return bool(folder) and os.path.isdir(run_folder(net, cfg, folder))


def load_shipped(net: NetConfig, cfg: TrainConfig, folder: str | None = None) -> Run | None:
    """The shipped run for exactly (net, cfg), or None when there is none, it does not load or it was
    trained with another config (the reason is logged; the caller then trains)."""
    folder = shipped_dir() if folder is None else folder
    if not is_shipped(net, cfg, folder):
        return None
    path = run_folder(net, cfg, folder)
    try:
        run = load_run(path)
    except Exception as e:  # RunLoadError, OSError, anything else: never worse than training
        log.warning("shipped run %s not used (it will be trained): %s", path, e)
        return None
    if run.net.to_json() != net.to_json() or run.train.to_json() != cfg.to_json():
        log.warning("shipped run %s was trained with another config: not used (it will be trained; "
                    "regenerate with python -m resnet_viz.shipping)", path)
        return None
    return run


def load_shipped_pairs(pairs: list[tuple[NetConfig, TrainConfig]], folder: str | None = None) -> list[Run]:
    """The shipped runs matching `pairs` ((net, cfg) each); those that do not load are left out."""
    runs = [load_shipped(net, cfg, folder) for net, cfg in pairs]
    return [r for r in runs if r is not None]


def shipped_first(trainer):
    """A `trainer(net, cfg, progress) -> Run` that returns the shipped run of (net, cfg) when there is one
    and calls `trainer` otherwise: the studies of the command line and the reports get the numbers the
    app shows."""
    def first(net, cfg, progress=None):
        run = load_shipped(net, cfg)
        return run if run is not None else trainer(net, cfg, progress)

    ahead = getattr(trainer, "prefetch", None)
    if ahead is not None:  # nets started side by side: those not shipped
        first.prefetch = lambda pairs: ahead([(n, c) for n, c in pairs if not is_shipped(n, c)])
    return first


_store = None


def default_trainer(data=None):
    """`trainer(net, cfg, progress) -> Run` of the studies when none is given (the command line, reports, a
    notebook): the run shipped with the lab for exactly (net, cfg) when there is one (`shipped_first`: the app
    loads the same), else trained by the process's executor (`executor.current()`, or the Dask cluster of
    `--scheduler`) through one run store of the process, in memory, whose job gate has a slot a core: a study's
    nets train side by side (`RunStore.prefetch`), each with one PyTorch thread, as in the app. A run store's
    `trainer()` is the app's. (`data` is not needed: each net's dataset is loaded, once, from its config.)"""
    global _store
    if _store is None:
        _store = RunStore(max_runs=64, gate=JobGate(os.cpu_count() or 1))
    return shipped_first(_store.trainer())
