"""Lecture preparation: train every preset's nets once, before class, into the server's run store.

A preset opens at once in class when the nets it needs are already trained. They ship trained with the lab
(`resnet_viz.assets`), so this is needed only for presets whose settings were changed. `prepare(presets,
store)` computes each preset's report with the store as the trainer (`slides.sections(...,
trainer=store.trainer())`): every net of every study is trained once and kept on disk, where
the app's server (same folder) finds it. `python -m resnet_viz prepare` does it from the
command line; the home page has the same action.
"""

from __future__ import annotations

import os
import time

from .assets import is_shipped, load_shipped
from .jobs import JobGate
from .presets import PRESETS, Preset, preset_pair
from .progress import Progress, Steps
from .results import ResultStore, shipped_dir, shipped_resolver
from .shipping import shipped_configs
from .slides import sections
from .store import RunStore, StoreWriteError, default_folder


def preset_cost(preset: Preset) -> float:
    """Training work of a preset in blocks × epochs, for progress and time estimates: its pair where its view
    shows it (and it is not the default pair, which every server has), and the nets its view's study trains
    (`registry.View.nets`: degradation depths × seeds, identity variants × seeds). At least 1."""

    view = preset.view_record
    if view.inputs == "none":
        return 1.0
    net, cfg = preset_pair(preset)
    cost = 2 * net.depth * cfg.epochs if view.pair_shown and (preset.net or preset.train) else 0.0
    if view.nets is not None:
        cost += sum(n.depth * c.epochs for n, c in view.nets(net, cfg, preset.settings))
    return max(cost, 1.0)


def expected_seconds(runs, presets=PRESETS) -> float | None:
    """Expected time of `prepare(presets)` on this machine: the presets' block-epochs (`preset_cost`) at the
    fastest pace among the trained residual `runs` given (seconds per block-epoch of their recorded
    training time); None when there is no such run to measure from. A lower bound on a busy server."""
    paces = [r.history.seconds / (r.net.depth * r.train.epochs) for r in runs
             if r is not None and r.net.skip and r.history.seconds > 0]
    return sum(preset_cost(p) for p in presets) * min(paces) if paces else None


def prepare(presets=PRESETS, store=None, progress: Progress | None = None, results=None) -> dict[str, float]:
    """Compute every preset in `presets` with `store` (a RunStore, by default one on the server's
    folder, `store.default_folder()`) training its nets, and keep each preset's result in `results` (a
    `results.ResultStore`, by default `results` in the run store's folder, with the shipped results: a preset
    whose result ships costs nothing); returns seconds per preset. Progress messages say which preset and the
    time left, estimated from the work done so far."""

    # The shipped runs are loaded, not trained again: only what a lab lacks (changed settings) is trained.
    store = store if store is not None else RunStore(folder=default_folder(), fallback=load_shipped,
                                                     gate=JobGate(os.cpu_count() or 1))
    # Every missing net starts at once, side by side (RunStore.prefetch: on a Dask cluster's workers, or in-process
    # through the store's job gate, a core each); the presets then find them trained or training.
    groups = shipped_configs()
    started = store.prefetch([(n, c) for p in presets for n, c in groups.get(f"preset {p.slug}", [])
                              if not is_shipped(n, c)])
    total = sum(preset_cost(p) for p in presets)
    steps = Steps(progress, total)
    start, done, out, asked = time.perf_counter(), 0.0, {}, []
    train = store.trainer()
    # Each preset's result is kept beside the runs (read by the server's pages, the reports and the command line).
    results = results if results is not None else ResultStore(os.path.join(store.folder, "results") if store.folder
                                                              else None, shipped_dir())
    resolve = shipped_resolver(store)

    def trainer(net, cfg, progress=None):
        asked.append((net, cfg))
        return train(net, cfg, progress)

    for p in presets:
        cost = preset_cost(p)
        elapsed = time.perf_counter() - start
        left = f", about {elapsed / done * (total - done) / 60:.0f} min left" if done else ""
        t0 = time.perf_counter()
        sections(p, steps.part(cost, f"{p.title}{left}"), trainer=trainer, results=results, resolve=resolve)
        out[p.slug] = time.perf_counter() - t0
        done += cost
    del started  # every preset is computed: the prefetched trainings are no longer wanted
    check_saved(store, asked)
    steps.finish()
    return out


def check_saved(store, pairs) -> None:
    """StoreWriteError (an OSError, one clear message) unless every net of `pairs` that `store` trained or read from
    its folder is there now, read back (`RunStore.unsaved`): a prepared lecture must not lose its nets."""

    missing = store.unsaved(pairs)
    if missing:
        why = (f" ({store.last_write_error})" if store.last_write_error else
               f" (removed since: the store keeps at most {store.max_disk_runs} runs)")
        raise StoreWriteError(f"{len(missing)} of the presets' nets are not saved in the run store {store.folder}"
                              f"{why}; the lecture would train them again")
