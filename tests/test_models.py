"""resnet_viz.models: the model contract of DESIGN.md, checked against hand-made oracles."""

import math

import pytest
import torch
from torch import nn
import torch.nn.functional as F

import resnet_viz.models as M

from resnet_viz.models import (Block, ConfigError, NetConfig, ShortcutA, build_model, check_memory,
                               count_parameters, estimate_size)

CONFIGS = [
    NetConfig(arch="mlp", depth=3, width=16, input_shape=(2,), classes=2),
    NetConfig(arch="mlp", depth=3, width=16, input_shape=(2,), classes=2, order="pre"),
    NetConfig(arch="cnn", depth=6, width=4),
    NetConfig(arch="cnn", depth=6, width=4, order="pre"),
    NetConfig(arch="cnn", depth=3, width=4, block="bottleneck"),
    NetConfig(arch="cnn", depth=3, width=4, norm="none"),
    NetConfig(arch="cnn", depth=3, width=4, block="bottleneck", order="pre"),
    NetConfig(arch="mlp", depth=3, width=16, input_shape=(2,), classes=2, order="pre", block="single"),
]


def _zero_last_layer(block: Block) -> None:
    last = block.branch[-1]
    with torch.no_grad():
        last.weight.zero_()
        if getattr(last, "bias", None) is not None:
            last.bias.zero_()


def _block_input(model, config, n=5):
    torch.manual_seed(1)
    return model.stem(torch.randn(n, *config.input_shape))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.arch}-{c.order}-{c.block}-{c.norm}")
@pytest.mark.parametrize("lam", [1.0, 0.5, 1.7])
def test_zeroed_branch_gives_scaled_shortcut(config, lam):
    """With F = 0, y = λ·x exactly (post order: through the final ReLU)."""
    model = build_model(config.replace(shortcut_scale=lam)).eval()
    block = model.blocks[1] if config.depth > 3 else model.blocks[0]
    assert not block.downsample or config.block == "bottleneck"
    _zero_last_layer(block)
    x = _block_input(model, config)
    if block.downsample:  # bottleneck stage 1: channels grow 4x, zero-padded
        x_sc = torch.cat([x, torch.zeros(x.shape[0], block.shortcut.out_channels - x.shape[1], *x.shape[2:])], 1)
    else:
        x_sc = x
    expected = lam * x_sc
    if config.order == "post":
        expected = torch.relu(expected)
    assert torch.equal(block(x), expected)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.arch}-{c.order}-{c.block}-{c.norm}")
def test_plain_block_does_not_pass_input_through(config):
    """The plain twin's block computes F(x) only: with F = 0 its output is 0."""
    model = build_model(config.replace(skip=False)).eval()
    block = model.blocks[-1]
    _zero_last_layer(block)
    x = _block_input(model, config)
    for b in model.blocks[:-1]:
        x = b(x)
    assert x.abs().sum() > 0
    assert torch.count_nonzero(block(x)) == 0


def test_downsampling_shortcut_is_option_a():
    """Stage changes subsample by 2 and zero-pad channels (He 2016 §4.2, option A), no weights."""
    config = NetConfig(depth=9, width=4)
    model = build_model(config).eval()
    flags = [b.downsample for b in model.blocks]
    assert flags == [False, False, False, True, False, False, True, False, False]
    sc = model.blocks[3].shortcut
    assert isinstance(sc, ShortcutA) and not list(sc.parameters())
    x = torch.randn(2, 4, 8, 8)
    y = sc(x)
    assert y.shape == (2, 8, 4, 4)
    assert torch.equal(y[:, :4], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 4:]) == 0


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.arch}-{c.order}-{c.block}-{c.norm}")
def test_twins_share_initial_weights_and_differ_only_in_skip(config):
    res, plain = build_model(config), build_model(config.twin())
    assert config.twin().skip is False and config.twin().twin() == config
    sd_r, sd_p = res.state_dict(), plain.state_dict()
    assert sd_r.keys() == sd_p.keys()
    assert all(torch.equal(sd_r[k], sd_p[k]) for k in sd_r)
    x = torch.randn(4, *config.input_shape)
    assert not torch.allclose(res.eval()(x), plain.eval()(x))


