"""The architecture of a net, read off the built module: stem, stages, blocks, head.

`architecture(cfg)` builds the net of `cfg` on PyTorch's meta device (shapes only, no weights),
runs one forward pass on a meta input with hooks on the stem, every block and the head, and
describes what it finds: each block's branch layers in order ("conv 3×3, 16→16", "BN", "ReLU",
"dropout 0.3", "SE r=4", a grouped "conv 3×3, 32→32, groups 4"), its shortcut (identity ×λ,
option A subsample + zero-pad where the shape changes, 1×1 convolution, a gate with its b_g,
dropout, constant scaling), what follows the addition, whether it downsamples, and the
output shape and parameter count of every stage. Nothing is typed in: a new config option
shows up here as soon as `build_model` builds it.

This is the information of He et al. 2016, Fig. 3 (the 34-layer plain net beside its residual
twin, dotted shortcuts where the dimensions increase) and of He et al. 2016b, Fig. 2 and 4
(the shortcut variants and the orders of BN, ReLU and addition). `resnet_viz.plots.diagram`
draws it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from .models import PRE_ORDERS, Block, NetConfig, ShortcutA, SqueezeExcite, build_model

Shape = tuple[int, ...]


def shape_text(shape: Shape) -> str:
    """'16×8×8' for a (16, 8, 8) feature map, '64' for a vector."""
    return "×".join(str(s) for s in shape)


@dataclass(frozen=True)
class Part:
    """The stem or the head: its layers, parameters and output shape (one sample)."""

    name: str
    layers: tuple[str, ...]
    params: int
    out_shape: Shape


@dataclass(frozen=True)
class BlockInfo:
    """One block as built.

    layers:          the branch F in order, one label per layer.
    lines:           the same layers grouped one weight layer per line (with the BN/ReLU that go with it).
    shortcut_kind:   "none" (plain twin), "identity", "option A", "scaled", "gate", "shortcut-gate",
                     "conv" or "dropout".
    shortcut:        the shortcut in words ("" for the plain twin), e.g. "1×1 conv 16→32, /2".
    tag:             a few characters for the shortcut arc ("x", "A", "1×1", "g", ...).
    after:           what follows the addition (out_act): "ReLU", "BN · ReLU" or "".
    downsample:      the shortcut changes the shape (He 2016 Fig. 3's dotted shortcuts).
    stride:          spatial reduction of the block (2 at a stage's first block, else 1).
    """

    index: int
    layers: tuple[str, ...]
    lines: tuple[str, ...]
    shortcut_kind: str
    shortcut: str
    tag: str
    after: str
    downsample: bool
    stride: int
    in_shape: Shape
    out_shape: Shape
    params: int

    @property
    def signature(self) -> tuple:
        """Everything the diagram shows of the block but its index: equal signatures draw the same box."""
        return (self.layers, self.shortcut_kind, self.shortcut, self.after, self.downsample, self.stride,
                self.in_shape, self.out_shape, self.params)


@dataclass(frozen=True)
class Stage:
    """Consecutive blocks with the same output shape (one stage of He 2016 §4.2; the whole MLP)."""

    index: int
    blocks: tuple[BlockInfo, ...]
    out_shape: Shape
    params: int


@dataclass(frozen=True)
class Architecture:
    """What `architecture(cfg)` found in the net of `cfg`."""

    config: NetConfig
    input_shape: Shape
    stem: Part
    stages: tuple[Stage, ...]
    head: Part
    total_params: int

    @property
    def skip(self) -> bool:
        """True for the residual net."""
        return self.config.skip

    @property
    def blocks(self) -> tuple[BlockInfo, ...]:
        """All blocks, in order."""
        return tuple(b for s in self.stages for b in s.blocks)

    @property
    def n_downsample(self) -> int:
        """Number of downsampling blocks."""
        return sum(b.downsample for b in self.blocks)

    @property
    def title(self) -> str:
        """'residual CNN-20 · 9 blocks'."""
        kind = "residual" if self.skip else "plain"
        c = self.config
        return f"{kind} {c.arch.upper()}-{c.layer_count} · {c.depth} blocks"


# --- labels of single layers -------------------------------------------------------------------


def _is_weight(m: nn.Module) -> bool:
    return isinstance(m, (nn.Conv2d, nn.Linear))


def layer_label(m: nn.Module, se_ratio: int = 0) -> str:
    """A short label for one layer: 'conv 3×3, 16→32, /2', 'BN', 'ReLU', 'dropout 0.3', 'SE r=4', ..."""
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size
        text = f"conv {k[0]}×{k[1]}, {m.in_channels}→{m.out_channels}"
        if m.stride[0] > 1:
            text += f", /{m.stride[0]}"
        if m.groups > 1:
            text += f", groups {m.groups}"
        return text
    if isinstance(m, nn.Linear):
        return f"linear {m.in_features}→{m.out_features}"
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "BN"
    if isinstance(m, nn.ReLU):
        return "ReLU"
    if isinstance(m, nn.Dropout):
        return f"dropout {m.p:g}"
    if isinstance(m, SqueezeExcite):
        ratio = se_ratio or max(m.fc1.in_features // max(m.fc1.out_features, 1), 1)
        return f"SE r={ratio}"
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return "global avg pool"
    if isinstance(m, nn.Flatten):
        return "flatten"
    if isinstance(m, nn.Sequential):
        return " · ".join(layer_label(c, se_ratio) for c in m)
    return type(m).__name__


def _labels(seq: nn.Module, se_ratio: int = 0) -> list[tuple[str, bool]]:
    mods = list(seq) if isinstance(seq, nn.Sequential) else ([] if isinstance(seq, nn.Identity) else [seq])
    return [(layer_label(m, se_ratio), _is_weight(m)) for m in mods]


def _lines(layers: list[tuple[str, bool]], pre: bool) -> list[str]:
    """Group layer labels one weight layer per line: BN, ReLU before the weight layer in the
    pre-activation orders (He 2016b Fig. 4d, e), after it otherwise. SE goes on a line of its own."""
    groups: list[list[str]] = []
    pending: list[str] = []  # pre: layers waiting for their weight layer
    for label, weight in layers:
        if label.startswith("SE "):
            groups.append(pending + [label]) if pending else groups.append([label])
            pending = []
        elif weight:
            groups.append(pending + [label])
            pending = []
        elif label.startswith("dropout") and groups:  # dropout follows its weight layer (Zagoruyko 2016)
            groups[-1].append(label)
        elif pre or not groups:
            pending.append(label)
        else:
            groups[-1].append(label)
    if pending:
        groups.append(pending) if not groups else groups[-1].extend(pending)
    return [" · ".join(g) for g in groups]


# --- shortcuts ---------------------------------------------------------------------------------


def _shortcut(block: Block, gate_bias: float) -> tuple[str, str, str]:
    """(kind, words, tag) of a block's shortcut path; `gate_bias` is b_g (a meta tensor holds no value)."""
    if not block.skip:
        return "none", "", ""
    lam = "" if block.scale == 1 else f" ×{block.scale:g}"
    sc, gate = block.shortcut, block.gate
    mods = list(sc) if isinstance(sc, nn.Sequential) else [sc]
    option_a = next((m for m in mods if isinstance(m, ShortcutA)), None)
    drop = next((m for m in mods if isinstance(m, nn.Dropout)), None)
    a_words = ""
    if option_a is not None:
        parts = ([f"subsample /{option_a.stride}"] if option_a.stride > 1 else []) + \
                ([f"zero-pad {option_a.in_channels}→{option_a.out_channels}"]
                 if option_a.out_channels > option_a.in_channels else [])
        a_words = "option A: " + " + ".join(parts)
    if gate is not None:
        b_text = f"b_g = {gate_bias:g}"
        if block.gate_branch:
            words = f"gate g·F + (1 − g)·x, g = σ(1×1 conv + b_g), {b_text}"
            kind = "gate"
        else:
            words = f"shortcut gate F + (1 − g)·x, g = σ(1×1 conv + b_g), {b_text}"
            kind = "shortcut-gate"
        if a_words:
            words += f"; {a_words}"
        return kind, words, "g"
    if _is_weight(sc):
        if isinstance(sc, nn.Conv2d):
            words = f"1×1 conv {sc.in_channels}→{sc.out_channels}" + (f", /{sc.stride[0]}" if sc.stride[0] > 1 else "")
        else:
            words = f"1×1 (linear {sc.in_features}→{sc.out_features})"
        return "conv", words, "1×1"
    if drop is not None:
        words = f"dropout {drop.p:g}" + (f" after {a_words}" if a_words else "")
        return "dropout", words, "drop"
    if block.branch_scale != 1:
        words = f"scaled: {block.scale:g}·x + {block.branch_scale:g}·F" + (f"; {a_words}" if a_words else "")
        return "scaled", words, "λx"
    if option_a is not None:
        return "option A", a_words + lam, "A" + ("λ" if lam else "")
    return "identity", "identity" + lam, "x" + lam.replace(" ", "")


# --- the walk ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def architecture(cfg: NetConfig) -> Architecture:
    """Describe the net of `cfg` (He et al. 2016, Fig. 3; He 2016b, Fig. 2 and 4) from the module itself.

    The net is built on the meta device and run once on a meta input of one sample; forward hooks
    on the stem, each block and the head record the shapes. Parameters are counted per part, so
    stem + stages + head = all parameters of the model. The (frozen) result is kept per config
    (64 at most): a shared server's sessions ask for their pair's at every page render.
    """
    cfg.validate()
    model = build_model(cfg, "meta").eval()
    shapes: dict[int, tuple[Shape, Shape]] = {}

    def hook(module, inputs, output):
        shapes[id(module)] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))

    parts = [model.stem, *model.blocks, model.head]
    handles = [m.register_forward_hook(hook) for m in parts]
    try:
        with torch.no_grad():
            model(torch.empty((1, *cfg.input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()

    def n_params(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    pre = cfg.order in PRE_ORDERS
    infos = []
    for i, block in enumerate(model.blocks):
        in_shape, out_shape = shapes[id(block)]
        labelled = _labels(block.branch, cfg.se_ratio)
        kind, words, tag = _shortcut(block, cfg.gate_bias)
        stride = in_shape[1] // out_shape[1] if len(in_shape) == 3 else 1
        after = " · ".join(label for label, _ in _labels(block.out_act))
        infos.append(BlockInfo(index=i, layers=tuple(label for label, _ in labelled), lines=tuple(_lines(labelled, pre)),
                               shortcut_kind=kind, shortcut=words, tag=tag, after=after, downsample=bool(block.downsample),
                               stride=stride, in_shape=in_shape, out_shape=out_shape, params=n_params(block)))
    stages: list[list[BlockInfo]] = []
    for info in infos:
        if stages and stages[-1][-1].out_shape == info.out_shape:
            stages[-1].append(info)
        else:
            stages.append([info])
    stem_layers = tuple(label for label, _ in _labels(model.stem))
    head_layers = [label for label, _ in _labels(model.head)]
    if "global avg pool" in head_layers and "flatten" in head_layers:
        head_layers.remove("flatten")  # pool then flatten is one step in the picture
    return Architecture(
        config=cfg,
        input_shape=tuple(cfg.input_shape),
        stem=Part("stem", stem_layers, n_params(model.stem), shapes[id(model.stem)][1]),
        stages=tuple(Stage(k, tuple(s), s[-1].out_shape, sum(b.params for b in s)) for k, s in enumerate(stages)),
        head=Part("head", tuple(head_layers), n_params(model.head), shapes[id(model.head)][1]),
        total_params=n_params(model),
    )
