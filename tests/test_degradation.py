"""He et al. 2016, Fig. 1 at toy scale: deeper plain nets that train stay worse, residual twins do not.

Also: failed-to-train detection, the warm-up schedule, and captions derived from the numbers.
"""

import json
import math

import numpy as np
import pytest
from caption_rules import assert_captions

from resnet_viz.cli import main
from resnet_viz.models import ConfigError, NetConfig
from resnet_viz.train import History, Run, TrainConfig, lr_factor, net_config_for, train, training_failure
from resnet_viz.views.degradation import (
    DegradationResult,
    DegradationRun,
    DegradationSettings,
    curve_notes,
    degradation_study,
    gradient_spread,
    pair_caption,
    pair_findings,
    pair_takeaway,
    summarize,
)

# --- the warm-up schedule ----------------------------------------------------------------


def test_warmup_is_linear_then_cosine_reaches_zero():
    cfg = TrainConfig(epochs=4, warmup_epochs=1.0)
    f = lr_factor(cfg, 100)  # 25 warm-up steps, then a cosine over 75
    assert [f(s) for s in (0, 12, 24)] == pytest.approx([1 / 25, 13 / 25, 1.0])
    assert f(25) == pytest.approx(1.0) and f(25 + 75 // 2) == pytest.approx(0.5, abs=0.03)
    assert f(99) < 0.01
    plain = lr_factor(TrainConfig(epochs=4, warmup_epochs=0.0), 100)
    assert plain(0) == 1.0 and plain(50) == pytest.approx(0.5)
    assert lr_factor(TrainConfig(epochs=4, warmup_epochs=2.0, schedule="constant"), 100)(60) == 1.0
    # The default one-epoch warm-up in a one-epoch run ramps the rate over the whole run.
    whole = lr_factor(TrainConfig(epochs=1), 10)
    assert [whole(s) for s in (0, 9)] == pytest.approx([0.1, 1.0])
    with pytest.raises(ConfigError, match="warm-up"):
        TrainConfig(epochs=2, warmup_epochs=2.5).validate()


def test_training_uses_the_warmup_learning_rate():
    # With warm-up the first step is 1/W of the full step: the weights move W times less (SGD, no momentum).
    import torch

    from resnet_viz.data import load_dataset
    from resnet_viz.models import build_model

    data = load_dataset("digits")
    net = net_config_for(data, arch="mlp", depth=1, width=8, norm="none")
    steps = math.ceil(len(data.x_train) / 64)
    moved = {}
    for warm in (0.0, 1.0):
        cfg = TrainConfig(epochs=2, lr=0.1, momentum=0.0, weight_decay=0.0, warmup_epochs=warm,
                          schedule="constant", grad_norm_steps=0, checkpoints_per_epoch=1)
        run = train(net, cfg, data=data)
        start = torch.nn.utils.parameters_to_vector(build_model(net).parameters())
        first = run.trajectory[0]
        assert torch.equal(first, start)
        moved[warm] = run
    # After one epoch (the warm-up), sum of factors = (1 + ... + W) / W = (W + 1) / 2 against W steps.
    r0, r1 = moved[0.0].trajectory, moved[1.0].trajectory
    assert moved[0.0].history.checkpoint_steps[1] == steps
    d0, d1 = (r0[1] - r0[0]).norm(), (r1[1] - r1[0]).norm()
    assert 0.3 < float(d1 / d0) < 0.75  # about (W + 1) / (2W) ≈ 0.51, the gradients differ a little


# --- failed to train -----------------------------------------------------------------------


def _history(train_loss, test_acc, diverged=False):
    return History(epoch_train_loss=list(train_loss), epoch_test_accuracy=list(test_acc), diverged=diverged,
                   diverged_at_step=7 if diverged else None)


def test_failure_is_named_from_the_numbers():
    assert training_failure(_history([2.3, 0.5, 0.05], [0.1, 0.8, 0.97]), 10) is None
    assert "NaN or infinite" in training_failure(_history([2.3, math.nan], [0.1, 0.1], diverged=True), 10)
    # Finite but exploded (the λ = 1.5 net reaches 1e15): above its start.
    assert "not below" in training_failure(_history([2.3, 1e15, 3e14], [0.1, 0.1, 0.1]), 10)
    # A residual net can start far above ln C (BN's running statistics at init): the bar is ln C then.
    why = training_failure(_history([546.0, 64.0, 2.5], [0.1, 0.3, 0.5]), 10)
    assert why and "ln 10" in why
    assert training_failure(_history([546.0, 64.0, 0.9], [0.1, 0.3, 0.7]), 10) is None
    # Loss below ln C but accuracy at chance.
    assert "at chance" in training_failure(_history([2.3, 2.2, 2.1], [0.1, 0.1, 0.15]), 10)
    assert training_failure(_history([0.69, 0.5, 0.4], [0.5, 0.7, 0.8]), 2) is None


def test_a_real_exploding_run_is_named_failed():
    # λ = 2 without BN at a large rate: the loss leaves every sane range.
    net = net_config_for("digits", arch="mlp", depth=6, width=64, norm="none", shortcut_scale=2.0)
    run = train(net, TrainConfig(epochs=1, lr=5.0, grad_norm_steps=0, checkpoints_per_epoch=0))
    assert run.failure is not None
    assert run.summary()["failed_to_train"] is True and run.summary()["failure"] == run.failure
    ok = train(net.replace(depth=1, shortcut_scale=1.0), TrainConfig(epochs=2, lr=0.01, grad_norm_steps=0,
                                                                       checkpoints_per_epoch=0))
    assert ok.failure is None and ok.summary()["failed_to_train"] is False


# --- captions from the numbers -------------------------------------------------------------


def _run(depth, skip, seed, final, curve, failure=None, acc=0.95):
    return DegradationRun(depth, 2 * depth + 2, skip, seed, final, acc, failure, 10, tuple(curve),
                          (2.3, final), (0.9, 1 - acc))


def _result(runs, depths=(3, 9)):
    return DegradationResult(DegradationSettings(depths=depths, seeds=2), NetConfig(), TrainConfig(), runs)


def _decay(level, n=60):
    return list(level + 2.0 * np.exp(-np.arange(n) / 8))


def test_verdict_says_degradation_only_when_the_curves_show_it():
    good = [_run(3, False, s, 0.02, _decay(0.02)) for s in (0, 1)] + \
           [_run(9, False, s, 0.30, _decay(0.30)) for s in (0, 1)] + \
           [_run(3, True, s, 0.02, _decay(0.02)) for s in (0, 1)] + \
           [_run(9, True, s, 0.005, _decay(0.005)) for s in (0, 1)]
    res = _result(good)
    assert res.degradation_shown
    assert "degradation problem" in res.caption() and "stays above" in res.caption()
    assert res.caption().takeaway == ("Degradation: deeper plain nets train worse (9 blocks end at training loss 0.3 vs 0.02 at "
                                      "3); deeper residual nets do not (0.005 vs 0.02).")
    # The opposite data: the deeper plain net trains better. The caption must not claim degradation.
    flipped = [r if r.skip else _run(r.depth, False, r.seed, 0.30 if r.depth == 3 else 0.02,
                                       _decay(0.30 if r.depth == 3 else 0.02)) for r in good]
    res = _result(flipped)
    assert not res.degradation_shown
    assert "does not show" in res.caption() and "every deeper plain net ends lower" in res.caption()
    assert res.caption().takeaway.startswith("No degradation at every depth: the 9-block plain net ends at training "
                                             "loss 0.02 vs 0.3 at 3 blocks, lower.")
    # A blown-up deep plain net is named failed, not degraded.
    failed = [r if (r.depth, r.skip) != (9, False) else _run(9, False, r.seed, 2.25, _decay(2.2),
                                                             failure="test accuracy 10.0% is at chance (10%)")
              for r in good]
    res = _result(failed)
    assert not res.degradation_shown
    assert "Failed to train: the 9-block plain net in 2 of 2 seeds" in res.caption()
    s = summarize(failed)
    assert s["plain"]["failed"] == [0, 2] and math.isnan(s["plain"]["mean"][1])
    # A deep plain net that trains only to 25 % accuracy is slow, not failed: named, and its training loss is
    # data (the worst-optimised deep plain net is He's Fig. 1), so it shows degradation.
    weak = [r if (r.depth, r.skip) != (9, False) else _run(9, False, r.seed, 2.0, _decay(2.0), acc=0.25)
            for r in good]
    res = _result(weak)
    assert res.degradation_shown and "Slow: the 9-block plain net, seed 0 (training loss 2, 25 % test" in res.caption()
    # Failed nets are left out, and the depths that trained are still compared: here the 9-block plain net failed
    # at every seed, so no plain depths remain to compare and nothing is claimed.
    assert "Too few plain nets trained" in _result(failed).caption()
    assert _result(failed).caption().takeaway.startswith("Too few plain nets trained to compare depths (2 of 4 failed)")
    # A difference within the margin is no difference: 10 % apart is not degradation.
    close = [r if (r.depth, r.skip) != (9, False) else _run(9, False, r.seed, 0.0205, _decay(0.0205)) for r in good]
    assert not _result(close).degradation_shown
    # Deeper residual nets that end as low within the seeds' spread do not degrade; one whose every seed
    # ends higher does, and the caption says so.
    same = [r if (r.depth, r.skip) != (9, True) else _run(9, True, r.seed, (0.015, 0.025)[r.seed], _decay(0.02))
            for r in good]
    res = _result(same)
    assert res.degradation_shown and "within the spread over seeds" in res.caption()
    worse = [r if (r.depth, r.skip) != (9, True) else _run(9, True, r.seed, 0.05, _decay(0.05)) for r in good]
    res = _result(worse)
    assert not res.degradation_shown and "every deeper residual net stays above the shallower one" in res.caption()
    assert "the 9-block residual net also ends higher than the 3-block one (training loss 0.05 vs 0.02)" in \
        res.caption().takeaway
    for r in (good, flipped, failed, weak, close, same, worse):
        assert_captions(_result(r).captions())


def _pair(plain_norms, residual_norms, plain_loss=0.5, residual_loss=0.01):
    def run(skip, norms, loss):
        net = NetConfig(depth=len(norms[0]), skip=skip)
        h = History(epoch_train_loss=[2.3, loss], epoch_test_accuracy=[0.1, 0.9], grad_norms=norms)
        return Run(net, TrainConfig(), None, h)
    return run(False, plain_norms, plain_loss), run(True, residual_norms, residual_loss)


def test_gradient_caption_follows_the_measured_spread():
    level = [[1.0, 1.2, 0.9, 1.1]] * 3
    steep = [[1e-4, 1e-2, 1.0, 3.0]] * 3
    plain, residual = _pair(level, level)
    assert gradient_spread(plain) == pytest.approx(math.log10(1.2 / 0.9))
    text = " ".join(pair_findings(plain, residual))
    assert "do not vanish" in text and "§4.1" in text and "plain** net ends with the higher" in text
    plain, residual = _pair(steep, level, plain_loss=0.005)
    text = " ".join(pair_findings(plain, residual))
    assert "4.5 orders of magnitude" in text and "do not vanish" not in text
    assert "residual** net ends with the higher" in text
    assert pair_takeaway(plain, residual).startswith("Here the 4-block residual net ends with the higher or equal")


def test_curve_notes_explain_a_spike_and_a_high_start_only_where_the_history_shows_them():
    h = History(step_loss=[3.0] * 10 + [1.0] * 10, epoch_train_loss=[13.0, 500.0, 0.5])
    cfg = TrainConfig(epochs=2, warmup_epochs=1.0, lr=0.05)
    notes = " ".join(curve_notes(Run(NetConfig(depth=3, skip=True), cfg, None, h), "residual"))
    assert "after epoch 1 (500) is ×167 its highest minibatch loss of that epoch (3)" in notes
    assert "peak learning rate 0.05" in notes and "starts at 13 but its first minibatch's at 3" in notes
    assert "sum of three residual branches" in notes
    calm = History(step_loss=[3.0] * 10 + [1.0] * 10, epoch_train_loss=[2.3, 2.0, 0.5])
    assert curve_notes(Run(NetConfig(depth=3), cfg, None, calm), "plain") == []
    assert curve_notes(Run(NetConfig(depth=3, norm="none"), cfg, None, h), "plain") == []  # BN's lag only with BN


def test_the_default_pair_and_study_captions_say_one_thing_first(default_pair_runs):
    """Issue 32: the pair's and the default study's captions open with a takeaway of at most 25 words computed
    from their numbers; the loss curves' warm-up spike and starting loss are explained from the run's history."""
    plain, residual = default_pair_runs
    cap = pair_caption(plain, residual)
    lp, lr = plain.history.train_loss, residual.history.train_loss
    assert cap.takeaway == (f"The 15-block plain net ends with a ×{lp / lr:.2g} higher training loss than its residual "
                            f"twin ({lp:.3g} vs {lr:.3g}).")
    # The plain net's eval-mode spike after the warm-up epoch (687) is BN's lag: its minibatch losses stay < 2.5.
    assert "after epoch 1 (687)" in cap.details and "peak learning rate 0.05" in cap.details
    # The residual net starts at 13.8 in eval mode (BN normalises nothing yet), 3.65 on its first minibatch.
    assert "starts at 13.8 but its first minibatch's at 3.65" in cap.details and "15 residual branches" in cap.details
    assert_captions({"pair": cap})
    from resnet_viz.assets import default_trainer
    from resnet_viz.data import load_dataset

    net, cfg = residual.net, residual.train
    study = degradation_study(net, cfg, DegradationSettings(),
                              trainer=default_trainer(load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)))
    assert study.degradation_shown and study.caption().takeaway.startswith("Degradation: deeper plain nets train worse (15")
    assert_captions(study.captions())
    assert study.to_dict()["takeaways"]["degradation"] == study.caption().takeaway


