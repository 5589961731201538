"""The deep-link guard (ui/legacy_guard.py) writes a private Streamlit flag, for want of a public
switch: these tests fail when the pinned Streamlit renames it or stops reading it, and check that
the guard does nothing (and raises nothing) where the flag or its module is missing."""

from __future__ import annotations

import inspect
import sys

import pytest
import streamlit as st

from ui import legacy_guard


def test_the_flag_the_guard_writes_is_the_one_streamlit_uses():
    from streamlit.commands import navigation
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import script_runner

    assert hasattr(PagesManager, legacy_guard.FLAG)
    # st.navigation leaves the legacy mode by writing the same flag, and the script runner reads it.
    assert f"PagesManager.{legacy_guard.FLAG} = False" in inspect.getsource(navigation.navigation)
    assert f"if PagesManager.{legacy_guard.FLAG}:" in inspect.getsource(script_runner)


@pytest.fixture
def flag():
    from streamlit.runtime.pages_manager import PagesManager

    before = getattr(PagesManager, legacy_guard.FLAG)
    yield PagesManager
    setattr(PagesManager, legacy_guard.FLAG, before)


def test_the_guard_leaves_legacy_mode_in_a_running_app(flag, monkeypatch):
    monkeypatch.setattr(st.runtime, "exists", lambda: True)
    monkeypatch.setattr(st, "rerun", lambda: None)  # no script run here to restart
    setattr(flag, legacy_guard.FLAG, True)
    legacy_guard.leave_legacy_pages_mode()
    assert getattr(flag, legacy_guard.FLAG) is False


def test_the_guard_does_nothing_outside_a_running_app(flag):
    setattr(flag, legacy_guard.FLAG, True)
    legacy_guard.leave_legacy_pages_mode()  # no Streamlit runtime in a test: nothing to rerun
    assert getattr(flag, legacy_guard.FLAG) is True


def test_the_guard_is_a_no_op_without_the_flag(flag, monkeypatch):
    monkeypatch.setattr(st.runtime, "exists", lambda: True)
    monkeypatch.setattr(st, "rerun", lambda: pytest.fail("reran without leaving legacy mode"))
    monkeypatch.delattr(flag, legacy_guard.FLAG)
    legacy_guard.leave_legacy_pages_mode()  # a Streamlit that renamed it: no error, nothing written
    assert not hasattr(flag, legacy_guard.FLAG)


def test_the_guard_is_a_no_op_without_the_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "streamlit.runtime.pages_manager", None)  # the import fails
    monkeypatch.setattr(st.runtime, "exists", lambda: True)
    monkeypatch.setattr(st, "rerun", lambda: pytest.fail("reran without leaving legacy mode"))
    legacy_guard.leave_legacy_pages_mode()


def test_at_server_start_the_legacy_mode_is_off_before_any_session(flag):
    # The warm-up (app.py) imports ui.common, and so this module, before any session: the import-time
    # guard then finds nothing to do, so the warm-up turns the mode off itself.
    setattr(flag, legacy_guard.FLAG, None)  # a fresh server: no PagesManager has decided yet
    legacy_guard.leave_at_server_start()
    assert getattr(flag, legacy_guard.FLAG) is False