def test_build_model_leaves_global_rng_alone_and_depends_on_seed():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_model(NetConfig(depth=3, width=4, seed=1))
    assert torch.equal(torch.rand(3), expected)
    b = build_model(NetConfig(depth=3, width=4, seed=2))
    assert not torch.equal(a.stem[0].weight, b.stem[0].weight)


def test_relus_are_distinct_modules_and_not_inplace():
    model = build_model(NetConfig(depth=6, width=4))
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == len({id(m) for m in relus}) > 6
    assert not any(m.inplace for m in relus)
    # Each ReLU appears exactly once in the module tree (no reuse under two names).
    names = [n for n, m in model.named_modules(remove_duplicate=False) if isinstance(m, nn.ReLU)]
    assert len(names) == len(relus)


@pytest.mark.parametrize("config, layers", [
    (NetConfig(depth=9), 20),  # ResNet-20 (He 2016 §4.2)
    (NetConfig(depth=27), 56),  # ResNet-56
    (NetConfig(depth=54, block="bottleneck", width=4), 164),  # ResNet-164 (He 2016b)
    (NetConfig(arch="mlp", depth=4, input_shape=(2,), classes=2), 10),
    (NetConfig(arch="mlp", depth=4, input_shape=(2,), classes=2, order="pre"), 10),
    (NetConfig(arch="mlp", depth=50, input_shape=(1,), classes=1, order="pre", block="single"), 52),
])
def test_layer_count_matches_weight_layers(config, layers):
    assert config.layer_count == layers
    model = build_model(config)
    weight_layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weight_layers) == layers  # option A adds no weight layer to any path


def test_stage_widths_and_output_shape():
    config = NetConfig(depth=9, width=16)
    model = build_model(config).eval()
    x = torch.randn(3, 1, 8, 8)
    h = model.stem(x)
    shapes = []
    for b in model.blocks:
        h = b(h)
        shapes.append(tuple(h.shape[1:]))
    assert shapes[0] == (16, 8, 8) and shapes[3] == (32, 4, 4) and shapes[6] == (64, 2, 2)
    assert model(x).shape == (3, 10)


def test_he_initialisation():
    """Conv weights ~ N(0, 2/fan_out) (He et al. 2015), as in torchvision's ResNet."""
    model = build_model(NetConfig(depth=3, width=64, input_shape=(3, 8, 8)))
    w = model.blocks[0].branch[0].weight
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)


def test_pre_activation_head_has_final_bn_relu():
    model = build_model(NetConfig(depth=3, width=4, order="pre"))
    assert isinstance(model.head[0], nn.BatchNorm2d) and isinstance(model.head[1], nn.ReLU)
    assert isinstance(model.blocks[0].out_act, nn.Identity)
    assert isinstance(model.blocks[1].branch[0], nn.BatchNorm2d)  # BN-ReLU-conv
    assert isinstance(model.blocks[0].branch[0], nn.Conv2d)  # its BN-ReLU is the stem's, before the split


# --- layer order, written out from the papers ----------------------------------------------
# Letters: L Linear, C3/C1 3x3/1x1 conv, B BatchNorm, R ReLU, F Flatten, P average pool, I identity.
# He et al. 2016 (original, "post"): weight-BN-ReLU-weight-BN, add, ReLU.
# He et al. 2016b (full pre-activation, Fig. 4e): BN-ReLU-weight-BN-ReLU-weight, add; the first
#   unit's activation comes right after conv1, before the split; the last unit is followed by
#   one more BN-ReLU.
# Balduzzi et al. 2017 (one-layer module): x + W·ReLU(BN x).
ORDER_CASES = {
    "mlp-post-basic": (dict(arch="mlp", input_shape=(2,), classes=2),
                       "F L B R", ["L B R L B"] * 3, "R", "L"),
    "mlp-pre-basic": (dict(arch="mlp", input_shape=(2,), classes=2, order="pre"),
                      "F L B R", ["L B R L", "B R L B R L", "B R L B R L"], "I", "B R L"),
    "mlp-single": (dict(arch="mlp", input_shape=(2,), classes=2, order="pre", block="single"),
                   "F L", ["B R L"] * 3, "I", "L"),
    "cnn-post-basic": (dict(), "C3 B R", ["C3 B R C3 B"] * 3, "R", "P F L"),
    "cnn-pre-basic": (dict(order="pre"), "C3 B R", ["C3 B R C3", "B R C3 B R C3", "B R C3 B R C3"], "I",
                      "B R P F L"),
    "cnn-post-bottleneck": (dict(block="bottleneck"), "C3 B R", ["C1 B R C3 B R C1 B"] * 3, "R", "P F L"),
    "cnn-pre-bottleneck": (dict(block="bottleneck", order="pre"), "C3 B R",
                           ["C1 B R C3 B R C1", "B R C1 B R C3 B R C1", "B R C1 B R C3 B R C1"], "I",
                           "B R P F L"),
    "cnn-pre-basic-no-norm": (dict(order="pre", norm="none"), "C3 R", ["C3 R C3", "R C3 R C3", "R C3 R C3"], "I",
                              "R P F L"),
    "mlp-single-no-norm": (dict(arch="mlp", input_shape=(2,), classes=2, order="pre", block="single", norm="none"),
                           "F L", ["R L"] * 3, "I", "L"),
}


