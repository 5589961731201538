"""The run store's bookkeeping: one training per key, and per-key locks that do not pile up."""

from __future__ import annotations

import threading
import types

import pytest

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

    def train(net, cfg, progress=None):
        calls.append(net)
        return _stub(net, cfg)

    monkeypatch.setattr(store_mod, "train", train)
    return calls


def test_many_configs_leave_no_key_locks_behind(fake_train):
    store = RunStore(max_runs=4)
    net, cfg = net_config_for("digits"), TrainConfig()
    for seed in range(200):
        store.get_or_train(net.replace(seed=seed), cfg)
    assert len(fake_train) == 200 and len(store.keys()) == 4
    assert store._key_locks == {}  # was one lock per config ever asked for


def test_concurrent_callers_share_one_training_and_the_last_one_out_drops_the_lock(monkeypatch):
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_train(net, cfg, progress=None):
        calls.append(net)
        started.set()
        assert release.wait(30)
        return _stub(net, cfg)

    monkeypatch.setattr(store_mod, "train", slow_train)
    store = RunStore()
    net, cfg = net_config_for("digits"), TrainConfig()
    key = run_key(net, cfg)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.get_or_train(net, cfg))) for _ in range(5)]
    for t in threads:
        t.start()
    assert started.wait(30)
    assert store.training(key) and list(store._key_locks) == [key]
    release.set()
    for t in threads:
        t.join(30)
    assert len(calls) == 1 and len({id(run) for _, run in results}) == 1 and len(results) == 5
    assert not store.training(key) and store._key_locks == {}


def test_a_failed_training_drops_its_lock_and_the_next_caller_trains_again(monkeypatch):
    calls = []

    def failing_train(net, cfg, progress=None):
        calls.append(net)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return _stub(net, cfg)

    monkeypatch.setattr(store_mod, "train", failing_train)
    store = RunStore()
    net, cfg = net_config_for("digits"), TrainConfig()
    with pytest.raises(RuntimeError):
        store.get_or_train(net, cfg)
    assert store._key_locks == {}
    key, run = store.get_or_train(net, cfg)
    assert len(calls) == 2 and store.get(key) is run and store._key_locks == {}


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
