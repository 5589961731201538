"""The server's bounded job queue (resnet_viz.jobs)."""

from __future__ import annotations

import threading
import time

import pytest

from resnet_viz.jobs import JobGate, server_policy


def test_at_most_slots_jobs_run_at_once_and_the_rest_wait_in_order():
    gate = JobGate(2)
    running, most, order, places = [0], [0], [], {}
    lock = threading.Lock()
    release = threading.Event()

    def job(i):
        with gate.slot(on_wait=lambda p: places.setdefault(i, []).append(p)):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
                order.append(i)
            release.wait(10)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(5):
        t = threading.Thread(target=job, args=(i,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while gate.running + gate.waiting < i + 1 and time.monotonic() < deadline:  # arrive in this order
            time.sleep(0.01)
    assert gate.running == 2 and gate.waiting == 3
    release.set()
    for t in threads:
        t.join(10)
    assert most[0] == 2 and order[:2] == [0, 1] and sorted(order) == list(range(5))
    assert order[2:] == [2, 3, 4]  # first come, first served
    assert places[2][0] == 1 and places[4][0] == 3  # each waiting job was told its place
    assert gate.running == gate.waiting == 0


def test_a_failing_job_frees_its_slot():
    gate = JobGate(1)
    with pytest.raises(RuntimeError):
        with gate.slot():
            raise RuntimeError("boom")
    with gate.slot():
        assert gate.running == 1
    assert gate.running == 0


def test_server_policy_one_thread_a_job_and_slots_from_the_environment(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("RESNET_VIZ_MAX_JOBS", "3")
        monkeypatch.delenv("RESNET_VIZ_TORCH_THREADS", raising=False)
        assert server_policy() == 3 and torch.get_num_threads() == 1
        monkeypatch.setenv("RESNET_VIZ_MAX_JOBS", "x")
        assert server_policy() >= 1
    finally:
        torch.set_num_threads(before)


def test_a_waiting_job_whose_session_moved_on_leaves_the_queue_while_its_place_is_unchanged():
    # One queued job a session: when a session reruns, Streamlit stops its script at its next drawing
    # call; the waiting job's on_wait draws, and is called every poll even when its place stays 1st.
    gate = JobGate(1)
    hold, rerun = threading.Event(), threading.Event()
    calls = []

    class Stopped(Exception):
        pass

    def waiting(place):
        calls.append(place)
        if rerun.is_set():
            raise Stopped

    def first():
        with gate.slot():
            hold.wait(10)

    def second():
        with pytest.raises(Stopped):
            with gate.slot(on_wait=waiting, poll_s=0.05):
                pytest.fail("ran although its session had moved on")

    a = threading.Thread(target=first)
    a.start()
    while gate.running == 0:
        time.sleep(0.01)
    b = threading.Thread(target=second)
    b.start()
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:  # told its place again and again, though unchanged
        time.sleep(0.01)
    assert calls[:3] == [1, 1, 1]
    rerun.set()
    b.join(10)
    assert not b.is_alive() and gate.waiting == 0 and gate.running == 1  # left the queue; the first job runs on
    hold.set()
    a.join(10)
    assert gate.running == 0
