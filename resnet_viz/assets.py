"""Pre-trained runs of the app's default pair, shipped in `assets/default_runs/`.

A fresh server loads them instead of training (issue 14: the first figures are there
at once). Each is an ordinary run folder (`save_run`/`load_run`: JSON and safetensors,
no pickle), loaded only when its config equals the pair asked for exactly, so an
edited default never shows stale weights; a missing, corrupt or stale folder is
skipped and the caller trains as before.

Regenerate them (training is deterministic on the CPU, about 30 s with one thread):

    OMP_NUM_THREADS=1 python -m resnet_viz.assets

The shipped runs keep every second weight checkpoint of the optimisation path (about
one per epoch, as Li et al. 2018 §7 use; `--keep-every`): the path view draws the same
PCA plane (direction cosines ≥ 0.98 against all checkpoints) from half the bytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from .models import NetConfig
from .train import Run, TrainConfig, load_run, net_config_for, save_run, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folder holding plain/ and residual/; $RESNET_VIZ_DEFAULT_RUNS overrides it ("" or "none": load nothing).
DEFAULT_RUNS_DIR = os.path.join(ROOT, "assets", "default_runs")
KEEP_EVERY = 2

log = logging.getLogger(__name__)


def default_runs_dir() -> str | None:
    """The folder of shipped default runs: $RESNET_VIZ_DEFAULT_RUNS when set ("" or "none"
    turns loading off: None), else `assets/default_runs` in the repository."""
    folder = os.environ.get("RESNET_VIZ_DEFAULT_RUNS")
    if folder is None:
        return DEFAULT_RUNS_DIR
    return None if folder.strip().lower() in ("", "none") else folder


def default_pair_configs() -> list[tuple[NetConfig, TrainConfig]]:
    """(plain, residual) configs of the app's default pair: the digits CNN with `TrainConfig()`
    (the same as `ui.common.default_pair().configs`)."""
    net = net_config_for("digits")
    return [(net.replace(skip=False), TrainConfig()), (net.replace(skip=True), TrainConfig())]


def run_folder(net: NetConfig, folder: str) -> str:
    """Where the shipped run of `net` lives in `folder`: plain/ or residual/."""
    return os.path.join(folder, "residual" if net.skip else "plain")


def load_shipped(net: NetConfig, cfg: TrainConfig, folder: str | None = None) -> Run | None:
    """The shipped run for exactly (net, cfg), or None when it is missing, unreadable or
    was trained with another config (the reason is logged; the caller then trains)."""
    folder = default_runs_dir() if folder is None else folder
    if not folder:
        return None
    path = run_folder(net, folder)
    if not os.path.isdir(path):
        return None
    try:
        run = load_run(path)
    except Exception as e:  # RunLoadError, OSError, anything else: never worse than training
        log.warning("shipped run %s not used (it will be trained): %s", path, e)
        return None
    if run.net.to_json() != net.to_json() or run.train.to_json() != cfg.to_json():
        log.warning("shipped run %s was trained with another config than the default pair: "
                    "not used (it will be trained; regenerate with python -m resnet_viz.assets)", path)
        return None
    return run


def load_shipped_pairs(pairs: list[tuple[NetConfig, TrainConfig]], folder: str | None = None) -> list[Run]:
    """The shipped runs matching `pairs` ((net, cfg) each); those that do not load are left out."""
    runs = [load_shipped(net, cfg, folder) for net, cfg in pairs]
    return [r for r in runs if r is not None]


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


def make_default_runs(folder: str = DEFAULT_RUNS_DIR, keep_every: int = KEEP_EVERY) -> list[Run]:
    """Train the default pair on the CPU and write it to `folder` (plain/, residual/).
    Returns the runs as trained (with every checkpoint)."""
    runs = []
    for net, cfg in default_pair_configs():
        run = train(net, cfg, device="cpu")
        save_run(thin_trajectory(run, keep_every), run_folder(net, folder))
        runs.append(run)
    return runs


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the shipped default runs."""
    parser = argparse.ArgumentParser(prog="python -m resnet_viz.assets", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_RUNS_DIR, help="folder for plain/ and residual/ (default: %(default)s)")
    parser.add_argument("--keep-every", type=int, default=KEEP_EVERY,
                        help="keep every k-th weight checkpoint and the last (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.keep_every < 1:
        parser.error("--keep-every must be at least 1")
    for run in make_default_runs(args.out, args.keep_every):
        print(f"{run.label}: test accuracy {run.history.test_accuracy:.2%}, "
              f"{run.history.seconds:.1f} s -> {run_folder(run.net, args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
