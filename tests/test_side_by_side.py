"""A study's nets train side by side (issue 35, item 1): `RunStore.prefetch` starts them in threads of their own
through the job gate, a study that holds a slot gives it back while it waits (`JobGate.lent`), and every run equals
the one trained alone, bit for bit (one PyTorch thread a job)."""

from __future__ import annotations

import threading
import time

import pytest

import resnet_viz.executor as executor_mod
from resnet_viz.jobs import JobGate
from resnet_viz.registry import Inputs, view
from resnet_viz.results import weights_digest
from resnet_viz.store import RunStore
from resnet_viz.train import TrainConfig, net_config_for, train
from resnet_viz.views.degradation import DegradationSettings

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_lent_slot_lets_another_job_run_and_comes_back_first():
    gate = JobGate(1)
    order = []
    with gate.slot():
        assert gate.holds() and gate.running == 1
        with gate.slot():  # the same thread: the same slot
            assert gate.running == 1
        other = threading.Thread(target=lambda: gate.slot().__enter__() and None)

        def job(name):
            with gate.slot():
                order.append(name)
                time.sleep(0.05)

        with gate.lent():
            assert not gate.holds() and gate.running == 0
            t = threading.Thread(target=job, args=("other",))
            t.start()
            deadline = time.monotonic() + 10
            while not order and time.monotonic() < deadline:
                time.sleep(0.01)
            assert order == ["other"]  # it ran while the slot was lent
            late = threading.Thread(target=job, args=("late",))
            late.start()
            while gate.waiting < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        # back first in line, ahead of "late"
        assert gate.holds() and order == ["other"]
        del other
    t.join(10)
    late.join(10)
    assert order == ["other", "late"] and gate.running == 0


def test_a_lent_slot_not_taken_back_is_not_given_back_twice():
    gate = JobGate(1)
    with pytest.raises(RuntimeError):
        with gate.slot():
            blocker = threading.Event()
            held = threading.Event()

            def hold():
                with gate.slot():
                    held.set()
                    blocker.wait(10)

            t = threading.Thread(target=hold)
            with gate.lent(on_wait=lambda place: (_ for _ in ()).throw(RuntimeError("session gone"))):
                t.start()
                held.wait(10)
    blocker.set()
    t.join(10)
    assert gate.running == 0 and gate.waiting == 0


def _tiny_study():
    """A degradation study of four small MLPs on a small digits split (a second or two each on one core)."""
    net = net_config_for("digits", arch="mlp", depth=2, width=16)
    cfg = TrainConfig(epochs=2, batch_size=64, data_limit=600, seed=0)
    return net, cfg, DegradationSettings(depths=(1, 2), seeds=1, width=16, epochs=2)


def _timed(monkeypatch):
    spans, lock = [], threading.Lock()
    real = executor_mod.train

    def timed(net, cfg, **kw):
        t0 = time.perf_counter()
        run = real(net, cfg, **kw)
        with lock:
            spans.append((t0, time.perf_counter(), net.name, net.skip))
        return run

    monkeypatch.setattr(executor_mod, "train", timed)
    return spans


def _overlap(spans) -> float:
    """Seconds during which at least two trainings ran at once."""
    events = sorted([(a, 1) for a, *_ in spans] + [(b, -1) for _, b, *_ in spans])
    running, last, total = 0, None, 0.0
    for t, d in events:
        if running >= 2:
            total += t - last
        running, last = running + d, t
    return total


@pytest.mark.parametrize("holding", [False, True], ids=["command-line", "server-study-holding-a-slot"])
def test_a_studys_nets_train_side_by_side_and_equal_those_trained_alone(monkeypatch, holding):
    """Through a store with two slots the study's nets train at once (the study asks for them one after another);
    in the server the study itself holds a slot of the same gate while it runs (ui.common.cached_compute) and lends
    it while it waits. Each run equals the one trained alone, bit for bit."""
    net, cfg, settings = _tiny_study()
    v = view("build_train")
    spans = _timed(monkeypatch)
    gate = JobGate(2)
    store = RunStore(gate=gate)
    inputs = Inputs(net=net, train=cfg, trainer=store.trainer())
    if holding:
        with gate.slot():
            result = v.compute(settings, inputs)
    else:
        result = v.compute(settings, inputs)
    nets = v.nets(net, cfg, settings)
    assert len(spans) == len(nets) == 4
    total = sum(b - a for a, b, *_ in spans)
    assert _overlap(spans) > 0.3 * total, spans  # about half the work ran beside other work
    assert gate.running == (0 if not holding else 0) and gate.waiting == 0
    monkeypatch.undo()
    for n, c in nets[:2]:  # trained alone, one after the other: the same weights
        alone = train(n, c)
        kept = store.get_or_train(n, c)[1]
        assert weights_digest(alone) == weights_digest(kept)
    assert len(result.runs) == 4


def test_trainings_started_ahead_stop_when_the_study_is_gone(monkeypatch):
    net, cfg, settings = _tiny_study()
    v = view("build_train")
    gate = JobGate(2)
    store = RunStore(gate=gate)
    steps = []
    real = executor_mod.train

    def slow(net, cfg, progress=None, **kw):
        def report(f, m=""):
            steps.append(net.name)
            time.sleep(0.02)
            if progress is not None:
                progress(f, m)
        return real(net, cfg, progress=report, **kw)

    monkeypatch.setattr(executor_mod, "train", slow)
    ahead = store.prefetch(v.nets(net, cfg, settings))
    deadline = time.monotonic() + 30
    while len(steps) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    ahead.close()
    for t in ahead.threads:
        t.join(30)
    assert not any(t.is_alive() for t in ahead.threads)
    assert len(store.keys()) < 4  # stopped before all were trained
    assert gate.running == 0 and gate.waiting == 0
