"""Unrolled ensembles (Veit et al. 2016): path counts, block deletion, gradient by path length, CLI."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_same_state, state_dict_copy
from scipy.stats import binom
from torch import nn

from resnet_viz.cli import main
from resnet_viz.data import DatasetError
from resnet_viz.models import Block, ConfigError, NetConfig, ResNet, build_model
from resnet_viz.plots import ensemble as P
from resnet_viz.train import History, Run, TrainConfig, save_run
from resnet_viz.util import eval_copy
from resnet_viz.views import ensemble as E

# --- independent helpers --------------------------------------------------------------


def manual_forward(model, x, order=None, deleted=()):
    """Oracle forward written from the definition: y = x (shortcut(x) where shapes change) for deleted blocks."""
    model = model.eval()
    with torch.no_grad():
        h = model.stem(x)
        for i in (range(len(model.blocks)) if order is None else order):
            b = model.blocks[i]
            if i in deleted:
                h = b.shortcut(h) if b.downsample else h
            else:
                h = b(h)
        return model.head(h)


def small_cnn(skip=True, seed=1):
    return build_model(NetConfig(arch="cnn", depth=3, width=4, skip=skip, input_shape=(1, 8, 8), seed=seed)).eval()


def randomise_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
            m.bias.data.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
    return model


# --- path counts -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 9, 54])
def test_path_counts_are_binomial(n):
    c = E.path_counts(n)
    assert sum(c["count"]) == 2**n
    assert c["path_length"] == list(range(n + 1))
    assert c["probability"] == pytest.approx(binom.pmf(range(n + 1), n, 0.5).tolist(), rel=1e-9, abs=1e-300)


def test_unrolled_paths_enumerate_every_path_once():
    paths = E.unrolled_paths(3)
    assert len(paths) == 8 and len(set(paths)) == 8
    # lengths by counting set bits of 0..7, independently of path_counts
    expected = sorted(bin(i).count("1") for i in range(8))
    assert [sum(p) for p in paths] == expected
    fig = P.unrolled_figure(3)
    lanes = [t for t in fig.data if t.mode == "lines"]
    assert len(lanes) == 8
    squares = sum(len(t.x) for t in fig.data if t.mode == "markers+text" and t.marker.symbol == "square")
    assert squares == 3 * 4  # each block's branch is on half of the 8 paths
    with pytest.raises(ConfigError):
        P.unrolled_figure(E.MAX_DIAGRAM_BLOCKS + 1)


def test_effective_range():
    assert E.effective_range([0, 1, 8, 2, 0]) == (2, 3)  # 10 of 11 >= 90 %
    assert E.effective_range([1, 1, 6, 1, 1]) == (0, 3)  # 9 of 10; (1, 3) holds only 8
    assert E.effective_range([10, 0, 0]) == (0, 0)


# --- deletion -----------------------------------------------------------------------------


def test_deleting_a_residual_block_with_zero_branch_changes_nothing():
    x = torch.randn(16, 1, 8, 8)
    for i in range(3):  # block 1 and 2 downsample: deleted means y = shortcut(x)
        model = randomise_bn(small_cnn(skip=True))
        last_bn = model.blocks[i].branch[-1]
        last_bn.weight.data.zero_()
        last_bn.bias.data.zero_()  # F(x) = 0 for this block
        intact = model(x).detach()
        deleted = E.run_plan(model, x, E.deletion_plan(3, [i]))
        torch.testing.assert_close(deleted, intact, rtol=1e-5, atol=1e-6)
    assert E.downsampling_blocks(model) == [1, 2]


def test_deleting_a_plain_block_changes_the_output_and_matches_the_definition():
    model = randomise_bn(small_cnn(skip=False))
    x = torch.randn(16, 1, 8, 8)
    for i in range(3):
        out = E.run_plan(model, x, E.deletion_plan(3, [i]))
        assert (out - model(x)).abs().max() > 1e-3
        torch.testing.assert_close(out, manual_forward(model, x, deleted={i}))


def test_plan_evaluator_matches_independent_forward():
    # The evaluator shares prefixes between plans; every accuracy must equal a fresh forward.
    model = randomise_bn(build_model(NetConfig(arch="cnn", depth=5, width=4, input_shape=(1, 8, 8))).eval())
    x, y = torch.randn(40, 1, 8, 8), torch.randint(0, 10, (40,))
    plans = [E.deletion_plan(5, s) for s in [(), (0,), (0, 3), (3,), (1, 2, 4), (4,), (0, 1, 2, 3, 4)]]
    plans += [(1, 0, 2, 3, 4), (1, 0, -3, 3, -5), (-2, 0, 2, 3, 4)]  # blocks 0 and 1 share shapes
    acc = E._PlanEvaluator(eval_copy(model), x, y).accuracies(plans)
    for p in plans:
        order = [e if e >= 0 else -e - 1 for e in p]
        deleted = {-e - 1 for e in p if e < 0}
        expect = (manual_forward(model, x, order, deleted).argmax(1) == y).float().mean().item()
        assert acc[p] == pytest.approx(expect), p


def test_trained_pair_lesion_behaviour(default_pair_runs):
    plain, residual = default_pair_runs
    saved = [state_dict_copy(r.model) for r in default_pair_runs]
    modes = [[m.training for m in r.model.modules()] for r in default_pair_runs]
    res = {r.label: E.lesion_study(r, samples=20, reorder_samples=3) for r in default_pair_runs}
    grad = E.path_gradient_study(residual, samples=6, batch=64)
    for r, s, mode in zip(default_pair_runs, saved, modes):  # the shared models are untouched
        assert_same_state(r.model, s)
        assert [m.training for m in r.model.modules()] == mode
        assert all(p.requires_grad for p in r.model.parameters())
        assert r.model.blocks[0].skip == r.net.skip

    R, Pl = res["residual"], res["plain"]
    x, y = E.evaluation_data(residual)
    assert R.base_accuracy == pytest.approx((residual.model(x).argmax(1) == y).float().mean().item())
    assert R.chance == pytest.approx(0.1, abs=0.03)
    assert R.downsampling_blocks == [5, 10]  # 15 blocks, 5 a stage
    keep = [i for i in range(15) if i not in R.downsampling_blocks]
    res_single = [R.single_block_accuracy[i] for i in keep]
    plain_single = [Pl.single_block_accuracy[i] for i in keep]
    # Veit Fig. 3a: a residual net survives a missing block, its plain twin does not.
    assert sum(res_single) / len(res_single) > R.base_accuracy - 0.2
    assert sorted(res_single)[len(res_single) // 2] > R.base_accuracy - 0.1
    assert sum(plain_single) / len(plain_single) < Pl.chance + 0.15
    assert Pl.base_accuracy > 0.9
    # Veit Fig. 3b: accuracy falls steadily with k.
    m = R.k_sweep.mean
    assert R.k_sweep.k == list(range(len(keep) + 1))
    assert all(b < a + 0.03 for a, b in zip(m, m[1:])), m  # 20 random sets a k: a little sampling noise
    assert m[0] - m[-1] > 0.5
    assert m[1] > m[-1] + 0.3  # smooth, not a cliff after one block
    assert R.k_sweep.exhaustive[1] and R.k_sweep.subsets[1] == len(keep)
    assert R.k_sweep.accuracies[1] == pytest.approx(res_single)
    # reorder: identity order first, accuracy of the unchanged net
    assert R.reorder.kendall_tau[0] == 1.0 and R.reorder.accuracy[0] == pytest.approx(R.base_accuracy)
    # Veit Fig. 6a: a single path's gradient falls as the path gets longer.
    g = grad.gradient_norm
    assert all(b < a for a, b in zip(g, g[1:])), g
    assert g[-1] < g[0] / 5
    assert grad.contribution == pytest.approx([math.comb(15, k) * v for k, v in enumerate(g)])
    d = R.to_dict()
    assert set(d["k_deleted"]) == {str(k) for k in R.k_sweep.k}


def test_k_sweep_and_reorder_figures(default_pair_runs):
    res = [E.lesion_study(r, samples=3, max_k=2, reorder_samples=2) for r in default_pair_runs]
    assert res[0].k_sweep.k == [0, 1, 2] and res[0].k_sweep.subsets[2] == 3
    traces = P.k_sweep_figure(res).data  # per net: band, subsets, mean; and the chance level, named in the legend
    assert len([t for t in traces if t.name and t.name.split(":")[0].split(" ")[0] in ("plain", "residual")]) == 4
    assert len(traces) == 7 and any("chance" in (t.name or "") for t in traces)
    reorder = P.reorder_figure(res).data  # one cloud a net, and the chance level
    assert [t.name for t in reorder][:2] == ["plain", "residual"] and "chance" in reorder[2].name
    fig = P.deletion_figure(res[1])
    assert list(fig.data[0].marker.pattern.shape) == [""] * 5 + ["/"] + [""] * 4 + ["/"] + [""] * 4


# --- gradient by path length ---------------------------------------------------------------


def linear_resnet(n=3, d=4, classes=3, lam=0.7, seed=0):
    """A residual net with linear branches A_i and no nonlinearity: path Jacobians are matrix products."""
    g = torch.Generator().manual_seed(seed)
    mats = [0.5 * torch.randn(d, d, generator=g, dtype=torch.float64) for _ in range(n)]
    blocks = []
    for A in mats:
        lin = nn.Linear(d, d, bias=False).double()
        lin.weight.data.copy_(A)
        blocks.append(Block(nn.Sequential(lin), nn.Identity(), nn.Identity(), True, lam, False))
    head = nn.Linear(d, classes, bias=False).double()
    head.weight.data.copy_(torch.randn(classes, d, generator=g, dtype=torch.float64))
    cfg = NetConfig(arch="mlp", depth=n, width=d, input_shape=(d,), classes=classes)
    return ResNet(cfg, nn.Identity(), blocks, head), mats, head.weight.data.clone()


def test_single_path_gradient_matches_hand_computed_matrix_products():
    n, d, lam = 3, 4, 0.7
    model, mats, W = linear_resnet(n, d, lam=lam)
    x = torch.randn(5, d, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1, 0])
    full = torch.eye(d, dtype=torch.float64)
    for A in mats:
        full = (A + lam * torch.eye(d, dtype=torch.float64)) @ full
    logits = x @ full.T @ W.T
    dz = torch.softmax(logits, 1) - F.one_hot(y, 3).double()  # d(sum CE)/d logits
    dh = dz @ W  # gradient at the last block's output
    total = torch.zeros_like(x)
    for S in itertools.chain.from_iterable(itertools.combinations(range(n), k) for k in range(n + 1)):
        J = torch.eye(d, dtype=torch.float64)
        for i in range(n):
            J = (mats[i] if i in S else lam * torch.eye(d, dtype=torch.float64)) @ J
        expect = dh @ J  # row-vector form of J^T dh
        got = E.path_gradient(model, x, y, S)
        torch.testing.assert_close(got, expect)
        total += got
    torch.testing.assert_close(total, dh @ full)


def _detach_routed_gradient(model, x, y, S):
    """DESIGN.md's formulation: branch-only `λ·shortcut(x).detach() + F(x)`, shortcut-only `λ·shortcut(x) + F(x).detach()`."""
    h0 = model.stem(x).detach().requires_grad_(True)
    h = h0
    for i, b in enumerate(model.blocks):
        s, f = b.scale * b.shortcut(h), b.branch(h)
        h = b.out_act(f + s.detach() if i in S else s + f.detach())
    (g,) = torch.autograd.grad(F.cross_entropy(model.head(h), y, reduction="sum"), h0)
    return g


