"""The architecture diagram (He et al. 2016 Fig. 3): read off the built net, checked against the module itself."""

import json
import os
import re

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.diagram import architecture
from resnet_viz.models import NetConfig, build_model
from resnet_viz.plots.diagram import DOWN_COLOR, architecture_figure, groups

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "pages", "build_train.py")

CONFIGS = {
    "default": NetConfig(),
    "plain": NetConfig(skip=False),
    "bottleneck-pre": NetConfig(depth=6, block="bottleneck", order="pre", width=8),
    "resnext-se-wrn": NetConfig(depth=3, block="bottleneck", width=8, cardinality=4, se_ratio=4, branch_dropout=0.3),
    "gate": NetConfig(depth=4, shortcut="gate", gate_bias=-2.0),
    "shortcut-gate": NetConfig(depth=3, shortcut="shortcut-gate"),
    "conv": NetConfig(depth=5, shortcut="conv", order="bn-after"),
    "dropout": NetConfig(depth=3, shortcut="dropout", dropout=0.25),
    "scaled": NetConfig(depth=3, shortcut="scaled", shortcut_scale=0.5),
    "lambda": NetConfig(depth=3, shortcut_scale=0.5, order="relu-pre"),
    "mlp": NetConfig(arch="mlp", depth=4, width=8, input_shape=(2,), order="relu-before"),
    "mlp-conv": NetConfig(arch="mlp", depth=3, width=8, input_shape=(2,), shortcut="conv"),
    "single": NetConfig(arch="mlp", depth=5, width=8, input_shape=(2,), block="single", order="pre"),
    "no-norm": NetConfig(depth=3, norm="none"),
}


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _shapes(fig, name):
    return [s for s in fig.layout.shapes if s.name == name]