# --- the study, real training ----------------------------------------------------------------


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="at least 2"):
        DegradationSettings(depths=(9,)).validate()
    with pytest.raises(ConfigError, match="seeds"):
        DegradationSettings(seeds=0).validate()
    assert DegradationSettings(depths=(18, 3, 9, 3)).depths == (3, 9, 18)
    assert DegradationSettings(seeds=3, first_seed=5).seed_list == [5, 6, 7]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 18 nets: about a minute on a quiet 2-core machine
def test_the_default_study_shows_degradation_with_every_net_trained():
    """The page's and the preset's default study, as run: He's Fig. 1 must hold on its own numbers."""
    seen = []
    res = degradation_study(net_config_for("digits"), TrainConfig(), DegradationSettings(),
                            progress=lambda f, m: seen.append(f))
    assert seen[0] == 0 and seen[-1] == 1 and seen == sorted(seen)
    assert len(res.runs) == 2 * 3 * 3
    for r in res.runs:  # every net trains: far above chance, no blow-up after the first epoch
        assert not r.failed, r
        assert r.test_accuracy > 0.3, r
        spe = r.steps_per_epoch  # no blow-up after the first epoch: the minibatch loss stays below its start
        assert max(r.curve[spe:]) < r.curve[0], r
        assert len(r.curve) == 6 * r.steps_per_epoch
    s = res.summary()
    plain, residual = s["plain"]["mean"], s["residual"]["mean"]
    assert plain[0] < plain[1] < plain[2]  # deeper plain nets end higher ...
    for c in res.comparisons("plain"):
        assert c.above > 0.9, c  # ... and their curves lie above over (nearly) all of training
    assert residual[2] < residual[0] and residual[1] < residual[0]  # deeper residual nets end lower than 3 blocks
    assert residual[2] < 0.1 * plain[2]
    assert "every deeper plain net stays above the shallower one and ends higher" in res.caption()
    # The caption's verdict is the data's: degradation is claimed exactly when every comparison shows it.
    assert res.degradation_shown == all(c.final_deep < c.final_shallow for c in res.comparisons("residual"))


