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