def _letters(modules) -> str:
    out = []
    for m in modules:
        if isinstance(m, nn.Conv2d):
            out.append(f"C{m.kernel_size[0]}")
        else:
            out.append({nn.Linear: "L", nn.BatchNorm1d: "B", nn.BatchNorm2d: "B", nn.ReLU: "R", nn.Flatten: "F",
                        nn.AdaptiveAvgPool2d: "P", nn.Identity: "I"}[type(m)])
    return " ".join(out)


@pytest.mark.parametrize("case", ORDER_CASES, ids=str)
def test_layer_order_is_the_papers(case):
    kw, stem, branches, out_act, head = ORDER_CASES[case]
    model = build_model(NetConfig(depth=3, width=4, **kw))
    assert _letters(model.stem) == stem
    assert [_letters(b.branch) for b in model.blocks] == branches
    assert {_letters([b.out_act]) for b in model.blocks} == {out_act}
    assert _letters(model.head) == head
    # Nowhere two BN-ReLU pairs in a row on the path stem -> block 0 -> ... (the double activation).
    path = " ".join([_letters(model.stem)] + [_letters(b.branch) + " " + _letters([b.out_act])
                                             for b in model.blocks] + [_letters(model.head)])
    assert "B R B R" not in path and "R R" not in path.replace(" I", "")


def test_bottleneck_stride_sits_on_the_3x3_conv():
    model = build_model(NetConfig(depth=6, width=4, block="bottleneck", order="pre"))
    down = model.blocks[2]
    assert down.downsample
    convs = [m for m in down.branch if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [1, 2, 1] and [c.kernel_size[0] for c in convs] == [1, 3, 1]


def _bn(x, bn):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _randomise_bn(model):
    gen = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.3)


def test_pre_activation_cnn_forward_is_he_2016b():
    """Oracle: He 2016b's pre-activation ResNet written out with functional ops, using the
    model's parameters; first unit activated after conv1 before the split, final BN-ReLU."""
    config = NetConfig(depth=6, width=4, order="pre")
    model = build_model(config).eval()
    _randomise_bn(model)
    x = torch.randn(3, 1, 8, 8)
    conv1, bn1 = model.stem[0], model.stem[1]
    h = torch.relu(_bn(conv1(x), bn1))  # activation right after conv1, before splitting
    for i, b in enumerate(model.blocks):
        convs = [m for m in b.branch if isinstance(m, nn.Conv2d)]
        bns = [m for m in b.branch if isinstance(m, nn.BatchNorm2d)]
        a = h if i == 0 else torch.relu(_bn(h, bns.pop(0)))
        r = convs[1](torch.relu(_bn(convs[0](a), bns[0])))
        sc = h
        if b.downsample:
            sc = h[:, :, ::2, ::2]
            sc = torch.cat([sc, torch.zeros(sc.shape[0], r.shape[1] - sc.shape[1], *sc.shape[2:])], 1)
        h = r + sc
    h = torch.relu(_bn(h, model.head[0]))  # the last unit's extra activation
    expected = model.head[-1](h.mean(dim=(2, 3)))
    assert torch.allclose(model(x), expected, atol=1e-5)


