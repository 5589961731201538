"""The run store's bookkeeping: one training per key, and per-key locks that do not pile up."""

from __future__ import annotations

import threading
import types

import pytest

import resnet_viz.executor as executor_mod
import resnet_viz.store as store_mod
from resnet_viz.store import RunStore, run_key
from resnet_viz.train import TrainConfig, net_config_for


def _stub(net, cfg):
    import torch

    return types.SimpleNamespace(net=net, train=cfg, model=torch.nn.Linear(1, 1), trajectory=None)


@pytest.fixture
def fake_train(monkeypatch):
    """Replace training by a stub run (the store reads .net, .train and the sizes of .model and .trajectory)."""
    calls = []

    def train(net, cfg, progress=None, **kw):
        calls.append(net)
        return _stub(net, cfg)

    monkeypatch.setattr(executor_mod, "train", train)
    return calls


def test_many_configs_leave_no_key_locks_behind(fake_train):
    store = RunStore(max_runs=4)
    net, cfg = net_config_for("digits"), TrainConfig()
    for seed in range(200):
        store.get_or_train(net.replace(seed=seed), cfg)
    assert len(fake_train) == 200 and len(store.keys()) == 4
    assert store._cache._busy == {}  # was one lock per config ever asked for


def test_concurrent_callers_share_one_training_and_the_last_one_out_drops_the_lock(monkeypatch):
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_train(net, cfg, progress=None, **kw):
        calls.append(net)
        started.set()
        assert release.wait(30)
        return _stub(net, cfg)

    monkeypatch.setattr(executor_mod, "train", slow_train)
    store = RunStore()
    net, cfg = net_config_for("digits"), TrainConfig()
    key = run_key(net, cfg)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.get_or_train(net, cfg))) for _ in range(5)]
    for t in threads:
        t.start()
    assert started.wait(30)
    assert store.training(key) and list(store._cache._busy) == [key]
    release.set()
    for t in threads:
        t.join(30)
    assert len(calls) == 1 and len({id(run) for _, run in results}) == 1 and len(results) == 5
    assert not store.training(key) and store._cache._busy == {}


def test_a_failed_training_drops_its_lock_and_the_next_caller_trains_again(monkeypatch):
    calls = []

    def failing_train(net, cfg, progress=None, **kw):
        calls.append(net)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return _stub(net, cfg)

    monkeypatch.setattr(executor_mod, "train", failing_train)
    store = RunStore()
    net, cfg = net_config_for("digits"), TrainConfig()
    with pytest.raises(RuntimeError):
        store.get_or_train(net, cfg)
    assert store._cache._busy == {}
    key, run = store.get_or_train(net, cfg)
    assert len(calls) == 2 and store.get(key) is run and store._cache._busy == {}


def test_store_is_bounded_by_bytes_too():
    # Two runs whose weights and snapshots exceed the byte bound: the older one goes, the newest stays.
    from resnet_viz.store import RunStore, run_bytes
    from resnet_viz.train import TrainConfig, net_config_for, train

    runs = [train(net_config_for("digits", arch="mlp", depth=2, width=16, seed=s), TrainConfig(epochs=1, seed=s))
            for s in (0, 1)]
    size = run_bytes(runs[0])
    params = sum(p.numel() for p in runs[0].model.parameters())
    assert size >= 4 * params * (1 + runs[0].trajectory.shape[0])  # weights and every snapshot are counted
    store = RunStore(max_runs=10, max_bytes=int(1.5 * size))
    for r in runs:
        store.put(r)
    from resnet_viz.store import run_key

    assert store.get(run_key(runs[0].net, runs[0].train)) is None
    assert store.get(run_key(runs[1].net, runs[1].train)) is runs[1]
    assert store.bytes == run_bytes(runs[1])


# --- the on-disk store (issue 14: nothing lost on restart) ---------------------------------------


def _tiny():
    from resnet_viz.train import net_config_for

    return net_config_for("digits", arch="mlp", depth=2, width=8), TrainConfig(epochs=1)


