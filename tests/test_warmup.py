"""The server's warm-up (ui/warmup.py, issue 14): at server start it computes every view's default
result for the default pair, so a page opened afterwards finds its result and computes nothing.

The warm-up keeps what `ui.results` keeps; here each default page then runs (AppTest, the same
process and caches as the warm-up) and must not add a single key: every first figure it draws
came from the warm-up.
"""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.registry import VIEWS, view
from ui import warmup
from ui.common import _computed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("one_thread")]


def kept() -> dict[str, set]:
    return {namespace: set(space.keys()) for namespace, space in _computed().spaces.items()}


def test_every_default_page_finds_its_result_kept_by_the_warm_up(seeded_store):
    names = []
    for name, compute in warmup.default_views():
        compute()
        names.append(name)
    before = kept()
    assert set(before) == set(names) == {v.slug for v in VIEWS if v.warm}
    assert all(len(keys) == 1 for keys in before.values())
    for name in names:
        at = AppTest.from_file(os.path.join(ROOT, view(name).page), default_timeout=300).run()
        assert not at.exception, (name, at.exception)
        assert kept() == before, f"the {name} page computed a result the warm-up did not keep"


def test_a_failing_warm_up_never_stops_the_server(monkeypatch, capsys):
    # app.py's lifespan runs start() before the server answers: an error there must not keep it down.
    monkeypatch.setattr(warmup, "_started", type(warmup._started)())  # a fresh process
    monkeypatch.setattr(warmup, "done", type(warmup.done)())

    def broken():
        raise OSError("assets unreadable")

    monkeypatch.setattr(warmup, "_start", broken)
    assert warmup.start() is None
    assert warmup.done.is_set() and "assets unreadable" in capsys.readouterr().err


def test_the_warm_up_freezes_what_it_made_out_of_garbage_collections(monkeypatch, capsys):
    # A full collection walks every tracked object (the lab's ~600,000): gc.freeze after the warm-up
    # leaves later collections only what was made since. It comes after the last view, before "ready".
    calls = []
    monkeypatch.setattr(warmup.gc, "collect", lambda *a: calls.append("collect"))
    monkeypatch.setattr(warmup.gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(warmup, "done", type(warmup.done)())
    monkeypatch.setattr(warmup, "default_views", lambda: [("a", lambda: calls.append("view a")),
                                                          ("b", lambda: calls.append("view b"))])
    warmup._default_views()
    assert calls == ["view a", "view b", "collect", "freeze"]
    assert warmup.done.is_set() and capsys.readouterr().err.rstrip().endswith("every default view is ready")


def test_streamlit_runs_no_full_collection_after_every_script_run():
    # Streamlit's runner.postScriptGC (on by default) is a full collection after each run of each
    # session's script: 0.2 s of the shared core per page render with the lab in memory. The
    # option is read from .streamlit/config.toml where `streamlit run app.py` starts.
    import subprocess
    import sys

    code = ("from streamlit import config; config.get_config_options(force_reparse=True); "
            "print(config.get_option('runner.postScriptGC'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_an_early_view_that_fails_still_leaves_the_other_views_warmed_up(seeded_store, monkeypatch, capsys):
    from ui import results

    early = [v.slug for v in VIEWS if v.early]
    assert early  # (the ResNet family's count: pure Python, before the server answers)
    real = results.result

    started = []

    class Thread:  # the background views: recorded, not run
        def __init__(self, target, name, daemon):
            self.target = target

        def start(self):
            started.append(self.target)

    def broken(v, settings, **kw):
        if v.early:
            raise OSError("torchvision unreadable")
        return real(v, settings, **kw)

    monkeypatch.setenv("RESNET_VIZ_WARM", "1")
    monkeypatch.setattr(results, "result", broken)
    monkeypatch.setattr(warmup.threading, "Thread", Thread)
    warmup._start()
    assert started == [warmup._default_views]
    err = capsys.readouterr().err
    for slug in early:
        assert f"the default {slug} view was not computed (OSError: torchvision unreadable)" in err


def test_the_warm_up_waits_while_a_page_runs_and_not_for_ever():
    """The warm-up yields to pages students are waiting for (issue 35): before each default view it waits until no
    page script runs (lab.py wraps every run in `page_run`), at most `limit_s`."""
    import threading

    from ui import warmup

    assert warmup.yield_to_pages(limit_s=5) < 0.5  # no page: at once
    entered, leave = threading.Event(), threading.Event()

    def page():
        with warmup.page_run():
            entered.set()
            leave.wait(10)

    t = threading.Thread(target=page)
    t.start()
    entered.wait(10)
    threading.Timer(0.6, leave.set).start()
    waited = warmup.yield_to_pages(limit_s=5)
    assert 0.5 <= waited < 4, waited  # until the page was done
    t.join(10)
    entered.clear()
    leave.clear()
    t = threading.Thread(target=page)
    t.start()
    entered.wait(10)
    waited = warmup.yield_to_pages(limit_s=0.3)  # a long page (training a pair) does not stop the warm-up for good
    assert 0.3 <= waited < 2, waited
    leave.set()
    t.join(10)
