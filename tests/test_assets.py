"""The shipped runs (resnet_viz/shipped/runs, package data: issues 14, 24 and 34): every net of the default pair,
of the default studies and of every preset ships, loads, matches its config exactly and reaches its recorded
accuracy; a fresh training on this machine reproduces them; a missing, corrupt or stale one is trained instead,
without crashing."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from resnet_viz import assets, shipping
from resnet_viz.data import load_dataset
from resnet_viz.store import RunStore, run_key
from resnet_viz.train import TrainConfig, evaluate, net_config_for, save_run, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fresh_store(monkeypatch):
    """ui.common.run_store() built anew (as on a fresh server, no background training); cleared after."""
    import streamlit as st

    from ui.common import run_store

    monkeypatch.setenv("RESNET_VIZ_WARM", "0")
    run_store.clear()
    st.cache_data.clear()
    yield run_store
    run_store.clear()
    st.cache_data.clear()


def test_shipped_runs_match_the_default_pair_and_reach_their_accuracy(monkeypatch):
    from ui.common import default_pair

    monkeypatch.delenv("RESNET_VIZ_SHIPPED_RUNS", raising=False)
    pairs = list(default_pair().configs)
    assert [(n.to_json(), c.to_json()) for n, c in pairs] == \
        [(n.to_json(), c.to_json()) for n, c in assets.default_pair_configs()]
    runs = assets.load_shipped_pairs(pairs)
    assert len(runs) == 2, "the shipped runs lack the default pair or it is stale: run python -m resnet_viz.shipping"
    data = load_dataset("digits")
    for run, (net, cfg) in zip(runs, pairs):
        assert run.net.to_json() == net.to_json() and run.train.to_json() == cfg.to_json()
        loss, acc = evaluate(run.model, data.x_test, data.y_test)
        assert acc == pytest.approx(run.history.test_accuracy, abs=1e-9)
        assert loss == pytest.approx(run.history.epoch_test_loss[-1], rel=1e-5)
        assert acc > 0.95 if net.skip else acc > 0.8
        assert run.failure is None
        assert len(run.history.epoch_test_accuracy) == cfg.epochs + 1
        # The path view: one row per kept checkpoint, the last one the final weights.
        assert run.trajectory is not None and run.trajectory.shape[0] == len(run.history.checkpoint_steps) >= 3
        final = torch.cat([p.detach().reshape(-1) for p in run.model.parameters()])
        assert torch.equal(run.trajectory[-1], final)
        assert run.history.checkpoint_steps[0] == 0 and run.history.checkpoint_steps[-1] == len(run.history.step_loss)
    # Twins start from the same weights.
    assert torch.equal(runs[0].trajectory[0], runs[1].trajectory[0])


def test_every_net_of_the_default_studies_and_the_presets_ships(monkeypatch):
    """Every preset opens at once on a fresh server: each net it needs loads from the shipped runs, exactly its
    config, with its history; the manifest lists exactly these runs, trained with one thread."""
    from resnet_viz.store import run_key

    monkeypatch.delenv("RESNET_VIZ_SHIPPED_RUNS", raising=False)
    wanted = shipping.shipped_configs()
    keys = {run_key(n, c) for group in wanted.values() for n, c in group}
    manifest = json.load(open(os.path.join(assets.SHIPPED_DIR, assets.MANIFEST)))
    assert set(manifest["runs"]) == keys, "the shipped runs are stale: run python -m resnet_viz.shipping"
    assert manifest["threads"] == 1
    on_disk = {e.name for e in os.scandir(assets.SHIPPED_DIR) if e.is_dir()}
    assert on_disk == keys
    for purpose, group in wanted.items():
        for net, cfg in group:
            run = assets.load_shipped(net, cfg)
            assert run is not None, (purpose, net.name)
            assert (run.trajectory is not None) == (purpose == "default pair" or (net, cfg) in
                                                    wanted["default pair"])
            assert len(run.history.epoch_train_loss) == cfg.epochs + 1


def test_shipped_runs_stay_small():
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(assets.SHIPPED_DIR) for f in fs)
    assert total < 40 * 1024**2


def test_a_fresh_training_reproduces_a_shipped_run_exactly(monkeypatch):
    """The shipped numbers are this code's: a net of the default degradation study (3 blocks, seed 0) trained
    now with the lab's thread policy has the shipped run's weights and history, bit for bit, on a CPU whose
    kernels round as the one the assets were made on. Two CPUs of the same capability (AVX512) may not: there the
    forward pass before any update is still equal bit for bit, the first update differs by rounding only
    (< 1e-5 relative; a change to the training would differ by far more), and the outcome agrees within the
    margins the verdicts use (checked on fresh trainings in test_verdicts.py)."""
    from resnet_viz.views.degradation import DegradationSettings

    monkeypatch.delenv("RESNET_VIZ_SHIPPED_RUNS", raising=False)
    manifest = json.load(open(os.path.join(assets.SHIPPED_DIR, assets.MANIFEST)))
    if manifest["cpu_capability"] != torch.backends.cpu.get_cpu_capability():
        pytest.skip(f"assets made on a {manifest['cpu_capability']} CPU, this one is "
                    f"{torch.backends.cpu.get_cpu_capability()}")
    net, cfg = shipping.shipped_configs()["default build_train study"][0]
    assert net.depth == min(DegradationSettings().depths) and not net.skip
    shipped, fresh = assets.load_shipped(net, cfg), train(net, cfg)
    a, b = fresh.history.step_loss, shipped.history.step_loss
    assert len(a) == len(b) and a[0] == b[0]  # same initial weights and first batch
    if a == b:  # this CPU rounds as the assets' did: everything equal
        assert fresh.history.epoch_train_loss == shipped.history.epoch_train_loss
        for x, y in zip(fresh.model.state_dict().values(), shipped.model.state_dict().values()):
            assert torch.equal(x, y)
        return
    assert abs(a[1] - b[1]) <= 1e-5 * abs(b[1]), "the first update differs by more than rounding"
    assert abs(fresh.history.test_accuracy - shipped.history.test_accuracy) <= 0.02
    assert abs(a[-1] - b[-1]) <= 0.5 * b[-1]


def test_a_fresh_server_store_holds_the_default_pair_without_training(fresh_store, monkeypatch):
    import resnet_viz.executor
    from ui.common import default_pair

    monkeypatch.delenv("RESNET_VIZ_SHIPPED_RUNS", raising=False)

    def no_training(*a, **k):
        raise AssertionError("the default pair was trained although it ships pre-trained")

    monkeypatch.setattr(resnet_viz.executor, "train", no_training)
    store = fresh_store()
    for net, cfg in default_pair().configs:
        assert store.get(run_key(net, cfg)) is not None
        store.get_or_train(net, cfg)  # found, not trained
    # A preset's net that is not the default pair's is loaded from the shipped runs when asked for, not trained.
    net, cfg = shipping.shipped_configs()["preset shortcut-variants"][-1]
    assert store.get(run_key(net, cfg)) is None
    assert store.get_or_train(net, cfg)[1].net == net


@pytest.fixture(scope="module")
def tiny():
    """A tiny pair's config and its plain run trained once, saved as a shipped-runs folder elsewhere."""
    net = net_config_for("digits", depth=3, width=4, skip=False)
    cfg = TrainConfig(epochs=1, checkpoints_per_epoch=1)
    return net, cfg, train(net, cfg, device="cpu")