def test_pre_activation_mlp_and_single_module_forward():
    """Oracles written out: He 2016b's pre-activation MLP (the stem's BN-ReLU is the first unit's)
    and Balduzzi et al. 2017's one-layer modules x + W·relu(BN x) with a linear read-out."""
    x = torch.randn(5, 2)
    model = build_model(NetConfig(arch="mlp", depth=3, width=6, input_shape=(2,), classes=2, order="pre")).eval()
    _randomise_bn(model)
    h = torch.relu(_bn(model.stem[1](x), model.stem[2]))
    for i, b in enumerate(model.blocks):
        lins = [m for m in b.branch if isinstance(m, nn.Linear)]
        bns = [m for m in b.branch if isinstance(m, nn.BatchNorm1d)]
        a = h if i == 0 else torch.relu(_bn(h, bns.pop(0)))
        h = h + lins[1](torch.relu(_bn(lins[0](a), bns[0])))
    expected = model.head[-1](torch.relu(_bn(h, model.head[0])))
    assert torch.allclose(model(x), expected, atol=1e-5)

    for skip in (True, False):
        cfg = NetConfig(arch="mlp", depth=4, width=6, input_shape=(2,), classes=1, order="pre", block="single",
                        skip=skip, shortcut_scale=0.7)
        model = build_model(cfg).eval()
        _randomise_bn(model)
        h = x @ model.stem[1].weight.T
        for b in model.blocks:
            w = b.branch[2].weight
            h = (0.7 * h if skip else 0) + torch.relu(_bn(h, b.branch[0])) @ w.T
        expected = h @ model.head[0].weight.T + model.head[0].bias
        assert torch.allclose(model(x), expected, atol=1e-5)


def test_json_round_trip_and_hashable():
    c = NetConfig(arch="mlp", depth=5, width=7, skip=False, shortcut_scale=0.5, norm="none", order="pre",
                  input_shape=(2,), classes=3, seed=4)
    again = NetConfig.from_json(c.to_json())
    assert again == c and hash(again) == hash(c)
    with pytest.raises(ConfigError, match="unknown"):
        NetConfig.from_dict({**c.to_dict(), "colour": "red"})


@pytest.mark.parametrize("changes, words", [
    (dict(depth=0), "depth"), (dict(depth=10_000), "depth"), (dict(width=0), "width"),
    (dict(shortcut_scale=-1.0), "λ"), (dict(shortcut_scale=float("nan")), "λ"), (dict(arch="rnn"), "arch"),
    (dict(norm="layer"), "norm"), (dict(order="middle"), "order"), (dict(depth=2), "depth >= 3"),
    (dict(input_shape=(2,)), "mlp"), (dict(arch="mlp", block="bottleneck"), "bottleneck"),
    (dict(block="single", order="pre"), "mlp only"), (dict(arch="mlp", block="single"), "order 'pre'"),
    (dict(block="triple"), "block"),
])
def test_impossible_configs_are_refused_with_a_message(changes, words):
    with pytest.raises(ConfigError, match="(?i)" + words):
        NetConfig().replace(**changes)


def test_size_estimate_before_building():
    config = NetConfig(depth=9, width=16)
    est = estimate_size(config, batch_size=64)
    assert est.parameters == count_parameters(build_model(config))
    # Activations: at least every block output (16x8x8 ... 64x2x2) is counted.
    assert est.activations_per_sample > 3 * (16 * 64 + 32 * 16 + 64 * 4)
    assert estimate_size(config, batch_size=128).bytes_total > est.bytes_total
    with pytest.raises(ConfigError, match="GiB"):
        check_memory(NetConfig(depth=200, width=1024, input_shape=(3, 32, 32)), 128)
    assert check_memory(config, 64, limit_bytes=2 * 1024**3).parameters == est.parameters


def test_memory_limit_is_configurable(monkeypatch):
    config = NetConfig(depth=9, width=16)
    monkeypatch.setenv("RESNET_VIZ_MEMORY_LIMIT_GB", "0.001")
    with pytest.raises(ConfigError, match="limit"):
        check_memory(config, 64)