def _no_training(monkeypatch):
    monkeypatch.setattr(executor_mod, "train", lambda *a, **k: pytest.fail("trained again"))


def test_a_restarted_server_reuses_the_runs_on_disk(tmp_path, monkeypatch):
    import torch

    net, cfg = _tiny()
    key, first = RunStore(folder=str(tmp_path)).get_or_train(net, cfg)
    assert (tmp_path / key / "weights.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [store_mod.LOCKS]  # no temporary left
    _no_training(monkeypatch)
    _, again = RunStore(folder=str(tmp_path)).get_or_train(net, cfg)  # a new process on the same folder
    assert again is not first and again.net == net and again.train == cfg
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()))
    assert again.history.step_loss == first.history.step_loss


@pytest.mark.parametrize("damage", ["weights", "config", "other-config"])
def test_a_corrupt_or_foreign_entry_is_removed_and_retrained(tmp_path, damage, monkeypatch):
    import json

    net, cfg = _tiny()
    key, _ = RunStore(folder=str(tmp_path)).get_or_train(net, cfg)
    entry = tmp_path / key
    if damage == "weights":
        (entry / "weights.safetensors").write_bytes(b"\x00" * 100)
    elif damage == "config":
        (entry / "config.json").write_text("{not json")
    else:  # a run of another config under this key (e.g. an edited file)
        d = json.loads((entry / "config.json").read_text())
        d["train"]["epochs"] = 2
        (entry / "config.json").write_text(json.dumps(d))
    calls, real = [], executor_mod.train
    monkeypatch.setattr(executor_mod, "train", lambda n, c, progress=None, **kw: calls.append(n) or real(n, c))
    _, run = RunStore(folder=str(tmp_path)).get_or_train(net, cfg)
    assert calls == [net] and run.net == net and run.train == cfg
    assert (entry / "weights.safetensors").is_file()  # saved again, whole


def test_partial_saves_are_never_read_and_stale_ones_are_removed(tmp_path, monkeypatch):
    import os

    net, cfg = _tiny()
    key = run_key(net, cfg)
    partial = tmp_path / f"{store_mod.TMP_PREFIX}{key}-cut"
    partial.mkdir()
    (partial / store_mod.MARKER).write_text("{}")
    (partial / "config.json").write_text("{}")
    old = tmp_path / f"{store_mod.TMP_PREFIX}{'0' * 16}-old"  # the store's own (its naming and marker), stale
    old.mkdir()
    (old / store_mod.MARKER).write_text("{}")
    os.utime(old, (0, 0))
    store = RunStore(folder=str(tmp_path))
    assert not old.exists() and partial.exists()  # a young one may be another process's, still writing
    calls = []
    monkeypatch.setattr(executor_mod, "train", lambda n, c, progress=None, **kw: calls.append(n) or _stub(n, c))
    monkeypatch.setattr(store_mod, "save_run", lambda run, folder: None)
    store.get_or_train(net, cfg)
    assert calls == [net]  # the partial entry was not taken for a run


def test_the_fallback_comes_before_training(monkeypatch):
    net, cfg = _tiny()
    stub = _stub(net, cfg)
    _no_training(monkeypatch)
    store = RunStore(fallback=lambda n, c: stub if (n, c) == (net, cfg) else None)
    assert store.get_or_train(net, cfg)[1] is stub
    assert store.get(run_key(net, cfg)) is stub


