"""The lab's configuration: every `RESNET_VIZ_*` environment variable, read once into one object.

`app.py` builds the server's (`LabConfig.from_env(server=True)`) when the server starts and hands it to the lab
(`use`); the command line does the same with its own (`cli.main`). Everything that depends on a setting reads it
from the active config (`active()`): the run store, the job queue, the thread policy, the training time limit,
the memory limit, the data folder, the shipped runs. Nothing sets an environment variable, and a link or a
student can change none of it: these are the server's settings.

Without `use` (a library user, a test), `active()` reads the environment afresh at each call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from typing import Mapping

GIB = 1024**3


def _package_folder(*parts: str) -> str:
    """A folder of the package's data, as a path: `importlib.resources.files` of this package (a real folder on disk
    for a normal install or a checkout; the lab is not meant to run from a zip)."""
    return os.fspath(files(__package__).joinpath(*parts))


# The runs and results shipped with the lab, package data (`resnet_viz.assets`, made by `resnet_viz.shipping`).
SHIPPED_DIR = _package_folder("shipped", "runs")
RESULTS_DIR = _package_folder("shipped", "results")


def _number(env: Mapping[str, str], name: str, default: float, kind=float):
    text = env.get(name, "").strip()
    try:
        return kind(float(text)) if text else default
    except ValueError:
        return default


def _folder(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = env.get(name)
    if value is None:
        return default
    return None if value.strip().lower() in ("", "none") else value


@dataclass(frozen=True)
class LabConfig:
    """The server's (or the command line's) settings.

    run_store:       folder of trained runs kept on disk ($RESNET_VIZ_RUN_STORE, default ~/.cache/resnet_viz/runs;
                     "none": memory only).
    max_runs, max_run_bytes: runs a server keeps in memory ($RESNET_VIZ_MAX_RUNS, 24; $RESNET_VIZ_MAX_RUNS_GB, 2).
    max_jobs:        trainings and studies at once ($RESNET_VIZ_MAX_JOBS, default the cores).
    torch_threads:   PyTorch threads a job, and of every training ($RESNET_VIZ_TORCH_THREADS, 1: the lab's thread
                     policy, `jobs.thread_policy`).
    train_minutes:   the longest one training may take ($RESNET_VIZ_MAX_TRAIN_MINUTES; a server's default 10,
                     none on the command line).
    memory_limit_bytes: the training-memory estimate a config may need ($RESNET_VIZ_MEMORY_LIMIT_GB, 2).
    data_root:       the folder of local datasets ($RESNET_VIZ_DATA, default ~/.cache/resnet_viz/data).
    max_datasets:    datasets kept in memory ($RESNET_VIZ_MAX_DATASETS, 4).
    shipped_runs:    the folder of shipped runs ($RESNET_VIZ_SHIPPED_RUNS, default the package data's shipped/runs,
                     `assets.SHIPPED_DIR`; "none": none).
    shipped_results: the folder of shipped view results ($RESNET_VIZ_SHIPPED_RESULTS, default the package data's
                     shipped/results, `assets.RESULTS_DIR`;
                     "none": none, every result computed).
    warm:            warm the server up at start ($RESNET_VIZ_WARM, 1; 0: no).
    dask:            the address of a Dask scheduler heavy work goes to ($RESNET_VIZ_DASK; none: in-process).
    """

    run_store: str | None
    max_runs: int
    max_run_bytes: int
    max_jobs: int
    torch_threads: int
    train_minutes: float | None
    memory_limit_bytes: int
    data_root: str
    max_datasets: int
    shipped_runs: str | None
    shipped_results: str | None
    warm: bool
    dask: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, server: bool = False) -> "LabConfig":
        """The configuration the environment `env` (default `os.environ`) describes; `server` gives a server's
        defaults (a training time limit)."""
        env = os.environ if env is None else env
        home = os.path.expanduser("~")
        minutes = _number(env, "RESNET_VIZ_MAX_TRAIN_MINUTES", 10.0 if server else 0.0)

        return cls(
            run_store=_folder(env, "RESNET_VIZ_RUN_STORE", os.path.join(home, ".cache", "resnet_viz", "runs")),
            max_runs=max(_number(env, "RESNET_VIZ_MAX_RUNS", 24, int), 1),
            max_run_bytes=int(_number(env, "RESNET_VIZ_MAX_RUNS_GB", 2.0) * GIB),
            max_jobs=max(_number(env, "RESNET_VIZ_MAX_JOBS", os.cpu_count() or 1, int), 1),
            torch_threads=max(_number(env, "RESNET_VIZ_TORCH_THREADS", 1, int), 1),
            train_minutes=minutes if minutes > 0 else None,
            memory_limit_bytes=int(_number(env, "RESNET_VIZ_MEMORY_LIMIT_GB", 2.0) * GIB),
            data_root=env.get("RESNET_VIZ_DATA") or os.path.join(home, ".cache", "resnet_viz", "data"),
            max_datasets=max(_number(env, "RESNET_VIZ_MAX_DATASETS", 4, int), 1),
            shipped_runs=_folder(env, "RESNET_VIZ_SHIPPED_RUNS", SHIPPED_DIR),
            shipped_results=_folder(env, "RESNET_VIZ_SHIPPED_RESULTS", RESULTS_DIR),
            warm=env.get("RESNET_VIZ_WARM", "1").strip() != "0",
            dask=_folder(env, "RESNET_VIZ_DASK", None),
        )


_active: LabConfig | None = None


def use(config: LabConfig | None) -> None:
    """Make `config` the active configuration of this process (None: read the environment at each call again).
    What it bounds that lives in the process already reads it at its next use (the datasets kept in memory)."""
    global _active
    _active = config


def active() -> LabConfig:
    """The active configuration: the one `use` was given, else the environment's now."""
    return _active if _active is not None else LabConfig.from_env()


def configured() -> LabConfig | None:
    """The configuration `use` was given, or None."""
    return _active