@pytest.mark.parametrize("cfg", [
    NetConfig(arch="mlp", depth=4, width=6, input_shape=(5,), classes=3, shortcut_scale=0.8),
    NetConfig(arch="cnn", depth=3, width=4, input_shape=(1, 8, 8), classes=10, order="pre"),
])
def test_path_gradients_agree_with_detach_routing_and_sum_to_the_full_gradient(cfg):
    model = randomise_bn(build_model(cfg)).eval().double()
    x = torch.randn(7, *cfg.input_shape, dtype=torch.float64)
    y = torch.randint(0, cfg.classes, (7,))
    n = cfg.depth
    total = 0
    for S in itertools.chain.from_iterable(itertools.combinations(range(n), k) for k in range(n + 1)):
        got = E.path_gradient(model, x, y, S)
        torch.testing.assert_close(got, _detach_routed_gradient(model, x, y, set(S)))
        total = total + got
    h0 = model.stem(x).detach().requires_grad_(True)
    h = h0
    for b in model.blocks:
        h = b(h)
    (full,) = torch.autograd.grad(F.cross_entropy(model.head(h), y, reduction="sum"), h0)
    torch.testing.assert_close(total, full)


def test_gradient_sweep_samples_and_counts():
    cfg = NetConfig(arch="mlp", depth=5, width=6, input_shape=(5,), classes=3)
    model = randomise_bn(build_model(cfg)).eval()
    x, y = torch.randn(9, 5), torch.randint(0, 3, (9,))
    r = E.gradient_by_path_length(model, x, y, samples=4, max_k=3)
    assert r.path_length == [0, 1, 2, 3] and r.count == [1, 5, 10, 10]
    assert r.paths_sampled == [1, 4, 4, 4]
    r5 = E.gradient_by_path_length(model, x, y, samples=10, max_k=3)  # k = 3 exhaustive: C(5, 3) = 10
    expect = sum(E.path_gradient(model, x, y, s).flatten(1).norm(dim=1).mean().item()
                 for s in itertools.combinations(range(5), 3)) / 10
    assert r5.gradient_norm[3] == pytest.approx(expect, rel=1e-5)


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_gives_clear_messages(tmp_path, default_pair_runs):
    one = build_model(NetConfig(arch="mlp", depth=1, width=4, input_shape=(2,), classes=2))
    with pytest.raises(ConfigError, match="at least 2 blocks"):
        E.single_block_deletion(one, torch.randn(4, 2), torch.zeros(4, dtype=torch.long))
    plain, residual = default_pair_runs
    x, y = E.evaluation_data(residual)
    with pytest.raises(ConfigError, match="k = 14 is larger than the 13"):
        E.k_deletion_sweep(residual.model, x, y, max_k=14)
    with pytest.raises(ConfigError, match="larger than the 15 blocks"):
        E.gradient_by_path_length(residual.model, x[:8], y[:8], max_k=16)
    with pytest.raises(ConfigError, match="plain net has a single path"):
        E.gradient_by_path_length(plain.model, x[:8], y[:8])
    # a run whose dataset is gone
    net = NetConfig(arch="cnn", depth=3, width=4, input_shape=(1, 28, 28))
    gone = Run(net, TrainConfig(dataset="mnist", data_root=str(tmp_path / "nothing")), build_model(net), History())
    with pytest.raises(DatasetError, match="trained on 'mnist', which is no longer available"):
        E.lesion_study(gone)
    save_run(gone, str(tmp_path / "gone"))
    assert main(["lesion", "--run", str(tmp_path / "gone"), "--quiet"]) == 2
    assert main(["lesion", "--run", str(tmp_path / "missing"), "--quiet"]) == 2
    assert main(["lesion", "--run", str(tmp_path / "res-gone"), "--samples", "0"]) == 2