def _text(fig) -> str:
    parts = [a.text for a in fig.layout.annotations]
    for t in fig.data:
        if t.text is not None:
            parts += list(t.text) if not isinstance(t.text, str) else [t.text]
    return "\n".join(p for p in parts if p)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_blocks_downsampling_and_parameters_match_the_built_model(name):
    cfg = CONFIGS[name]
    model = build_model(cfg)  # a real (cpu) net, built independently of the diagram's meta one
    arch = architecture(cfg)
    assert len(arch.blocks) == len(model.blocks) == cfg.depth
    assert [b.downsample for b in arch.blocks] == [b.downsample for b in model.blocks]
    assert arch.n_downsample == sum(b.downsample for b in model.blocks)
    total = _count(model)
    assert arch.total_params == total
    assert arch.stem.params + sum(s.params for s in arch.stages) + arch.head.params == total
    assert sum(s.params for s in arch.stages) == total - _count(model.stem) - _count(model.head)
    assert [b.params for b in arch.blocks] == [_count(b) for b in model.blocks]
    if cfg.arch == "cnn":  # three stages of stage_depths() blocks; the stage's params are its blocks'
        assert [len(s.blocks) for s in arch.stages] == list(cfg.stage_depths())
        start = 0
        for s in arch.stages:
            assert s.params == sum(_count(b) for b in model.blocks[start:start + len(s.blocks)])
            start += len(s.blocks)
        assert [s.out_shape for s in arch.stages] == [
            (cfg.width * 2 ** k * (4 if cfg.block == "bottleneck" else 1), 8 // 2 ** k, 8 // 2 ** k) for k in range(3)]
        assert arch.n_downsample == (3 if cfg.block == "bottleneck" else 2)
    else:
        assert len(arch.stages) == 1 and arch.stages[0].out_shape == (cfg.width,)
    assert arch.head.out_shape == (cfg.classes,)


def test_the_default_net_reads_like_he_2016():
    arch = architecture(NetConfig())
    assert arch.stem.layers == ("conv 3×3, 1→16", "BN", "ReLU")
    first, down = arch.blocks[0], arch.blocks[5]  # 15 blocks: 5 a stage
    assert first.layers == ("conv 3×3, 16→16", "BN", "ReLU", "conv 3×3, 16→16", "BN")
    assert first.shortcut_kind == "identity" and first.after == "ReLU" and not first.downsample
    assert down.layers[0] == "conv 3×3, 16→32, /2" and down.stride == 2 and down.downsample
    assert down.shortcut_kind == "option A" and "subsample /2" in down.shortcut and "zero-pad 16→32" in down.shortcut
    assert arch.head.layers == ("global avg pool", "linear 64→10")
    # 3×3×16×16 weights per conv + 2×16 per BN, twice (no conv bias with BN).
    assert first.params == 2 * (9 * 16 * 16 + 2 * 16)


def test_each_variant_is_labelled():
    def arch(name):
        return architecture(CONFIGS[name])

    assert all(b.shortcut_kind == "none" and b.shortcut == "" for b in arch("plain").blocks)
    gate = arch("gate")
    assert all(b.shortcut_kind == "gate" and "gate" in b.shortcut and "b_g = -2" in b.shortcut for b in gate.blocks)
    assert all(b.shortcut_kind == "shortcut-gate" and "gate" in b.shortcut for b in arch("shortcut-gate").blocks)
    conv = arch("conv")
    assert all(b.shortcut_kind == "conv" and "1×1" in b.shortcut for b in conv.blocks)
    assert "1×1 conv 16→32, /2" in conv.blocks[2].shortcut  # the projection of a downsampling block
    assert all(b.after == "BN · ReLU" for b in conv.blocks)  # He 2016b Fig. 4(b): BN after the addition
    assert all("1×1" in b.shortcut for b in arch("mlp-conv").blocks)
    assert all(b.shortcut_kind == "dropout" and "dropout 0.25" in b.shortcut for b in arch("dropout").blocks)
    assert all(b.shortcut_kind == "scaled" and "0.5" in b.shortcut for b in arch("scaled").blocks)
    lam = arch("lambda")
    assert lam.blocks[0].shortcut == "identity ×0.5" and "×0.5" in lam.blocks[1].shortcut
    pre = arch("bottleneck-pre")
    # Full pre-activation (He 2016b Fig. 4e): every branch but the first (whose BN-ReLU is the stem's) starts with BN.
    assert pre.blocks[0].layers[0].startswith("conv 1×1")
    assert all(b.layers[:2] == ("BN", "ReLU") for b in pre.blocks[1:])
    assert all(b.after == "" for b in pre.blocks) and pre.head.layers[:2] == ("BN", "ReLU")
    assert all(b.layers[0] == "ReLU" for b in arch("lambda").blocks[1:])  # relu-pre (d)
    assert all(b.layers[-2:] == ("BN", "ReLU") and b.after == "" for b in arch("mlp").blocks)  # relu-before (c)
    desc = arch("resnext-se-wrn")
    for b in desc.blocks:
        assert any("conv 3×3" in x and "groups 4" in x for x in b.layers)
        assert b.layers.count("dropout 0.3") == 2 and b.layers[-1] == "SE r=4"
    assert all(not any(x == "BN" for x in b.layers) for b in arch("no-norm").blocks)
    single = arch("single")
    assert all(b.layers == ("BN", "ReLU", "linear 8→8") for b in single.blocks)  # Balduzzi et al. 2017
    assert single.stem.layers == ("flatten", "linear 2→8")


def test_labels_reach_the_figure():
    for name, needle in [("gate", "gate"), ("conv", "1×1"), ("resnext-se-wrn", "groups 4"),
                         ("resnext-se-wrn", "SE r=4"), ("dropout", "dropout 0.25")]:
        cfg = CONFIGS[name]
        fig = architecture_figure(architecture(cfg), architecture(cfg.twin()))
        assert needle in _text(fig), (name, needle)


@pytest.mark.parametrize("name", ["default", "gate", "conv", "mlp", "bottleneck-pre", "single"])
def test_shortcut_arcs_only_in_the_residual_net_one_per_block(name):
    cfg = CONFIGS[name]
    residual, plain = architecture(cfg), architecture(cfg.twin())
    assert len(_shapes(architecture_figure(plain), "shortcut")) == 0
    alone = architecture_figure(residual)
    assert len(_shapes(alone, "shortcut")) == cfg.depth
    pair = architecture_figure(residual, plain)
    assert len(_shapes(pair, "shortcut")) == cfg.depth
    assert len(_shapes(pair, "block-plain")) == len(_shapes(pair, "block-residual")) == cfg.depth
    # Plain on the left, residual on the right, whichever order they are passed in.
    swapped = architecture_figure(plain, residual)
    assert len(_shapes(swapped, "shortcut")) == cfg.depth
    left = max(s.x1 for s in _shapes(swapped, "block-plain"))
    assert left < min(s.x0 for s in _shapes(swapped, "block-residual"))
    # Every arc runs to the right of the residual boxes, from above a box to below it.
    right = max(s.x1 for s in _shapes(pair, "block-residual"))
    for arc in _shapes(pair, "shortcut"):
        xs = [float(v) for v in re.findall(r"(-?\d+\.?\d*),", arc.path)]
        assert max(xs) > right


def test_downsampling_blocks_are_marked():
    cfg = NetConfig()
    fig = architecture_figure(architecture(cfg), architecture(cfg.twin()))
    for side in ("plain", "residual"):
        marked = [s for s in _shapes(fig, f"block-{side}") if s.line.color == DOWN_COLOR]
        assert len(marked) == 2  # the first block of stages 2 and 3
    assert _text(fig).count("<b>↓2</b> →") == 4  # in the box titles (the key says it once more)
    dotted = [s for s in _shapes(fig, "shortcut") if s.line.dash == "dot"]
    assert len(dotted) == 2  # He 2016 Fig. 3: the shortcuts that increase dimensions are dotted
    text = _text(fig)
    assert "23,360 params" in text and "→ 32×4×4" in text  # the first stage's parameters, the second's shape


def test_a_deep_net_collapses_but_states_its_depth():
    cfg = NetConfig(depth=54, block="bottleneck", order="pre")  # ResNet-164 (He 2016b)
    residual, plain = architecture(cfg), architecture(cfg.twin())
    fig = architecture_figure(residual, plain)
    boxes = _shapes(fig, "block-residual")
    assert len(boxes) < 54 and len(boxes) == len(_shapes(fig, "block-plain")) == 6
    assert len(_shapes(fig, "shortcut")) == len(boxes)  # one arc per box drawn (a collapsed box's stands for n)
    assert sum(len(g) for g in groups(residual)) == 54
    text = _text(fig)
    assert "54 blocks" in text and "CNN-164" in text
    assert "<b>blocks 2–18</b>  ×17" in text and "18 blocks" in text
    assert len(_shapes(fig, "stack")) > 0
    assert fig.layout.height < 1400  # readable, not a 54-box tower
    # All text is in traces with set sizes: presenter mode's larger annotation font cannot spill it out of the boxes.
    assert len(fig.layout.annotations) == 0
    # A shallow net is drawn block by block.
    assert all(len(g) == 1 for g in groups(architecture(NetConfig())))


def test_the_page_shows_the_architecture(seeded_store):
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    assert not at.exception and not at.error
    assert any(e.label == "Architecture of this pair" for e in at.expander)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    diagrams = [s for s in specs if any(sh.get("name") == "shortcut" for sh in s["layout"].get("shapes", []))]
    assert len(diagrams) == 1
    shapes = diagrams[0]["layout"]["shapes"]
    assert sum(sh.get("name") == "shortcut" for sh in shapes) == 15  # the default pair: 15 blocks
    assert sum(sh.get("name") == "block-plain" for sh in shapes) == 15
