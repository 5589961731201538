"""The server's warm-up (issue 14, "instant first figures"): run once when the server starts (app.py).

Before any student opens a page, `start()` imports the lab (torch, the views, plotly: seconds that
every first page would otherwise pay), creates the run store (which loads the default pair's
shipped runs), loads the default dataset and counts the ResNet family's default table (pure
Python: computed later it would compete with the first students' pages). Then, in one background
thread, it computes every other view's default result for the default pair through `ui.results`,
so that the first figures of Loss landscape, Shattered gradients, Unrolled ensemble and Feature
maps are already kept when a page asks for them. The thread holds one job slot at a time like any job
(ui.common.job_gate), so students' own work still runs beside it. RESNET_VIZ_WARM=0 skips the
family's table and the background part (tests).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time

_started = threading.Event()
done = threading.Event()  # set when every default view is kept (or the warm-up gave up)


def start() -> threading.Thread | None:
    """Import the lab, create the run store, count the family's table and start computing the default
    views in the background (unless $RESNET_VIZ_WARM is 0: then neither). Returns the background
    thread, or None. Runs once per process; a failure is one line in the log, never a server that
    does not start (the pages then do the work)."""
    if _started.is_set():
        return None
    _started.set()
    try:
        return _start()
    except Exception as e:
        _say(f"skipped ({type(e).__name__}: {e}); the pages will load and compute what they need")
        done.set()
        return None


def _start() -> threading.Thread | None:
    t0 = time.perf_counter()
    import plotly.graph_objects  # noqa: F401  (imported here once, not in the first session's run)

    from resnet_viz.data import load_dataset
    from resnet_viz.family import FamilySettings
    from resnet_viz.models import estimate_size

    from . import common, legacy_guard, results  # noqa: F401

    legacy_guard.leave_at_server_start()
    common.run_store()
    pair = common.default_pair()
    load_dataset(pair.train.dataset, pair.train.data_root, pair.train.data_limit)
    # PyTorch's first forward pass on the meta device imports its symbolic-shape machinery (1-2 s):
    # done here once, not in the first Build & train (architecture diagram) or memory check.
    estimate_size(pair.net, 1)
    _say(f"lab imported, default runs and data loaded in {time.perf_counter() - t0:.1f} s")
    if os.environ.get("RESNET_VIZ_WARM", "1") == "0":
        _freeze()
        done.set()
        return None
    # The family's default table before the server answers (2-3 s): its count is pure Python, and computed
    # later, as the first students arrive, it waited behind their jobs and slowed their pages
    # (family p50 10 s, p95 21 s with 30 sessions opened at once: load_test.py --cold).
    t1 = time.perf_counter()
    try:
        results.family(FamilySettings())
        _say(f"default family view kept in {time.perf_counter() - t1:.1f} s")
    except Exception as e:  # the family page counts it itself then; the other views are still warmed up
        _say(f"the family's table was not counted ({type(e).__name__}: {e})")
    thread = threading.Thread(target=_default_views, name="resnet-viz-warm-views", daemon=True)
    thread.start()
    return thread


def default_views() -> list[tuple[str, object]]:
    """(name, compute) for every view's default result of the default pair, in the order the
    warm-up computes them; each `compute()` goes through `ui.results`, as the pages do."""
    from resnet_viz import ensemble as E
    from resnet_viz import family as F
    from resnet_viz import features as FT
    from resnet_viz import identity as I
    from resnet_viz import landscape as L
    from resnet_viz import shattering as SH
    from resnet_viz.data import load_dataset
    from resnet_viz.degradation import DegradationSettings

    from . import common, results

    pair = common.default_pair()
    plain, residual = (common.ensure_run(net, train) for net, train in pair.configs)
    runs = {"plain": plain, "residual": residual}
    data = load_dataset(pair.train.dataset, pair.train.data_root, pair.train.data_limit)
    x = data.x_test[0].numpy()  # the features page's first input: test image no. 1, no filter
    n_blocks, conv = len(residual.model.blocks), residual.net.arch == "cnn"
    features = FT.FeatureSettings(target=None, cam_block=n_blocks if conv else None, steps=FT.DEFAULT_IG_STEPS,
                                  over=FT.OVER[0], block=1)
    # Shortest first (seconds on two quiet cores), so students who open a page before the warm-up is done
    # wait least in all. The family's table is computed before the server answers (`_start`).
    return [
        ("features", lambda: results.features(runs, x, results.input_key(x), features, data)),  # 1.2
        # The degradation and identity studies' nets ship trained: collecting them is quick.
        ("degradation", lambda: results.degradation(pair, DegradationSettings())),
        ("identity", lambda: results.identity(pair, I.IdentitySettings())),
        ("shattering", lambda: results.shattering(SH.ShatteringSettings())),  # 2.0
        ("ensemble", lambda: results.ensemble(plain, residual, E.EnsembleSettings())),  # 3.2
        ("landscape", lambda: results.landscape(runs, L.LandscapeSettings())),  # 7.5
        ("family", lambda: results.family(F.FamilySettings())),  # 2.4 (kept already, unless RESNET_VIZ_WARM=0)
    ]


def _default_views() -> None:
    try:
        for name, compute in default_views():
            t0 = time.perf_counter()
            compute()
            _say(f"default {name} view kept in {time.perf_counter() - t0:.1f} s")
        _freeze()
        _say("every default view is ready")
    except Exception as e:  # a warm-up that fails leaves the pages to compute their results themselves
        _say(f"the default views were not computed ({type(e).__name__}: {e}); the pages will compute them")
    finally:
        done.set()


def _freeze() -> None:
    """Move what the warm-up made (the modules, default runs, data and results: about 600,000 objects,
    kept as long as the server runs) out of Python's cyclic garbage collections (`gc.freeze`).
    A full collection walks every tracked object: 0.2 s of the one core that every session's
    Python code shares, each time; now it walks only what was made since. (Streamlit's own full
    collection after every script run is off: runner.postScriptGC in .streamlit/config.toml.)"""
    gc.collect()
    gc.freeze()


def _say(message: str) -> None:
    # One line in the server's log (stderr), as Streamlit's own start-up lines.
    print(f"ResNet Lab warm-up: {message}", file=sys.stderr, flush=True)