def test_cli_lesion_and_paths(tmp_path, default_pair_runs, capsys):
    plain, residual = default_pair_runs
    save_run(residual, str(tmp_path / "res"))
    save_run(plain, str(tmp_path / "plain"))
    # One run: studied alone (its deletions and its paths).
    assert main(["lesion", "--run", str(tmp_path / "res"), "--samples", "4", "--quiet",
                 "--json", str(tmp_path / "l.json")]) == 0
    d = json.loads((tmp_path / "l.json").read_text())
    [lesion] = d["lesions"]
    assert lesion["label"] == "residual" and lesion["downsampling_blocks"] == [5, 10]
    assert len(lesion["single_block_accuracy"]) == 15
    assert set(lesion["k_deleted"]) == {str(k) for k in range(14)} and 0 < lesion["chance"] < 0.2
    assert lesion["base_accuracy"] == pytest.approx(residual.history.test_accuracy)
    p = d["paths"]
    assert p["path_length"] == list(range(16)) and len(p["gradient_norm"]) == 16 and len(p["contribution"]) == 16
    assert d["captions"]["paths"].startswith("90 % of the gradient comes from paths") and "Residual net, 15 blocks" in d["captions"]["paths"]
    assert main(["lesion", "--run", str(tmp_path / "res"), "--max-k", "14", "--quiet"]) == 2
    assert "larger than the 13" in capsys.readouterr().err
    # The plain run alone: its deletions, no paths (it has one).
    assert main(["lesion", "--run", str(tmp_path / "plain"), "--samples", "4", "--quiet",
                 "--json", str(tmp_path / "p.json")]) == 0
    d = json.loads((tmp_path / "p.json").read_text())
    assert [r["label"] for r in d["lesions"]] == ["plain"] and d["paths"] is None and d["captions"]["paths"] == ""
    # The pair: the page's numbers and captions.
    assert main(["lesion", "--pair", str(tmp_path / "plain"), str(tmp_path / "res"), "--samples", "4", "--quiet",
                 "--json", str(tmp_path / "both.json")]) == 0
    d = json.loads((tmp_path / "both.json").read_text())
    view = E.ensemble_study(plain, residual, E.EnsembleSettings(samples=4))
    assert d["captions"] == view.captions()
    assert main(["lesion", "--pair", str(tmp_path / "plain"), str(tmp_path / "plain"), "--quiet"]) == 2
    assert "both plain nets" in capsys.readouterr().err


