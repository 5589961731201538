"""ui.common.cached_compute: the pages' one way to keep a result for every session and draw progress
while computing it (outside any st.cache_data function, so nothing drawn is recorded for replay)."""

from __future__ import annotations

import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.cache import SingleFlight
from ui.common import _computed, cached_compute, clear_computed


@pytest.fixture(autouse=True)
def fresh():
    clear_computed()
    yield
    clear_computed()


def _page():
    import streamlit as st

    from ui.common import cached_compute

    calls = st.session_state.setdefault("calls", [])

    def compute(progress):
        calls.append(1)
        progress(0.5, "half way")
        return {"answer": 42}

    result = cached_compute("test-page", "key", compute, "Computing")
    st.write(f"answer {result['answer']}")


def test_a_miss_computes_with_a_progress_bar_and_a_hit_draws_nothing():
    at = AppTest.from_function(_page, default_timeout=30).run()
    assert not at.exception, at.exception
    assert at.session_state["calls"] == [1]
    assert at.markdown[0].value == "answer 42"
    assert not at.get("progress")  # the bar is removed once the result is there
    other = AppTest.from_function(_page, default_timeout=30).run()  # another session
    assert not other.exception and other.session_state["calls"] == []  # kept for every session
    assert other.markdown[0].value == "answer 42"


def test_errors_are_raised_and_not_kept():
    def boom(progress):
        raise ValueError("bad settings")

    with pytest.raises(ValueError):
        cached_compute("test-errors", 1, boom)
    assert cached_compute("test-errors", 1, lambda progress: "fine") == "fine"


def test_each_namespace_keeps_its_last_entries():
    for key in "abc":
        assert cached_compute("ns", key, lambda progress, k=key: k.upper(), max_entries=2) == key.upper()
    cached_compute("other", "a", lambda progress: "kept", max_entries=2)
    space = _computed().space("ns", 2)
    assert space.get("a") == (False, None)  # least recently used: dropped
    assert space.get("c") == (True, "C") and _computed().space("other", 2).get("a") == (True, "kept")
    space.get("b")  # b used last: c goes next
    cached_compute("ns", "d", lambda progress: "D", max_entries=2)
    assert space.get("c") == (False, None) and space.get("b") == (True, "B")


def test_single_flight_bounds_bytes_and_keeps_the_newest():
    flight = SingleFlight(max_entries=10, max_bytes=10, size=len)
    flight.put("a", "xxxx")
    flight.put("b", "yyyy")
    assert flight.keys() == ["a", "b"] and flight.bytes == 8
    flight.put("c", "zzzz")  # 12 bytes: the least recently used goes
    assert flight.keys() == ["b", "c"] and flight.bytes == 8
    flight.put("big", "w" * 20)  # alone over the bound, the newest is still kept
    assert flight.keys() == ["big"] and flight.get("big") == (True, "w" * 20)


def test_two_callers_asking_the_same_key_compute_it_once():
    calls, results = [], []
    started = threading.Event()

    def slow(progress):
        calls.append(threading.get_ident())
        started.set()
        time.sleep(0.5)
        return object()

    def ask():
        results.append(cached_compute("test-lock", "same", slow))

    first = threading.Thread(target=ask)
    first.start()
    started.wait(5)
    second = threading.Thread(target=ask)  # arrives while the first is computing
    second.start()
    first.join(10)
    second.join(10)
    assert len(calls) == 1
    assert len(results) == 2 and results[0] is results[1]
    assert not _computed().space("test-lock", 16)._busy  # the key's lock is dropped by the last caller out


def test_a_waiter_takes_over_when_the_computing_session_stops():
    # Issue 16: the first caller's session goes away mid-computation (its progress call raises in the
    # app); the caller waiting for the same key computes it itself, and the result is kept once.
    calls, results = [], []
    started, leave = threading.Event(), threading.Event()

    class Closed(Exception):
        pass

    def compute(progress):
        calls.append(1)
        progress(0.3, "a third")
        if len(calls) == 1:  # the first session: leaves when told
            started.set()
            assert leave.wait(10)
            raise Closed
        return "done"

    def ask():
        try:
            results.append(cached_compute("test-takeover", "k", compute))
        except Closed:
            results.append("closed")

    first = threading.Thread(target=ask)
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=ask)
    second.start()
    for _ in range(100):  # the second caller is waiting on the key, seeing the first one's progress
        if _computed().space("test-takeover", 16)._busy["k"].users == 2:
            break
        time.sleep(0.05)
    assert _computed().space("test-takeover", 16)._busy["k"].state == (0.3, "a third")
    leave.set()
    first.join(10)
    second.join(10)
    assert results == ["closed", "done"] and len(calls) == 2
    assert cached_compute("test-takeover", "k", compute) == "done" and len(calls) == 2
    assert not _computed().space("test-takeover", 16)._busy
