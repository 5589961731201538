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
PyTorch thread; about 5 minutes on two cores):

    python -m resnet_viz.assets

Only the default pair keeps weight checkpoints, for the loss landscape's optimisation-path view
(Li et al. 2018 §7): every second one, at half precision (the last row is read back as the exact
final weights), which draws the same PCA plane from a quarter of the bytes. The other runs keep
their weights and history only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from importlib.resources import files

import torch

from .models import NetConfig
from .train import Run, TrainConfig, load_run, net_config_for, save_run


def _package_folder(*parts: str) -> str:
    """A folder of the package's data, as a path: `importlib.resources.files` of this package (a real folder on disk
    for a normal install or a checkout; the lab is not meant to run from a zip)."""
    return os.fspath(files(__package__).joinpath(*parts))


# Folder of shipped run folders; $RESNET_VIZ_SHIPPED_RUNS overrides it ("" or "none": load nothing).
SHIPPED_DIR = _package_folder("shipped", "runs")
RESULTS_DIR = _package_folder("shipped", "results")  # shipped view results (`resnet_viz.results`)
MANIFEST = "manifest.json"
KEEP_EVERY = 2

log = logging.getLogger(__name__)


def shipped_dir() -> str | None:
    """The folder of shipped runs: the active configuration's (`config.LabConfig.shipped_runs`:
    $RESNET_VIZ_SHIPPED_RUNS when set, "" or "none" turning loading off: None; else `SHIPPED_DIR`)."""
    from .config import active

    return active().shipped_runs


def default_pair_configs() -> list[tuple[NetConfig, TrainConfig]]:
    """(plain, residual) configs of the app's default pair: the digits CNN `net_config_for("digits")` with
    `TrainConfig()` (the same as `ui.common.default_pair().configs`)."""
    net = net_config_for("digits")
    return [(net.replace(skip=False), TrainConfig()), (net.replace(skip=True), TrainConfig())]


def run_folder(net: NetConfig, cfg: TrainConfig, folder: str) -> str:
    """Where the shipped run of (net, cfg) lives in `folder`: its `store.run_key`."""
    from .store import run_key

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
                    "regenerate with python -m resnet_viz.assets)", path)
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
    import os as _os

    from .jobs import JobGate
    from .store import RunStore

    global _store
    if _store is None:
        _store = RunStore(max_runs=64, gate=JobGate(_os.cpu_count() or 1))
    return shipped_first(_store.trainer())


def thin_trajectory(run: Run, keep_every: int = KEEP_EVERY) -> Run:
    """A copy of `run` keeping every `keep_every`-th weight checkpoint and the final one
    (rows of `trajectory` and `history.checkpoint_steps` alike)."""
    if run.trajectory is None or keep_every <= 1:
        return run
    n = run.trajectory.shape[0]
    rows = sorted(set(range(0, n, keep_every)) | {n - 1})
    steps = [run.history.checkpoint_steps[i] for i in rows]
    history = dataclasses.replace(run.history, checkpoint_steps=steps)
    return dataclasses.replace(run, history=history, trajectory=run.trajectory[rows].clone())


def shipped_configs() -> dict[str, list[tuple[NetConfig, TrainConfig]]]:
    """What the lab ships, by purpose: the default pair, the nets of every view's default study on it (the views
    that train nets of their own, `registry.View.nets`) and each preset's nets (its pair where its view shows it,
    and its study's), as (net, cfg) in training order."""
    from .presets import PRESETS, preset_pair
    from .registry import VIEWS

    net, cfg = default_pair_configs()[1]
    out = {"default pair": default_pair_configs()}
    for view in VIEWS:
        if view.nets is not None:
            out[f"default {view.slug} study"] = view.nets(net, cfg, view.settings())
    for p in PRESETS:
        view = p.view_record
        if view.inputs == "none":
            continue
        pnet, pcfg = preset_pair(p)
        group = [(pnet.twin(), pcfg), (pnet, pcfg)] if view.pair_shown else []
        if view.nets is not None:
            group += view.nets(pnet, pcfg, p.settings)
        out[f"preset {p.slug}"] = group
    return out