# --- captions from the measured results, both ways ---------------------------------------------


def _lesion(label, skip, base, one, ks_mean=None, reorder_mean=None, chance=0.1):
    r = E.LesionResult(label, skip, 4, 100, base, chance, [one] * 4, [])
    if ks_mean is not None:
        k = list(range(len(ks_mean)))
        r.k_sweep = E.KSweep(k, ks_mean, [0.0] * len(k), ks_mean, ks_mean, [1] * len(k), [True] * len(k),
                             [[m] for m in ks_mean], [0, 1, 2, 3])
    if reorder_mean is not None:
        s = list(range(len(reorder_mean)))
        r.reorder = E.ReorderSweep(s, [1.0] * len(s), reorder_mean, [[0, 1, 2, 3]] * len(s), s, reorder_mean)
    return r


def test_deletion_caption_follows_the_accuracies_both_ways():
    veit = E.deletion_caption([_lesion("plain", False, 0.95, 0.11), _lesion("residual", True, 0.96, 0.95)])
    assert "plain net: intact 95.0 %; with one block deleted the median block leaves 11.0 %" in veit
    assert "falls to near chance (as Veit et al. found for a plain net)" in veit
    assert "barely notices (as Veit et al. found)" in veit and "unlike" not in veit
    # The takeaway first: what deleting the median block does to each net, the residual net first.
    assert veit.takeaway == ("Deleting one block (median) costs the residual net only 1.0 point and drops the plain "
                             "net to near chance (11.0 %; chance 10 %).")
    flipped = E.deletion_caption([_lesion("plain", False, 0.95, 0.94), _lesion("residual", True, 0.96, 0.12)])
    assert "plain net" in flipped and "barely notices (unlike Veit et al.'s plain net" in flipped
    assert "falls to near chance (unlike Veit et al.'s residual nets" in flipped
    # Between the two outcomes: hurt, but not the opposite of Veit's finding: no "unlike", and why a toy net may.
    middle = E.deletion_caption([_lesion("residual", True, 0.9, 0.75)])
    assert "is hurt: it keeps 81 % of its margin over chance (less robust than Veit" in middle
    assert middle.takeaway == "Deleting one block (median) costs the residual net 15.0 points."
    assert "unlike" not in middle and "54 blocks" in middle
    # Downsampling blocks are left out of the median and named with their own accuracy; an outlier block is named.
    r = _lesion("residual", True, 0.9, 0.9)
    r.single_block_accuracy = [0.3, 0.1, 0.9, 0.88, 0.89]
    r.downsampling_blocks = [1]
    assert E.one_block_accuracy(r) == pytest.approx(0.885)
    assert E.deletion_outliers(r) == [(0, 0.3)]
    text = E.deletion_caption([r])
    assert "barely notices" in text and "except block 1 (30 %)" in text and "10 % (block 2)" in text  # numbered from 1
    # A single outlier does not drag the verdict down (the mean would say "hurt": (0.3 + 0.9 + 0.88 + 0.89) / 4).
    assert "is hurt" not in text


