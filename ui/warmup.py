"""The server's warm-up (issue 14, "instant first figures"): run once when the server starts (app.py).

Before any student opens a page, `start()` imports the lab (torch, the views, plotly: seconds that
every first page would otherwise pay), creates the run store (which loads the default pair's
shipped runs) and loads the default dataset. Then, in one background thread, it computes every
view's default result for the default pair through `ui.results`, so that the first figures of
Loss landscape, Shattered gradients, Unrolled ensemble, Feature maps and ResNet family are
already kept when a page asks for them. The thread holds one job slot at a time like any job
(ui.common.job_gate), so students' own work still runs beside it. RESNET_VIZ_WARM=0 skips the
background part (tests).
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
    """Import the lab, create the run store and start computing the default views in the background
    (unless $RESNET_VIZ_WARM is 0). Returns the background thread, or None. Runs once per process;
    a failure is one line in the log, never a server that does not start (the pages then do the work)."""
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
    thread = threading.Thread(target=_default_views, name="resnet-viz-warm-views", daemon=True)
    thread.start()
    return thread


def default_views() -> list[tuple[str, object]]:
    """(name, compute) for every view's default result of the default pair, in the order the
    warm-up computes them; each `compute()` goes through `ui.results`, as the pages do."""
    from resnet_viz import ensemble as E
    from resnet_viz import family as F
    from resnet_viz import features as FT
    from resnet_viz import landscape as L
    from resnet_viz import shattering as SH
    from resnet_viz.data import load_dataset

    from . import common, results

    pair = common.default_pair()
    plain, residual = (common.ensure_run(net, train) for net, train in pair.configs)
    runs = {"plain": plain, "residual": residual}
    data = load_dataset(pair.train.dataset, pair.train.data_root, pair.train.data_limit)
    x = data.x_test[0].numpy()  # the features page's first input: test image no. 1, no filter
    n_blocks, conv = len(residual.model.blocks), residual.net.arch == "cnn"
    features = FT.FeatureSettings(target=None, cam_block=n_blocks if conv else None, steps=FT.DEFAULT_IG_STEPS,
                                  over=FT.OVER[0], block=1)
    return [
        ("shattering", lambda: results.shattering(SH.ShatteringSettings())),
        ("ensemble", lambda: results.ensemble(plain, residual, E.EnsembleSettings())),
        ("features", lambda: results.features(runs, x, results.input_key(x), features, data)),
        ("landscape", lambda: results.landscape(runs, L.LandscapeSettings())),
        ("family", lambda: results.family(F.FamilySettings())),
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
