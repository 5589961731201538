"""resnet_viz.models: the model contract of DESIGN.md, checked against hand-made oracles."""

import math

import pytest
import torch
from torch import nn
import torch.nn.functional as F

from resnet_viz.models import (Block, ConfigError, NetConfig, ShortcutA, build_model, check_memory,
                               count_parameters, estimate_size)

CONFIGS = [
    NetConfig(arch="mlp", depth=3, width=16, input_shape=(2,), classes=2),
    NetConfig(arch="mlp", depth=3, width=16, input_shape=(2,), classes=2, order="pre"),
    NetConfig(arch="cnn", depth=6, width=4),
    NetConfig(arch="cnn", depth=6, width=4, order="pre"),
    NetConfig(arch="cnn", depth=3, width=4, block="bottleneck"),
    NetConfig(arch="cnn", depth=3, width=4, norm="none"),
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
    assert isinstance(model.blocks[0].branch[0], nn.BatchNorm2d)  # BN-ReLU-conv


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
])
def test_impossible_configs_are_refused_with_a_message(changes, words):
    with pytest.raises(ConfigError, match=words):
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
