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

from ui import warmup
from ui.common import _computed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("one_thread")]


def kept() -> dict[str, set]:
    return {namespace: set(space) for namespace, space in _computed()._spaces.items()}


def test_every_default_page_finds_its_result_kept_by_the_warm_up(seeded_store):
    names = []
    for name, compute in warmup.default_views():
        compute()
        names.append(name)
    before = kept()
    assert set(before) == set(names) and all(len(keys) == 1 for keys in before.values())
    for name in names:
        at = AppTest.from_file(os.path.join(ROOT, "pages", f"{name}.py"), default_timeout=300).run()
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
