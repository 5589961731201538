"""Making the runs and results shipped with the lab (`resnet_viz.assets` reads them): every net of the default pair,
of every view's default study on it and of every preset, trained on the CPU with the lab's thread policy, and every
preset's and every stored view's default result computed from them.

    python -m resnet_viz.shipping                 # train every net again, then compute every result (about 6 min)
    python -m resnet_viz.shipping --results-only  # compute the results again from the shipped runs (about 1 min)

Only the default pair keeps weight checkpoints (every second one, at half precision, the last row read back as the
exact final weights: `train.load_run`), for the loss landscape's optimisation-path view (Li et al. 2018 §7).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

from .assets import KEEP_EVERY, MANIFEST, RESULTS_DIR, SHIPPED_DIR, default_pair_configs, default_trainer
from .data import load_dataset
from .jobs import torch_threads
from .models import NetConfig
from .presets import PRESETS, preset_pair
from .progress import Steps, progress_printer
from .registry import VIEWS, Inputs
from .results import ResultStore, result_key, shipped_resolver, study
from .store import RunStore, run_key
from .train import Run, TrainConfig, save_run


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

    out = [(f"default {v.slug}", v, v.settings()) for v in VIEWS if v.stored]
    return out + [(f"preset {p.slug}", p.view_record, p.settings) for p in PRESETS if p.view_record.stored]


def shipped_inputs(purpose: str, view, progress=None) -> Inputs:
    """The `Inputs` a shipped result is computed from (`shipped_results`' purpose: "default <view>" on the default
    pair, "preset <slug>" on the preset's pair): the pair's configs, its data and the default trainer, and for a
    view of a trained pair its two runs (the shipped ones)."""
    slug = purpose.split(" ", 1)[1]
    net, cfg = (preset_pair(next(p for p in PRESETS if p.slug == slug)) if purpose.startswith("preset")
                else default_pair_configs()[1])
    inputs = Inputs(progress=progress)
    if view.inputs != "none":
        inputs.net, inputs.train = net, cfg
        inputs.data = load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)
        inputs.trainer = default_trainer(inputs.data)
    if view.inputs == "pair":
        inputs.runs = {label: inputs.trainer(n, cfg) for label, n in (("plain", net.twin()), ("residual", net))}
    return inputs


def make_shipped_results(folder: str = RESULTS_DIR, progress=None) -> dict:
    """Compute every result of `shipped_results()` from the shipped runs (the lab's thread policy: one PyTorch
    thread) and write them to `folder` (emptied first) under their keys (`results.result_key`), with a manifest
    saying what each is for. Returns the manifest."""

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
                inputs = shipped_inputs(purpose, view, progress=steps.part(1, purpose))
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
    return torch_threads()


def save_half_trajectory(path: str) -> None:
    """Rewrite the run folder's `trajectory.safetensors` at half precision (float16): half the bytes.
    `train.load_run` reads it back as float32 with its last row made the run's exact final weights."""

    file = os.path.join(path, "trajectory.safetensors")
    t = load_file(file)["trajectory"]
    save_file({"trajectory": t.half().contiguous()}, file)


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the shipped runs."""
    parser = argparse.ArgumentParser(prog="python -m resnet_viz.shipping", description=__doc__.splitlines()[0])
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