def make_shipped(folder: str = SHIPPED_DIR, keep_every: int = KEEP_EVERY, progress=None) -> dict:
    """Train every net of `shipped_configs()` on the CPU (each once, the lab's thread policy) and write
    the run folders to `folder` (emptied first), with trajectories only for the default pair, and a
    manifest saying what each run is for. Returns the manifest."""
    from .progress import Steps
    from .store import RunStore, run_key

    wanted = shipped_configs()
    unique = {run_key(n, c): (n, c) for group in wanted.values() for n, c in group}
    trajectory_keys = {run_key(n, c) for n, c in wanted["default pair"]}
    steps = Steps(progress, sum(n.depth * c.epochs for n, c in unique.values()))
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(max_runs=len(unique) + 1, max_bytes=1 << 40, folder=tmp, max_disk_runs=len(unique) + 1)
        for key, (n, c) in unique.items():
            store.get_or_train(n, c, steps.part(n.depth * c.epochs, f"training {n.name}, seed {n.seed}"))
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        os.makedirs(folder)
        for key, (n, c) in unique.items():
            run = store.get(key)
            keep = key in trajectory_keys
            save_run(thin_trajectory(run, keep_every) if keep else dataclasses.replace(run, trajectory=None),
                     os.path.join(folder, key))
            if keep:
                save_half_trajectory(os.path.join(folder, key))
    steps.finish()
    manifest = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "threads": _threads(), "runs": {
                    key: {"net": n.name, "seed": n.seed, "epochs": c.epochs,
                          "for": [purpose for purpose, group in wanted.items()
                                  if key in {run_key(a, b) for a, b in group}]}
                    for key, (n, c) in unique.items()}}
    with open(os.path.join(folder, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    return manifest


def shipped_results() -> list[tuple[str, object, object]]:
    """(purpose, view, settings) of every result the lab ships (`resnet_viz.results`): each stored view's default
    on the default pair, and each preset's on its pair."""
    from .presets import PRESETS
    from .registry import VIEWS

    out = [(f"default {v.slug}", v, v.settings()) for v in VIEWS if v.stored]
    return out + [(f"preset {p.slug}", p.view_record, p.settings) for p in PRESETS if p.view_record.stored]


def make_shipped_results(folder: str = RESULTS_DIR, progress=None) -> dict:
    """Compute every result of `shipped_results()` from the shipped runs (the lab's thread policy: one PyTorch
    thread) and write them to `folder` (emptied first) under their keys (`results.result_key`), with a manifest
    saying what each is for. Returns the manifest."""
    from .data import load_dataset
    from .presets import PRESETS, preset_pair
    from .progress import Steps
    from .registry import Inputs
    from .results import ResultStore, result_key, shipped_resolver, study

    wanted = shipped_results()
    steps = Steps(progress, len(wanted))
    threads = torch.get_num_threads()
    torch.set_num_threads(_threads())
    manifest: dict = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "threads": _threads(), "results": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = ResultStore(tmp, None, max_entries=len(wanted) + 1)
            for purpose, view, settings in wanted:
                slug = purpose.split(" ", 1)[1]
                net, cfg = (preset_pair(next(p for p in PRESETS if p.slug == slug)) if purpose.startswith("preset")
                            else default_pair_configs()[1])
                inputs = Inputs(progress=steps.part(1, purpose))
                if view.inputs != "none":
                    inputs.net, inputs.train = net, cfg
                    inputs.data = load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)
                    inputs.trainer = default_trainer(inputs.data)
                if view.inputs == "pair":
                    inputs.runs = {label: inputs.trainer(n, cfg) for label, n in (("plain", net.twin()), ("residual", net))}
                key = result_key(view, settings, net=inputs.net, train=inputs.train, runs=inputs.runs)
                study(view, settings, inputs, store=store, resolve=shipped_resolver(), key=key)
                if store.has(key):
                    manifest["results"].setdefault(key, {"view": view.slug, "for": []})["for"].append(purpose)
            if os.path.isdir(folder):
                shutil.rmtree(folder)
            os.makedirs(folder)
            for key in manifest["results"]:
                shutil.copytree(os.path.join(tmp, key), os.path.join(folder, key))
    finally:
        torch.set_num_threads(threads)
    steps.finish()
    with open(os.path.join(folder, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    return manifest


def _threads() -> int:
    from .jobs import torch_threads

    return torch_threads()


def save_half_trajectory(path: str) -> None:
    """Rewrite the run folder's `trajectory.safetensors` at half precision (float16): half the bytes.
    `train.load_run` reads it back as float32 with its last row made the run's exact final weights."""
    from safetensors.torch import load_file, save_file

    file = os.path.join(path, "trajectory.safetensors")
    t = load_file(file)["trajectory"]
    save_file({"trajectory": t.half().contiguous()}, file)


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the shipped runs."""
    parser = argparse.ArgumentParser(prog="python -m resnet_viz.assets", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=SHIPPED_DIR, help="folder of the run folders (default: %(default)s)")
    parser.add_argument("--keep-every", type=int, default=KEEP_EVERY,
                        help="the default pair keeps every k-th weight checkpoint and the last (default: %(default)s)")
    parser.add_argument("--results", default=RESULTS_DIR, help="folder of the shipped results (default: %(default)s)")
    parser.add_argument("--results-only", action="store_true",
                        help="compute the shipped results again from the shipped runs, without training")
    parser.add_argument("--list", action="store_true", help="print what would be shipped and exit")
    args = parser.parse_args(argv)
    if args.keep_every < 1:
        parser.error("--keep-every must be at least 1")
    if args.list:
        for purpose, group in shipped_configs().items():
            print(f"{purpose}: {len(group)} nets")
        for purpose, view, _ in shipped_results():
            print(f"{purpose}: the {view.title} view's result")
        return 0
    from .cli import progress_printer

    if not args.results_only:
        manifest = make_shipped(args.out, args.keep_every, progress_printer(False))
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.out) for f in fs)
        print(f"{len(manifest['runs'])} runs, {size / 1024**2:.1f} MB -> {args.out}", file=sys.stderr)
    manifest = make_shipped_results(args.results, progress_printer(False))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.results) for f in fs)
    print(f"{len(manifest['results'])} results, {size / 1024**2:.1f} MB -> {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