def test_a_plain_net_that_barely_trained_is_named_and_its_deletions_read_near_chance():
    weak = _lesion("plain", False, 0.3, 0.14)
    text = E.deletion_caption([weak])
    assert "falls to near chance" in text and "barely trained" in text


def test_sweep_captions_say_smooth_or_abrupt_from_the_means():
    smooth = _lesion("residual", True, 0.9, 0.85, ks_mean=[0.9, 0.8, 0.7, 0.55, 0.4], reorder_mean=[0.9, 0.8, 0.7, 0.6])
    abrupt = _lesion("plain", False, 0.9, 0.1, ks_mean=[0.9, 0.1, 0.1, 0.1, 0.1], reorder_mean=[0.9, 0.1, 0.1, 0.1])
    text = E.k_sweep_caption([abrupt, smooth])
    assert text.takeaway == ("Deleting more blocks, the residual net falls smoothly (80 % after one, 40 % after 4); "
                             "the plain net collapses at once (10 %).")
    assert "residual: 90 % at k = 0, 80 % at k = 1, 40 % at k = 4: it keeps 88 % of its margin over chance after one " \
           "deletion and falls smoothly from there, as Veit et al. found" in text
    assert "plain: 90 % at k = 0, 10 % at k = 1, 10 % at k = 4: it keeps 0 % of its margin over chance after one " \
           "deletion: it collapses at once, as Veit et al. found" in text
    flipped = E.k_sweep_caption([_lesion("residual", True, 0.9, 0.1, ks_mean=[0.9, 0.1, 0.1])])
    assert "collapses at once, unlike Veit et al." in flipped
    # A residual net that keeps most of its margin, then falls by half of it in one step: abrupt, between.
    cliff = E.k_sweep_caption([_lesion("residual", True, 0.9, 0.85, ks_mean=[0.9, 0.85, 0.82, 0.3, 0.25])])
    assert "falls abruptly" in cliff and "between the two outcomes" in cliff
    # A small wobble of noisy means is no collapse.
    wobble = E.reorder_caption([_lesion("residual", True, 0.97, 0.97, reorder_mean=[0.97, 0.97, 0.95, 0.93, 0.79, 0.83])])
    assert "falls smoothly" in wobble and "as Veit et al. found" in wobble
    flat = E.k_sweep_caption([_lesion("residual", True, 0.9, 0.9, ks_mean=[0.9, 0.9, 0.89])])
    assert "hardly changes" in flat
    text = E.reorder_caption([abrupt, smooth])
    assert text.takeaway == ("Swapping blocks, the residual net falls smoothly (80 % after one, 60 % after 3); the "
                             "plain net collapses at once (10 %).")
    assert "residual: 90 % in the trained order, 80 % after one swap, 60 % after 3: it keeps 88 % of its margin" in text
    assert "plain: 90 % in the trained order, 10 % after one swap, 10 % after 3: it keeps 0 % of its margin over chance " \
           "after one swap: it collapses at once" in text


