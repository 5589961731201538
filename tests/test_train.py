"""resnet_viz.train and resnet_viz.store: brief training, its history, saved runs."""

import json
import math
import os
import threading

import pytest
import torch
import torch.nn.functional as F

from resnet_viz import executor as executor_mod
from resnet_viz.data import load_dataset
from resnet_viz.models import ConfigError, build_model
from resnet_viz.store import RunStore, run_key
from resnet_viz.train import (RunLoadError, TrainConfig, evaluate, load_run, net_config_for, save_run, train)

SMALL = dict(depth=3, width=4)
QUICK = TrainConfig(epochs=2, batch_size=128)


def test_default_residual_cnn_reaches_95_percent(default_pair_runs):
    plain, residual = default_pair_runs
    assert residual.net.skip and not plain.net.skip
    assert residual.history.test_accuracy >= 0.95
    assert not residual.history.diverged and not plain.history.diverged
    # Twins start from the same weights: the first checkpoints coincide.
    assert torch.equal(plain.trajectory[0], residual.trajectory[0])
    assert len(residual.history.epoch_train_loss) == TrainConfig().epochs + 1


def test_reported_train_loss_is_eval_mode_loss_over_whole_train_set(default_pair_runs):
    _, run = default_pair_runs
    ds = load_dataset("digits")
    model = run.model
    assert not model.training
    with torch.no_grad():
        logp = torch.log_softmax(model(ds.x_train), dim=1)
    manual = -logp[torch.arange(len(ds.y_train)), ds.y_train].mean().item()
    assert run.history.train_loss == pytest.approx(manual, rel=1e-4)
    with torch.no_grad():
        acc = (model(ds.x_test).argmax(1) == ds.y_test).float().mean().item()
    assert run.history.test_accuracy == pytest.approx(acc)


def test_training_is_deterministic_on_cpu_and_seeded():
    net = net_config_for("digits", **SMALL)
    a, b = train(net, QUICK, device="cpu"), train(net, QUICK, device="cpu")
    assert a.history.step_loss == b.history.step_loss
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    c = train(net, QUICK.replace(seed=1), device="cpu")
    assert c.history.step_loss != a.history.step_loss


def test_training_lowers_the_loss_and_records_history_shapes():
    net = net_config_for("digits", **SMALL)
    seen = []
    run = train(net, QUICK.replace(epochs=3, grad_norm_steps=5), progress=lambda f, m: seen.append((f, m)))
    h = run.history
    n_steps = 3 * math.ceil(1437 / 128)
    assert [f for f, _ in seen] == [pytest.approx(s / n_steps) for s in range(1, n_steps + 1)]
    assert len(h.step_loss) == n_steps and seen[-1][1].startswith(f"epoch 3/3, step {n_steps}/{n_steps}, loss")
    assert h.epoch_train_loss[-1] < 0.5 * h.epoch_train_loss[0]
    assert len(h.grad_norms) == 5 and all(len(g) == net.depth for g in h.grad_norms)
    assert h.checkpoint_steps[0] == 0 and h.checkpoint_steps[-1] == n_steps
    assert run.trajectory.shape == (len(h.checkpoint_steps), sum(p.numel() for p in run.model.parameters()))
    final = torch.cat([p.detach().reshape(-1) for p in run.model.parameters()])
    assert torch.equal(run.trajectory[-1], final)
    assert h.device == "cpu" and h.seconds > 0


def test_gradient_norms_are_per_block_parameter_gradients_of_the_first_step():
    net = net_config_for("digits", **SMALL)
    cfg = QUICK.replace(grad_norm_steps=1, epochs=1)
    run = train(net, cfg, device="cpu")
    # Oracle: the same first minibatch through a fresh copy of the initial net, by autograd.
    ds = load_dataset("digits")
    model = build_model(net).train()
    idx = torch.randperm(len(ds.x_train), generator=torch.Generator().manual_seed(cfg.seed))[:cfg.batch_size]
    loss = F.cross_entropy(model(ds.x_train[idx]), ds.y_train[idx])
    grads = torch.autograd.grad(loss, [p for b in model.blocks for p in b.parameters()])
    expected, i = [], 0
    for b in model.blocks:
        n = len(list(b.parameters()))
        expected.append(math.sqrt(sum(g.pow(2).sum().item() for g in grads[i:i + n])))
        i += n
    assert run.history.grad_norms[0] == pytest.approx(expected, rel=1e-4)


def test_divergence_stops_cleanly_and_is_reported():
    net = net_config_for("digits", arch="mlp", depth=6, width=64, norm="none", shortcut_scale=2.0)
    run = train(net, TrainConfig(lr=5.0, epochs=3))
    assert run.history.diverged and run.history.diverged_at_step >= 1
    assert len(run.history.step_loss) == run.history.diverged_at_step
    assert not math.isfinite(run.history.step_loss[-1])
    s = run.summary()
    assert s["diverged"] is True
    json.dumps(s, allow_nan=False)  # summaries stay valid JSON


@pytest.mark.parametrize("changes, words", [
    (dict(epochs=0), "epochs"), (dict(lr=0.0), "learning rate"), (dict(lr=float("inf")), "learning rate"),
    (dict(batch_size=0), "batch"), (dict(dataset="nope"), "dataset.*not one of"), (dict(optimizer="lbfgs"), "optimizer"),
])
def test_bad_training_configs_are_refused(changes, words):
    with pytest.raises(ConfigError, match="(?i)" + words):
        TrainConfig().replace(**changes)