def test_trainings_go_through_the_servers_job_gate(monkeypatch):
    # Issue 14: at most `slots` trainings at once; a waiting caller's progress says its place in line.
    from resnet_viz.jobs import JobGate

    running, most, lock = [0], [0], threading.Lock()
    started, release = threading.Event(), threading.Event()

    def slow_train(net, cfg, progress=None, **kw):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        started.set()
        assert release.wait(30)
        with lock:
            running[0] -= 1
        return _stub(net, cfg)

    monkeypatch.setattr(executor_mod, "train", slow_train)
    store = RunStore(gate=JobGate(1))
    net, cfg = net_config_for("digits"), TrainConfig()
    seen = []
    first = threading.Thread(target=store.get_or_train, args=(net, cfg))
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=store.get_or_train, args=(net.replace(seed=1), cfg),
                              kwargs=dict(progress=lambda f, m: seen.append(m)))
    second.start()
    deadline = threading.Event()
    for _ in range(300):
        if seen:
            break
        deadline.wait(0.1)
    release.set()
    first.join(30), second.join(30)
    assert most[0] == 1 and seen and "1 in line" in seen[0]
    assert len(store.keys()) == 2


class _Closed(Exception):
    """What a progress callback raises once its session has gone (Streamlit's StopException in the app)."""


def _tab(closed: threading.Event, seen: list):
    def progress(fraction, message):
        if closed.is_set():
            raise _Closed
        seen.append((fraction, message))
    return progress


def _wait(condition, limit_s=120):
    deadline = threading.Event()
    for _ in range(int(limit_s * 20)):
        if condition():
            return True
        deadline.wait(0.05)
    return False


def test_a_waiter_sees_the_trainers_progress_and_takes_over_when_the_trainer_leaves(one_thread):
    # Issue 16: a session that waits on another's training used to take it over with no progress
    # callback, so nothing could stop it. Real training of a small MLP, long enough not to finish.
    store = RunStore()
    net = net_config_for("digits").replace(arch="mlp", depth=2, width=32)
    cfg = TrainConfig(epochs=400)
    a_closed, b_closed = threading.Event(), threading.Event()
    a_seen, b_seen, results = [], [], []
    a = threading.Thread(target=lambda: results.append(_call(store.get_or_train, net, cfg, _tab(a_closed, a_seen))))
    a.start()
    assert _wait(lambda: len(a_seen) > 3)
    b = threading.Thread(target=lambda: results.append(_call(store.get_or_train, net, cfg, _tab(b_closed, b_seen))))
    b.start()
    assert _wait(lambda: any("another session" in m for _, m in b_seen))  # B waits, shown A's progress
    assert max(f for f, m in b_seen if "another session" in m) > 0
    a_closed.set()  # A's tab closes: A's training stops at its next step, and B trains the run itself
    a.join(60)
    assert not a.is_alive() and results == ["closed"]
    assert _wait(lambda: any("another session" not in m and f > 0 for f, m in b_seen[-3:]))
    b_closed.set()  # now B's tab closes too: nothing goes on training
    b.join(60)
    assert not b.is_alive() and results == ["closed", "closed"]
    assert store.keys() == [] and store._cache._busy == {}


def test_a_waiter_whose_session_leaves_stops_waiting_and_the_trainer_goes_on(one_thread):
    store = RunStore()
    net = net_config_for("digits").replace(arch="mlp", depth=1, width=8)
    cfg = TrainConfig(epochs=2)
    b_closed = threading.Event()
    release = threading.Event()
    a_seen, b_seen, results = [], [], []

    def slow_tab(fraction, message):  # A stays; it holds the training until released
        a_seen.append(fraction)
        release.wait(60)

    a = threading.Thread(target=lambda: results.append(_call(store.get_or_train, net, cfg, slow_tab)))
    a.start()
    assert _wait(lambda: a_seen)
    b = threading.Thread(target=lambda: results.append(_call(store.get_or_train, net, cfg, _tab(b_closed, b_seen))))
    b.start()
    assert _wait(lambda: b_seen)
    b_closed.set()
    b.join(60)  # B leaves while A still trains
    assert not b.is_alive() and results == ["closed"]
    release.set()
    a.join(120)
    assert results == ["closed", "run"] and len(store.keys()) == 1 and store._cache._busy == {}


def _call(get_or_train, net, cfg, progress) -> str:
    try:
        get_or_train(net, cfg, progress=progress)
    except _Closed:
        return "closed"
    return "run"