def _paths(g, effective, n=10):
    k = list(range(len(g)))
    c = [math.comb(n, i) * v for i, v in zip(k, g)]
    return E.PathGradientResult(n, 32, k, [math.comb(n, i) for i in k], g, [0.0] * len(k), [1] * len(k), c,
                                effective, 1.0)


def test_path_gradient_caption_follows_the_decay_and_the_window_both_ways():
    fast = E.path_gradient_caption(_paths([1.0, 0.3, 0.09, 0.027, 0.008], (1, 3)), plain_depth=10)
    assert "shrinks fast with k" in fast and "a factor 125" in fast
    assert "all shorter than the typical path (n/2 = 5): the gradient comes from short paths, as Veit" in fast
    assert "single path, through all 10 blocks" in fast
    assert fast.takeaway == ("90 % of the gradient comes from paths through 1–3 of 10 blocks, all shorter than the "
                             "typical length 5, as Veit et al. found.")
    slow = E.path_gradient_caption(_paths([1.0, 0.9, 0.8, 0.7, 0.6], (3, 7)))
    assert "shrinks slowly with k" in slow and "shrinks fast" not in slow
    assert "around or above the typical path length" in slow and "unlike Veit" in slow
    rising = E.path_gradient_caption(_paths([1.0, 1.5, 2.0], (6, 8)))
    assert "does not shrink with k" in rising and "unlike Veit" in rising
    # A window mostly below n/2 that reaches it: not called the opposite of Veit et al.
    mostly = E.path_gradient_caption(_paths([1.0, 0.5, 0.25, 0.1, 0.05], (2, 6)))
    assert "mostly shorter than the typical path" in mostly and "unlike" not in mostly