def test_cli_writes_one_row_per_net(tmp_path):
    out = tmp_path / "deg.json"
    assert main(["degradation", "--depths", "3,6", "--seeds", "1", "--first-seed", "4", "--width", "4",
                 "--epochs", "2", "--quiet", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    rows = d["runs"]
    assert [(r["depth"], r["skip"], r["seed"]) for r in rows] == [(3, False, 4), (3, True, 4), (6, False, 4), (6, True, 4)]
    for r in rows:
        assert set(r) >= {"depth", "skip", "seed", "train_loss", "test_accuracy", "failed_to_train", "barely_trained",
                          "curve"}
        assert r["barely_trained"] == (not r["failed_to_train"] and r["test_accuracy"] < 0.55)
        assert len(r["curve"]) == 2 * math.ceil(1437 / 64) and isinstance(r["failed_to_train"], bool)
        assert r["train_loss"] == pytest.approx(r["epoch_train_loss"][-1])
    assert d["settings"]["depths"] == [3, 6] and isinstance(d["captions"]["degradation"], str)
    assert main(["degradation", "--depths", "9", "--json", str(out)]) == 2


def test_gradient_spreads_name_every_net():
    from resnet_viz.views.degradation import gradient_spreads

    level, steep = [[1.0, 1.1, 0.9]] * 2, [[1e-3, 1e-1, 1.0]] * 2
    a, b = _pair(level, steep)
    text = gradient_spreads({"plain": a, "λ = 1": b})
    assert "a factor 1.22 in the plain net" in text and "3.0 orders of magnitude in the λ = 1 net" in text
    assert gradient_spreads({"x": Run(NetConfig(depth=3), TrainConfig(), None, History())}) == ""