def _break(folder: str, how: str) -> None:
    if how == "missing":
        shutil.rmtree(folder)
    elif how == "truncated weights":
        path = os.path.join(folder, "weights.safetensors")
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    elif how == "garbage weights":
        with open(os.path.join(folder, "weights.safetensors"), "wb") as f:
            f.write(b"\x00" * 4096)
    elif how == "broken config":
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write("{not json")
    elif how == "stale config":  # trained for another default (here: another learning rate)
        path = os.path.join(folder, "config.json")
        meta = json.load(open(path))
        meta["train"]["lr"] = 0.1
        json.dump(meta, open(path, "w"))
    elif how == "folder is a file":
        shutil.rmtree(folder)
        open(folder, "w").write("x")


@pytest.mark.parametrize("how", ["missing", "truncated weights", "garbage weights", "broken config",
                                 "stale config", "folder is a file"])
def test_a_missing_corrupt_or_stale_shipped_run_is_trained_instead(tmp_path, tiny, how):
    net, cfg, trained = tiny
    folder = str(tmp_path / "runs")
    save_run(shipping.thin_trajectory(trained), assets.run_folder(net, cfg, folder))
    assert assets.load_shipped(net, cfg, folder) is not None  # intact: used
    _break(assets.run_folder(net, cfg, folder), how)
    assert assets.load_shipped(net, cfg, folder) is None
    store = RunStore()
    for run in assets.load_shipped_pairs([(net, cfg)], folder):
        store.put(run)
    assert store.get(run_key(net, cfg)) is None
    _, run = store.get_or_train(net, cfg)  # the fallback: trained as before, deterministic
    for a, b in zip(run.model.state_dict().values(), trained.model.state_dict().values()):
        assert torch.equal(a, b)


def test_the_server_store_trains_when_the_shipped_runs_are_broken(fresh_store, monkeypatch, tmp_path):
    """A corrupt asset folder gives a store without the default pair (trained on first use), no crash."""
    from ui.common import default_pair

    folder = tmp_path / "runs"
    for net, cfg in default_pair().configs:
        path = assets.run_folder(net, cfg, str(folder))
        os.makedirs(path)
        open(os.path.join(path, "config.json"), "w").write("{")
    monkeypatch.setenv("RESNET_VIZ_SHIPPED_RUNS", str(folder))
    store = fresh_store()
    assert all(store.get(run_key(n, c)) is None for n, c in default_pair().configs)
    monkeypatch.setenv("RESNET_VIZ_SHIPPED_RUNS", "none")
    assert assets.shipped_dir() is None and assets.load_shipped_pairs(list(default_pair().configs)) == []


def test_thin_trajectory_keeps_the_first_and_last_checkpoints(tiny):
    _, _, run = tiny
    thin = shipping.thin_trajectory(run, 2)
    n = run.trajectory.shape[0]
    assert thin.history.checkpoint_steps[0] == 0 and thin.history.checkpoint_steps[-1] == run.history.checkpoint_steps[-1]
    assert thin.trajectory.shape[0] == len(thin.history.checkpoint_steps) == len(range(0, n, 2)) + ((n - 1) % 2)
    assert torch.equal(thin.trajectory[-1], run.trajectory[-1])
    assert run.trajectory.shape[0] == n  # the original is left as it was


def test_the_path_view_draws_from_the_shipped_checkpoints(monkeypatch):
    """Li et al.'s optimisation path (Landscape page, Trajectory) works on the thinned trajectory."""
    from resnet_viz.views import landscape as L

    monkeypatch.delenv("RESNET_VIZ_SHIPPED_RUNS", raising=False)
    data = load_dataset("digits")
    for run in assets.load_shipped_pairs(assets.default_pair_configs()):
        tr = L.trajectory(run.model, run.trajectory, data.x_train, data.y_train,
                          steps=run.history.checkpoint_steps, grid=3, samples=64)
        assert len(tr.coords) == len(tr.steps) == run.trajectory.shape[0]
        assert tr.explained_variance.sum() > 0.5