def test_mismatched_net_and_data_and_oversized_nets_are_refused():
    with pytest.raises(ConfigError, match="expects inputs"):
        train(net_config_for("moons"), QUICK)
    with pytest.raises(ConfigError, match="GiB"):
        train(net_config_for("digits", depth=150, width=512), QUICK)


def test_save_and_load_round_trip(tmp_path):
    net = net_config_for("digits", **SMALL)
    run = train(net, QUICK)
    folder = save_run(run, str(tmp_path / "run"))
    assert sorted(os.listdir(folder)) == ["config.json", "history.json", "trajectory.safetensors", "weights.safetensors"]
    back = load_run(folder)
    assert back.net == run.net and back.train == run.train
    assert back.history.step_loss == run.history.step_loss
    x = load_dataset("digits").x_test[:16]
    with torch.no_grad():
        assert torch.equal(back.model(x), run.model(x))
    assert torch.equal(back.trajectory, run.trajectory)
    assert evaluate(back.model, x, torch.zeros(16, dtype=torch.long))[0] > 0


def test_loading_broken_runs_gives_clear_errors(tmp_path):
    with pytest.raises(RunLoadError, match="does not exist"):
        load_run(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunLoadError, match="config.json"):
        load_run(str(empty))
    run = train(net_config_for("digits", **SMALL), QUICK.replace(epochs=1))
    folder = save_run(run, str(tmp_path / "run"))
    with open(os.path.join(folder, "weights.safetensors"), "r+b") as f:
        f.write(b"\x00garbage\x00" * 4)
    with pytest.raises(RunLoadError, match="weights.safetensors"):
        load_run(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write("{not json")
    with pytest.raises(RunLoadError, match="config.json"):
        load_run(folder)


def test_store_trains_a_config_once_even_when_asked_concurrently(monkeypatch):
    calls = []
    real_train = executor_mod.train

    def counting_train(net, cfg, progress=None, **kw):
        calls.append(net)
        return real_train(net, cfg, progress=progress, **kw)

    monkeypatch.setattr(executor_mod, "train", counting_train)
    store = RunStore(max_runs=2)
    net = net_config_for("digits", **SMALL)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.get_or_train(net, QUICK.replace(epochs=1))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r[1]) for r in results}) == 1
    assert results[0][0] == run_key(net, QUICK.replace(epochs=1))
    # Bounded: the least recently used run leaves.
    store.get_or_train(net.twin(), QUICK.replace(epochs=1))
    store.get_or_train(net.replace(seed=5), QUICK.replace(epochs=1))
    assert len(store.keys()) == 2 and results[0][0] not in store.keys()


def test_store_warm_up_trains_in_the_background_and_callers_share_the_result():
    store = RunStore()
    net = net_config_for("digits", **SMALL)
    cfg = QUICK.replace(epochs=1)
    thread = store.warm([(net, cfg)])
    key, run = store.get_or_train(net, cfg)  # waits for the warm-up instead of training again
    thread.join()
    assert store.get(key) is run and not store.training(key)


def test_snapshots_are_capped_and_counted_in_the_memory_check():
    # Issue 16: 200 epochs at 2 snapshots an epoch would keep 401 copies of the weights; the run keeps at most
    # MAX_CHECKPOINTS + 2, and the memory check counts them and refuses with the estimate.
    from resnet_viz.train import MAX_CHECKPOINTS, check_run_memory, checkpoint_count

    cfg = TrainConfig(epochs=200)
    n = checkpoint_count(cfg, 12)
    assert n <= MAX_CHECKPOINTS + 2 and checkpoint_count(TrainConfig(epochs=3), 12) == 2 + 6
    net = net_config_for("digits", arch="mlp", depth=2, width=1024)
    need = check_run_memory(net, cfg, n)
    params = sum(p.numel() for p in build_model(net).parameters())
    assert need >= 4 * params * n
    with pytest.raises(ConfigError, match="weight snapshots"):
        check_run_memory(net, cfg, n, limit_bytes=need - 1)
    run = train(net_config_for("digits", **SMALL), QUICK.replace(epochs=40, checkpoints_per_epoch=4))
    assert run.trajectory.shape[0] <= MAX_CHECKPOINTS + 2 and run.history.checkpoint_steps[-1] == 40 * 12


def test_a_run_past_the_time_limit_is_refused_after_two_steps(monkeypatch):
    # Issue 16: a form-legal net can take hours; the server's limit refuses it with the estimate, early.
    from resnet_viz import train as train_mod

    seen = []
    with pytest.raises(ConfigError, match=r"over this server's limit of \d+ min"):
        train(net_config_for("digits", **SMALL), QUICK.replace(epochs=40), time_limit_s=1e-4,
              progress=lambda f, m: seen.append(m))
    assert len(seen) == 2  # stopped after the two timed steps
    monkeypatch.setenv("RESNET_VIZ_MAX_TRAIN_MINUTES", "0.000001")
    assert train_mod.default_time_limit() == pytest.approx(6e-5)
    with pytest.raises(ConfigError, match="RESNET_VIZ_MAX_TRAIN_MINUTES"):
        train(net_config_for("digits", **SMALL), QUICK)
    monkeypatch.setenv("RESNET_VIZ_MAX_TRAIN_MINUTES", "nonsense")
    assert train_mod.default_time_limit() is None
    run = train(net_config_for("digits", **SMALL), QUICK.replace(epochs=1), time_limit_s=3600)
    assert len(run.history.epoch_train_loss) == 2  # a run within the limit trains to the end