# --- identity-mapping variants (He et al. 2016b, Fig. 2 and Fig. 4) ---------------------------


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("order", M.ORDERS)
@pytest.mark.parametrize("shortcut", M.SHORTCUTS)
def test_every_variant_builds_and_its_plain_twin_shares_the_branch_weights(arch, order, shortcut):
    lam = 0.5 if shortcut == "scaled" else 1.0
    cfg = M.NetConfig(arch=arch, depth=3, width=4, order=order, shortcut=shortcut, shortcut_scale=lam)
    res, plain = M.build_model(cfg).eval(), M.build_model(cfg.twin()).eval()
    rp, pp = dict(res.named_parameters()), dict(plain.named_parameters())
    assert set(pp) <= set(rp) and all(torch.equal(pp[k], rp[k]) for k in pp)  # same weights where shared
    extra = {k for k in rp if k not in pp}
    if shortcut in ("gate", "shortcut-gate", "conv"):
        assert extra and all(".gate." in k or ".shortcut." in k for k in extra)
    else:
        assert not extra  # parameter-identical twins
    assert res(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def _block_oracle(block, x):
    # The block written out from its own layers, independently of Block.forward.
    f = block.branch(x)
    s = block.shortcut(x)
    if block.gate is not None:
        g = torch.sigmoid(block.gate(x))
        return block.out_act((g * f if block.gate_branch else f) + (1 - g) * s)
    return block.out_act(block.branch_scale * f + block.scale * s)


@pytest.mark.parametrize("shortcut, lam, bf, gb", [("identity", 1.0, 1.0, None), ("scaled", 0.3, 0.7, None),
                                                   ("gate", 1.0, None, True), ("shortcut-gate", 1.0, 1.0, False),
                                                   ("conv", 1.0, 1.0, None), ("dropout", 1.0, 1.0, None)])
def test_shortcut_kinds_compute_he_2016b_equations(shortcut, lam, bf, gb):
    cfg = M.NetConfig(arch="mlp", depth=2, width=6, shortcut=shortcut, shortcut_scale=lam, gate_bias=-2.0,
                      input_shape=(6,), classes=3)
    block = M.build_model(cfg).eval().blocks[1]
    x = torch.randn(5, 6)
    assert torch.allclose(block(x), _block_oracle(block, x), atol=1e-6)
    if bf is not None:
        assert block.branch_scale == pytest.approx(bf)
    if gb is not None:
        assert block.gate_branch is gb and torch.allclose(block.gate.bias, torch.full((6,), -2.0))
        # y = relu(g·F(x) + (1 − g)·x) by hand, with g from the gate's own weights
        g = torch.sigmoid(x @ block.gate.weight.T + block.gate.bias)
        f = block.branch(x)
        want = torch.relu((g * f if gb else f) + (1 - g) * x)
        assert torch.allclose(block(x), want, atol=1e-6)
    if shortcut == "dropout":
        assert isinstance(block.shortcut, torch.nn.Dropout) and block.shortcut.p == 0.5


def test_activation_placements_follow_he_2016b_fig_4():
    def layers(order):
        b = M.build_model(M.NetConfig(arch="mlp", depth=2, width=4, order=order, input_shape=(4,))).blocks[1]
        return [type(m).__name__ for m in b.branch], type(b.out_act).__name__, b.out_act
    assert layers("post")[:2] == (["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d"], "ReLU")
    branch, kind, act = layers("bn-after")  # (b): BN after the addition
    assert branch == ["Linear", "BatchNorm1d", "ReLU", "Linear"] and [type(m).__name__ for m in act] == [
        "BatchNorm1d", "ReLU"]
    assert layers("relu-before")[:2] == (["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU"], "Identity")
    assert layers("relu-pre")[:2] == (["ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d"], "Identity")
    assert layers("pre")[:2] == (["BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"], "Identity")


@pytest.mark.parametrize("kw, words", [
    (dict(shortcut="scaled", shortcut_scale=1.0), "0 < λ < 1"),
    (dict(shortcut="gate", shortcut_scale=0.5), "leave λ at 1"),
    (dict(shortcut="wormhole"), "shortcut.*not one of"),
    (dict(shortcut="dropout", dropout=1.0), "dropout rate"),
    (dict(shortcut="gate", gate_bias=float("nan")), "gate bias"),
    (dict(arch="mlp", block="single", order="pre", shortcut="conv"), "identity shortcut only"),
])
def test_impossible_variants_are_refused_with_a_message(kw, words):
    with pytest.raises(M.ConfigError, match="(?i)" + words):
        M.NetConfig(**kw).validate()


def test_a_deleted_variant_block_keeps_its_shortcut_path():
    x = torch.randn(3, 4)
    for shortcut in M.SHORTCUTS:
        lam = 0.5 if shortcut == "scaled" else 1.0
        b = M.build_model(M.NetConfig(arch="mlp", depth=2, width=4, shortcut=shortcut, shortcut_scale=lam,
                                      input_shape=(4,), gate_bias=1.0)).eval().blocks[1]
        want = {"conv": b.shortcut(x) if shortcut == "conv" else None,
                "gate": (1 - torch.sigmoid(b.gate(x))) * x if b.gate is not None else None}
        got = b.deleted(x)
        if shortcut == "conv":
            assert torch.allclose(got, want["conv"])
        elif b.gate is not None:
            assert torch.allclose(got, want["gate"])
        else:
            assert torch.equal(got, x)  # identity, scaled and (eval-mode) dropout: y = x


# --- descendants: ResNeXt, Wide ResNet, squeeze-and-excitation ---------------------------------


def test_resnext_bottleneck_groups_its_3x3_convolution():
    plain = M.build_model(M.NetConfig(block="bottleneck", width=8, depth=3))
    grouped = M.build_model(M.NetConfig(block="bottleneck", width=8, depth=3, cardinality=4))
    c3 = [m for m in grouped.blocks[0].branch if isinstance(m, nn.Conv2d)][1]
    assert c3.groups == 4 and c3.kernel_size == (3, 3)
    # Xie et al. 2017: a grouped 3×3 conv has 1/cardinality of the weights of the dense one
    dense = [m for m in plain.blocks[0].branch if isinstance(m, nn.Conv2d)][1]
    assert c3.weight.numel() * 4 == dense.weight.numel()


def test_squeeze_excitation_scales_channels_by_their_learned_gate():
    se = M.SqueezeExcite(8, 4)
    x = torch.randn(3, 8, 5, 5)
    z = x.mean(dim=(2, 3))
    w = torch.sigmoid(torch.relu(z @ se.fc1.weight.T + se.fc1.bias) @ se.fc2.weight.T + se.fc2.bias)
    assert torch.allclose(se(x), x * w[:, :, None, None], atol=1e-6)
    model = M.build_model(M.NetConfig(depth=3, width=8, se_ratio=4))
    assert all(isinstance(b.branch[-1], M.SqueezeExcite) for b in model.blocks)
    twin = M.build_model(M.NetConfig(depth=3, width=8, se_ratio=4, skip=False))
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))  # twins still identical


