"""The server's warm-up (issue 14, "instant first figures"): run once when the server starts (app.py).

Before any student opens a page, `start()` imports the lab (torch, the views, plotly: seconds that
every first page would otherwise pay), creates the run store (which loads the default pair's
shipped runs), loads the default dataset and computes the views marked `early` in the registry
(pure-Python work that, computed later, would compete with the first students' pages). Then, in one
background thread, it computes every other `warm` view's default result for the default pair
through `ui.results`, quickest first, so that each page's first figures are already kept when a page
asks for them. The thread holds one job slot at a time like any job (ui.common.job_gate), so
students' own work still runs beside it. RESNET_VIZ_WARM=0 skips the early views and the background
part (tests).
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from contextlib import contextmanager

from resnet_viz.data import load_dataset
from resnet_viz.models import estimate_size
from resnet_viz.registry import VIEWS

from . import common, legacy_guard, results

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

    legacy_guard.leave_at_server_start()
    if common.server_config().dask:  # connect now (or say once that it cannot), not in the first student's page
        _say(common.cluster_line())
    common.run_store()
    pair = common.default_pair()
    load_dataset(pair.train.dataset, pair.train.data_root, pair.train.data_limit)
    # PyTorch's first forward pass on the meta device imports its symbolic-shape machinery (1-2 s):
    # done here once, not in the first Build & train (architecture diagram) or memory check.
    estimate_size(pair.net, 1)
    _say(f"lab imported, default runs and data loaded in {time.perf_counter() - t0:.1f} s")
    if not common.server_config().warm:
        _freeze()
        done.set()
        return None
    # Views whose default is pure-Python work (the ResNet family's count: 2-3 s) before the server answers: computed
    # later, as the first students arrive, it waited behind their jobs and slowed their pages (family p50 10 s, p95
    # 21 s with 30 sessions opened at once: load_test.py --cold).
    for name, compute in default_views(early=True):
        t1 = time.perf_counter()
        try:
            compute()
            _say(f"default {name} view kept in {time.perf_counter() - t1:.1f} s")
        except Exception as e:  # its page computes it itself then; the other views are still warmed up
            _say(f"the default {name} view was not computed ({type(e).__name__}: {e})")
    thread = threading.Thread(target=_default_views, name="resnet-viz-warm-views", daemon=True)
    thread.start()
    return thread


def default_views(early: bool = False) -> list[tuple[str, object]]:
    """(name, compute) for every view's default result (`registry.VIEWS` with `warm`), in the order the warm-up
    computes them: the views of the default pair's nets first, then the others; each `compute()` goes through
    `ui.results.result`, as the pages do, with the settings a page opens with (the view's defaults; the features
    view: test image no. 1). With `early`: only the views computed before the server answers, which need no
    trained net."""

    if early:
        return [(v.slug, lambda v=v: results.result(v, v.settings())) for v in VIEWS if v.early and v.inputs == "none"]
    pair = common.default_pair()
    plain, residual = (common.ensure_run(net, train) for net, train in pair.configs)
    runs = {"plain": plain, "residual": residual}
    data = load_dataset(pair.train.dataset, pair.train.data_root, pair.train.data_limit)
    x = data.x_test[0].numpy()  # the features page's first input: test image no. 1, no filter
    out = []
    for v in sorted((v for v in VIEWS if v.warm), key=lambda v: v.warm_seconds):
        if v.inputs == "pair":
            extra = {"x": x} if v.cli_input is not None else None
            out.append((v.slug, lambda v=v, extra=extra: results.result(
                v, v.settings(), runs=runs, extra=extra, extra_key=results.input_key(x) if extra else "")))
        elif v.inputs == "config":
            out.append((v.slug, lambda v=v: results.result(v, v.settings(), pair=pair)))
        else:
            out.append((v.slug, lambda v=v: results.result(v, v.settings())))
    return out


_pages = threading.Condition()
_running = [0]  # page scripts running now in this server (`page_run`)


@contextmanager
def page_run():
    """Around a page's script run (lab.py): while any page runs, the warm-up waits before its next view
    (`yield_to_pages`), so a student's first page does not share the cores with it."""
    with _pages:
        _running[0] += 1
    try:
        yield
    finally:
        with _pages:
            _running[0] -= 1
            _pages.notify_all()


def yield_to_pages(limit_s: float = 5.0) -> float:
    """Wait until no page script runs, at most `limit_s` seconds (a page that runs long, training a pair, does not
    stop the warm-up for good); returns the seconds waited."""
    t0 = time.perf_counter()
    with _pages:
        _pages.wait_for(lambda: _running[0] == 0, timeout=limit_s)
    return time.perf_counter() - t0


def _default_views() -> None:
    try:
        for name, compute in default_views():
            yield_to_pages()
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