def test_every_takeaway_is_one_short_sentence_in_every_branch():
    # Issue 32: at most MAX_TAKEAWAY_WORDS words, whatever the nets did (at chance intact, unharmed, hurt, collapsed).
    from resnet_viz.captions import MAX_TAKEAWAY_WORDS, words

    nets = [_lesion("plain", False, 0.95, 0.11, [0.95, 0.5, 0.3, 0.1], [0.95, 0.6, 0.2]),
            _lesion("plain", False, 0.1, 0.1, [0.1, 0.1, 0.1], [0.1, 0.1]),
            _lesion("residual", True, 0.96, 0.97, [0.96, 0.95, 0.9], [0.96, 0.96]),
            _lesion("residual", True, 0.9, 0.5, [0.9, 0.85, 0.82, 0.3, 0.25], [0.9, 0.8, 0.2])]
    for pair in [(p, r) for p in nets[:2] for r in nets[2:]] + [(n,) for n in nets]:
        for cap in (E.deletion_caption(pair), E.k_sweep_caption(pair), E.reorder_caption(pair)):
            assert words(cap.takeaway) <= MAX_TAKEAWAY_WORDS and cap.takeaway.endswith("."), cap.takeaway
            assert "nan" not in cap and "%" not in cap.replace(" %", ""), cap
    for g, window in (([1.0, 0.3, 0.09], (1, 3)), ([1.0, 0.9], (3, 7)), ([1.0, 0.5, 0.25], (2, 6))):
        cap = E.path_gradient_caption(_paths(g, window), plain_depth=10)
        assert words(cap.takeaway) <= MAX_TAKEAWAY_WORDS, cap.takeaway


def test_level_labels_and_path_labels_cover_no_bar():
    """Issue 32: in presenter mode the 'chance 10%' labels covered bars, and the path-length panel's labels sat
    on its bars and under its subplot title."""
    from resnet_viz.plots import ensemble as PE

    r = _lesion("residual", True, 0.96, 0.95, ks_mean=[0.96, 0.9, 0.5, 0.1], reorder_mean=[0.96, 0.8])
    for fig in (PE.deletion_figure(r), PE.k_sweep_figure([r]), PE.reorder_figure([r])):
        assert not fig.layout.annotations  # no label on the plot
        assert "chance 10%" in [t.name for t in fig.data if t.showlegend is not False]
        assert fig.layout.showlegend is not False
    assert "intact 96.0%" in [t.name for t in PE.deletion_figure(r).data]
    paths = E.PathGradientResult(12, 8, list(range(13)), [1] * 13, [1.0] * 13, [0.0] * 13, [1] * 13,
                                 [0.1 * (k < 6) + 0.01 for k in range(13)], (2, 5), 1.0)
    fig = PE.path_length_figure(paths)
    assert fig.layout.yaxis3.range[1] >= 1.4 * max(paths.contribution)  # headroom above the bars for the labels
    labels = [a for a in fig.layout.annotations if a.yref == "y3 domain"]
    assert [a.text for a in labels] == ["90 %: lengths 2-5", "n/2"] and labels[1].yshift < 0  # two rows