def test_wide_resnet_dropout_sits_between_the_branch_convolutions():
    model = M.build_model(M.NetConfig(depth=3, width=8, branch_dropout=0.3, order="pre"))
    kinds = [type(m).__name__ for m in model.blocks[1].branch]
    assert kinds == ["BatchNorm2d", "ReLU", "Conv2d", "Dropout", "BatchNorm2d", "ReLU", "Conv2d"]
    x = torch.randn(4, 1, 8, 8)
    model.eval()
    assert torch.equal(model(x), model(x))  # no dropout at test time


def test_nets_built_in_several_threads_at_once_get_their_own_seeds_weights():
    # A server builds nets for several sessions at once; the global RNG is shared by every thread,
    # so each build's seeded part takes its turn (models._BUILD_LOCK).
    import threading

    configs = [NetConfig(arch="cnn", depth=3, width=8, seed=s) for s in range(8)]
    expected = {c.seed: [p.detach().clone() for p in build_model(c).parameters()] for c in configs}
    wrong, start = [], threading.Barrier(4)

    def builder(offset):
        start.wait()
        for i in range(24):
            c = configs[(i + offset) % len(configs)]
            got = list(build_model(c).parameters())
            if not all(torch.equal(a, b) for a, b in zip(got, expected[c.seed])):
                wrong.append(c.seed)

    threads = [threading.Thread(target=builder, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert wrong == []
