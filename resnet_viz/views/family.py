"""The ResNet family at full size: torchvision's real definitions, counted on the meta device.

He et al. 2016 (Table 1, Fig. 3) compare ResNet-18/34/50/101/152 with VGG-19 by depth, layout
and multiply-adds; their descendants change the block: wider (Zagoruyko & Komodakis 2016),
grouped (Xie et al. 2017), concatenated (Huang et al. 2017). Here every figure is computed from
torchvision's own definitions, built with `weights=None` under `torch.device("meta")`: no weight
is allocated or downloaded, and a forward pass on a meta tensor only propagates shapes, which is
all that counting needs (a whole table takes seconds on a CPU).

Counting conventions (those of the papers):
- multiply-adds (MACs): of the convolutions and fully connected layers, for one image, counted
  by a hook on each (as torch.utils.flop_counter counts them, halved), not BN, ReLU, pooling or
  the shortcut additions, which is how He 2016 counts "FLOPs" (multiply-adds of conv and fc layers).
- layers: weight layers (convolutions and fully connected layers) on the main path, as the
  papers count depth; 1×1 projection shortcuts (torchvision's `downsample`) are not layers.
- activation memory: every leaf module's output, 4 bytes an element (float32), one image,
  eval mode; an in-place module (torchvision's ReLU) writes into its input and adds nothing.

Note on ResNet-50/101/152: torchvision puts a downsampling bottleneck's stride on its 3×3
convolution ("ResNet v1.5", as in fb.resnet.torch and Xie et al. 2017), He 2016 on the first
1×1 (their Caffe models). The 3×3 then runs at the higher resolution, which costs
more multiply-adds; `macs_paper_layout` counts the same net with He's placement.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..captions import Caption, takeaway_of
from ..models import build_model
from ..numbers import count, num, pct, times
from ..progress import Progress, notify
from ..settings import check_all, setting

# torchvision's names, in the order of the table, with the paper that defines each.
MODELS: dict[str, str] = {
    "resnet18": "He et al. 2016",
    "resnet34": "He et al. 2016",
    "resnet50": "He et al. 2016",
    "resnet101": "He et al. 2016",
    "resnet152": "He et al. 2016",
    "resnext50_32x4d": "Xie et al. 2017",
    "wide_resnet50_2": "Zagoruyko & Komodakis 2016",
    "densenet121": "Huang et al. 2017",
    "vgg16": "Simonyan & Zisserman 2015",
    "vgg19": "Simonyan & Zisserman 2015",
}
RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2")

# Figures the papers print (224×224 crops), for comparison only: nothing below is computed from them.
# He 2016 writes "FLOPs" for multiply-adds. (DenseNet and WRN give no table of these figures.)
PUBLISHED: dict[str, dict] = {
    "resnet18": {"macs": 1.8e9, "source": "He et al. 2016, Table 1"},
    "resnet34": {"macs": 3.6e9, "source": "He et al. 2016, Table 1"},
    "resnet50": {"macs": 3.8e9, "source": "He et al. 2016, Table 1"},
    "resnet101": {"macs": 7.6e9, "source": "He et al. 2016, Table 1"},
    "resnet152": {"macs": 11.3e9, "source": "He et al. 2016, Table 1"},
    "resnext50_32x4d": {"macs": 4.2e9, "parameters": 25.0e6, "source": "Xie et al. 2017, Table 1"},
    "vgg16": {"macs": 15.3e9, "parameters": 138e6, "source": "He et al. 2016, §4.1; Simonyan & Zisserman 2015, Table 2"},
    "vgg19": {"macs": 19.6e9, "parameters": 144e6, "source": "He et al. 2016, §3.3; Simonyan & Zisserman 2015, Table 2"},
}


@dataclass(frozen=True)
class FamilySettings:
    """Which of torchvision's models to count (`MODELS`), at which square image size (224: He
    et al. 2016 Table 1, Simonyan & Zisserman 2015, Xie et al. 2017, Huang et al. 2017)."""

    models: tuple[str, ...] = setting(tuple(MODELS), "Models", options=tuple(MODELS), min_items=1, unique=True,
                                      key="fam_models",
                                      help="torchvision's definitions, built with weights=None on the meta device.")
    image_size: int = setting(224, "Image size", min=32, max=1024, step=8,
                              help="square input side in pixels (224: He et al. 2016 Table 1)")

    def validate(self) -> None:
        """ConfigError (a ValueError, one line) for a field outside its declared domain (`settings.check_all`): an
        unknown model name, no model, or an image too small for the five stride-2 stages of these nets (He et al.
        2016 Table 1: 224 → 7)."""
        check_all(self)

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        return {"models": list(self.models), "image_size": self.image_size}


@dataclass(frozen=True)
class ModelCost:
    """What one forward pass of a net costs for one input (He et al. 2016's counting)."""

    parameters: int
    macs: int  # multiply-adds of convolutions and fully connected layers
    layers: int  # conv + linear weight layers, projection shortcuts (`downsample`) excluded
    activation_bytes: int  # leaf-module outputs, float32

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class Stage:
    """One row of He et al. 2016 Table 1 (or the corresponding group of another family)."""

    name: str  # "conv1", "conv2_x", ... (He 2016); "dense block 1" (Huang 2017); "conv3" (VGG)
    kind: str  # "stem", "basic", "bottleneck", "dense", "transition", "conv", "head"
    blocks: int  # blocks (or layers) repeated in the stage
    layout: str  # the block's layers, as in Table 1: "[3×3, 64 · 3×3, 64] × 2"
    output: tuple[int, int]  # spatial size of the stage's output
    channels: int  # output channels (classes for the head)
    parameters: int
    macs: int

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "output": list(self.output)}


@dataclass(frozen=True)
class FamilyRow:
    """One model of the family table: computed figures, and the paper's where it prints them."""

    name: str  # as torchvision spells it
    paper: str
    image_size: int
    parameters: int
    macs: int
    macs_paper_layout: int  # = macs except for ResNet-50/101/152 (see the module docstring)
    layers: int
    activation_bytes: int
    stages: tuple[Stage, ...] = field(default=())
    published: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready row (the `family` CLI writes a list of these)."""
        d = {f: getattr(self, f) for f in ("name", "paper", "image_size", "parameters", "macs", "macs_paper_layout",
                                          "layers", "activation_bytes")}
        d["stages"] = [s.to_dict() for s in self.stages]
        d["published"] = dict(self.published)
        return d


# --- counting --------------------------------------------------------------------------------

def _is_weight_layer(m: nn.Module) -> bool:
    return isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))


def _macs(m: nn.Module, out: torch.Tensor) -> int:
    """Multiply-adds of one weight layer for its output `out`: every output element of a convolution
    takes (input channels / groups) × kernel size of them, of a fully connected layer its inputs (as
    torch.utils.flop_counter counts convolutions and matrix products, halved; biases not counted)."""
    if isinstance(m, nn.Linear):
        return out.numel() * m.in_features
    return out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)


def _count(model: nn.Module, x: torch.Tensor) -> tuple[ModelCost, dict[str, int], dict[str, tuple]]:
    """One forward pass with output hooks on this model's own modules: the cost, MACs by module
    ("Cls.path" keys, each module's whole subtree) and the output shape of every module by name.

    Only hooks of `model`'s modules: torch.utils.flop_counter's FlopCounterMode, used before,
    installs process-wide module hooks while it counts, which broke every other thread's
    autograd.grad at that moment (the server's other sessions)."""
    shapes: dict[str, tuple] = {}
    macs: dict[str, int] = {}
    activations = 0

    def hook(name, leaf, inplace, weights):
        def f(m, _i, out):
            nonlocal activations
            if isinstance(out, torch.Tensor):
                shapes[name] = tuple(out.shape)
                if leaf and not inplace:
                    activations += out.numel() * out.element_size()
                if weights:
                    macs[name] = macs.get(name, 0) + _macs(m, out)
        return f

    handles = [m.register_forward_hook(hook(name, not list(m.children()), bool(getattr(m, "inplace", False)),
                                            _is_weight_layer(m)))
               for name, m in model.named_modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    by_module: dict[str, int] = {}  # every module's subtree: a layer's MACs count for each of its ancestors
    for name, v in macs.items():
        path = [type(model).__name__] + name.split(".")
        for i in range(1, len(path) + 1):
            key = ".".join(path[:i])
            by_module[key] = by_module.get(key, 0) + v
    layers = sum(1 for name, m in model.named_modules() if _is_weight_layer(m) and "downsample" not in name.split("."))
    cost = ModelCost(parameters=sum(p.numel() for p in model.parameters()), macs=sum(macs.values()),
                     layers=layers, activation_bytes=activations)
    return cost, by_module, shapes


def model_cost(model: nn.Module, input_shape: tuple[int, ...]) -> ModelCost:
    """Parameters, multiply-adds, weight layers and activation memory of `model` for one input of
    `input_shape` (no batch dimension), counted as He et al. 2016 count (Table 1; see the module
    docstring): the same counter as `family_table`, so the lab's nets and torchvision's sit on
    one scale. The model is not touched: a copy on the meta device runs in eval mode."""
    shadow = copy.deepcopy(model).to("meta").eval()
    return _count(shadow, torch.empty((1, *input_shape), device="meta"))[0]


@functools.lru_cache(maxsize=64)
def net_cost(cfg) -> ModelCost:
    """`model_cost` of the lab's net of `cfg` (a `NetConfig`): its counts depend on the config alone,
    so the net is built on the meta device and the (frozen) result is kept per config (64 at most),
    as every session's family page asks for its pair's at each render."""

    cfg.validate()
    return model_cost(build_model(cfg, "meta"), cfg.input_shape)


def _build(name: str, paper_layout: bool = False) -> nn.Module:
    """torchvision's `name` with no weights on the meta device, in eval mode; `paper_layout` moves a
    downsampling bottleneck's stride from its 3×3 to its first 1×1 convolution (He et al. 2016)."""
    import torchvision.models as tvm
    from torchvision.models.resnet import Bottleneck

    with torch.device("meta"):
        model = getattr(tvm, name)(weights=None)
    if paper_layout:
        for block in model.modules():
            if isinstance(block, Bottleneck) and block.conv2.stride != (1, 1):
                block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return model.eval()


# --- stages (He et al. 2016 Table 1) ---------------------------------------------------------

def _conv_text(c: nn.Conv2d, stride: bool = False) -> str:
    k = "×".join(map(str, c.kernel_size))
    text = f"{k}, {c.out_channels}"
    if c.groups > 1:
        text += f", C={c.groups}"  # cardinality (Xie et al. 2017)
    if stride and c.stride[0] > 1:
        text += f", stride {c.stride[0]}"
    return text


def _pool_text(p: nn.Module) -> str:
    k = p.kernel_size if isinstance(p.kernel_size, int) else p.kernel_size[0]
    s = p.stride if isinstance(p.stride, int) else p.stride[0]
    kind = "max" if isinstance(p, nn.MaxPool2d) else "average"
    return f"{k}×{k} {kind} pool, stride {s}"


def _block_text(block: nn.Module, skip: tuple[str, ...] = ("downsample",)) -> str:
    convs = [m for n, m in block.named_modules() if isinstance(m, nn.Conv2d) and not set(n.split(".")) & set(skip)]
    return " · ".join(_conv_text(c) for c in convs)


def _stage_specs(name: str, model: nn.Module) -> list[tuple[str, str, list[str], int, str]]:
    """(stage name, kind, module names, blocks, layout) for each stage of `model`."""
    from torchvision.models.densenet import DenseNet
    from torchvision.models.resnet import BasicBlock, ResNet
    from torchvision.models.vgg import VGG

    if isinstance(model, ResNet):
        specs = [("conv1", "stem", ["conv1", "bn1", "relu"], 1, _conv_text(model.conv1, stride=True))]
        for i in range(1, 5):
            layer = getattr(model, f"layer{i}")
            kind = "basic" if isinstance(layer[0], BasicBlock) else "bottleneck"
            text = f"[{_block_text(layer[0])}] × {len(layer)}"
            modules = [f"layer{i}"]
            if i == 1:
                text = f"{_pool_text(model.maxpool)}; {text}"
                modules = ["maxpool", "layer1"]
            specs.append((f"conv{i + 1}_x", kind, modules, len(layer), text))
        specs.append(("fc", "head", ["avgpool", "fc"], 1, f"average pool, {model.fc.out_features}-d fc, softmax"))
        return specs
    if isinstance(model, VGG):
        specs, start, group = [], 0, 1
        feats = list(model.features)
        for i, m in enumerate(feats):
            if isinstance(m, nn.MaxPool2d):
                convs = [c for c in feats[start:i] if isinstance(c, nn.Conv2d)]
                specs.append((f"conv{group}", "conv", [f"features.{j}" for j in range(start, i + 1)], len(convs),
                              f"[{_conv_text(convs[0])}] × {len(convs)}; {_pool_text(m)}"))
                start, group = i + 1, group + 1
        fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
        specs.append(("fc", "head", ["avgpool", "classifier"], len(fcs),
                      " · ".join(f"{m.out_features}-d fc" for m in fcs) + ", softmax"))
        return specs
    if isinstance(model, DenseNet):
        f = model.features
        specs = [("conv", "stem", ["features.conv0", "features.norm0", "features.relu0", "features.pool0"], 1,
                  f"{_conv_text(f.conv0, stride=True)}; {_pool_text(f.pool0)}")]
        for child, module in f.named_children():
            if child.startswith("denseblock"):
                n = len(list(module.children()))
                first = next(iter(module.children()))
                specs.append((f"dense block {child[-1]}", "dense", [f"features.{child}"], n,
                              f"[{_block_text(first)}] × {n}"))
            elif child.startswith("transition"):
                specs.append((f"transition {child[-1]}", "transition", [f"features.{child}"], 1,
                              f"{_conv_text(module.conv)}; {_pool_text(module.pool)}"))
        specs[-1][2].append("features.norm5")  # the final BN closes the last dense block
        specs.append(("classification", "head", ["classifier"], 1,
                      f"global average pool, {model.classifier.out_features}-d fc, softmax"))
        return specs
    raise ValueError(f"no stage layout for {name!r}")


def _stages(name: str, model: nn.Module, by_module: dict[str, int], shapes: dict[str, tuple]) -> tuple[Stage, ...]:
    root = type(model).__name__
    named = dict(model.named_modules())
    out = []
    for stage, kind, modules, blocks, layout in _stage_specs(name, model):
        shape = shapes[modules[-1]]
        size = tuple(shape[2:4]) if len(shape) == 4 else (1, 1)
        out.append(Stage(name=stage, kind=kind, blocks=blocks, layout=layout, output=size, channels=int(shape[1]),
                         parameters=sum(p.numel() for m in modules for p in named[m].parameters()),
                         macs=sum(by_module.get(f"{root}.{m}", 0) for m in modules)))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def family_row(name: str, image_size: int = 224) -> FamilyRow:
    """One model of the family table (cached per process: the counts are deterministic).

    torchvision's `name` built on the meta device and counted for one image_size² RGB image:
    parameters, multiply-adds, weight layers and activation memory as He et al. 2016 count them
    (Table 1), and the per-stage layout of Table 1. The figures the paper prints, where it
    prints them (`PUBLISHED`: He et al. 2016; Xie et al. 2017; Simonyan & Zisserman 2015), come
    along for comparison. ValueError for a name not in `MODELS`.
    """
    FamilySettings(models=(name,), image_size=image_size).validate()
    x = torch.empty((1, 3, image_size, image_size), device="meta")
    model = _build(name)
    cost, by_module, shapes = _count(model, x)
    paper_macs = cost.macs
    if name in ("resnet50", "resnet101", "resnet152"):
        paper_macs = _count(_build(name, paper_layout=True), x)[0].macs
    return FamilyRow(name=name, paper=MODELS[name], image_size=image_size, parameters=cost.parameters,
                     macs=cost.macs, macs_paper_layout=paper_macs, layers=cost.layers,
                     activation_bytes=cost.activation_bytes, stages=_stages(name, model, by_module, shapes),
                     published=dict(PUBLISHED.get(name, {})))


def family_table(settings: FamilySettings = FamilySettings(), progress: Progress | None = None) -> list[FamilyRow]:
    """The family table of the chosen models (He et al. 2016 Table 1 and Fig. 3's comparison with
    VGG-19, Simonyan & Zisserman 2015; the descendants of Zagoruyko & Komodakis 2016, Xie et al.
    2017 and Huang et al. 2017), one `FamilyRow` each in the order given. ValueError for
    settings `FamilySettings.validate` refuses. Reports `progress(fraction, message)`."""
    settings.validate()
    rows = []
    for i, name in enumerate(settings.models):
        notify(progress, i / len(settings.models), f"counting {name}")
        rows.append(family_row(name, settings.image_size))
    notify(progress, 1.0, "done")
    return rows


@dataclass
class FamilyView:
    """What the ResNet family view shows: the table of the chosen models, with the captions their numbers
    support (He et al. 2016 Table 1)."""

    settings: FamilySettings
    rows: list[FamilyRow]

    def captions(self) -> dict[str, str]:
        """"family": the cost comparison (`family_caption`); "stages": where the models' cost sits
        (`stages_caption`). Each a `captions.Caption` (a takeaway, then the details), "" when it has nothing."""
        return {"family": family_caption(self.rows), "stages": stages_caption(self.rows)}

    def to_dict(self) -> dict:
        """JSON-ready: the settings, one row per model (`FamilyRow.to_dict`), Table 1, the captions (whole) and their
        takeaways."""
        caps = self.captions()
        return {"settings": self.settings.to_dict(), "rows": [r.to_dict() for r in self.rows],
                "table1": table1(self.rows), "captions": caps, "takeaways": {k: takeaway_of(c) for k, c in caps.items()}}


def family_study(settings: FamilySettings = FamilySettings(), progress: Progress | None = None) -> FamilyView:
    """The family view's one computation: `family_table` with the captions of its numbers."""
    return FamilyView(settings, family_table(settings, progress))


# --- findings ---------------------------------------------------------------------------------

def _m(params: float) -> str:
    return f"{params / 1e6:.1f} M"


def _paper_name(name: str) -> str:
    return name.upper().replace("VGG", "VGG-")


def family_caption(rows: list[FamilyRow]) -> Caption | str:
    """What the table says, from its numbers: whether ResNet-152 costs fewer multiply-adds than
    VGG-19 (He et al. 2016 §4.1: 11.3 vs 19.6 ×10⁹) and how parameters and multiply-adds grow
    with depth; "" when the models it compares are not in `rows`. The takeaway is the first comparison
    the rows allow (ResNet-152 against VGG, else ResNet-18 against the deepest ResNet)."""
    by = {r.name: r for r in rows}
    out, takeaway = [], ""
    deep, vgg = by.get("resnet152"), by.get("vgg19") or by.get("vgg16")
    if deep and vgg:
        ratio = deep.macs / vgg.macs
        word = "fewer" if ratio < 1 else "more"
        takeaway = (f"ResNet-152 ({deep.layers} weight layers) needs {word} multiply-adds per image than the "
                    f"{vgg.layers}-layer {_paper_name(vgg.name)}: {num(deep.macs)} vs {num(vgg.macs)}.")
        out.append(f"ResNet-152's multiply-adds are {times(ratio)} {_paper_name(vgg.name)}'s, its parameters "
                   f"{times(deep.parameters / vgg.parameters)} ({_m(deep.parameters)} vs "
                   f"{_m(vgg.parameters)}). He et al. 2016 print {num(11.3e9)} vs "
                   f"{num(19.6e9 if vgg.name == 'vgg19' else 15.3e9)}.")
        if deep.macs_paper_layout != deep.macs:
            out.append(f"With the stride on the first 1×1 convolution of each downsampling bottleneck, as in "
                       f"He's original models, ResNet-152 needs {num(deep.macs_paper_layout)}; torchvision strides "
                       f"the 3×3 instead.")
    resnets = [by[n] for n in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152") if n in by]
    if len(resnets) >= 2:
        a, b = resnets[0], resnets[-1]
        depth, macs = b.layers / a.layers, b.macs / a.macs
        growth = (f"From {a.name} to {b.name} the depth grows {times(depth)}, the multiply-adds {times(macs)} and "
                  f"the parameters {times(b.parameters / a.parameters)}")
        if not takeaway:
            takeaway = growth + "."
            growth = ""
        out.append((growth + ": " if growth else "") + "bottleneck blocks (1×1 · 3×3 · 1×1) keep the cost of depth "
                   "low" + ("." if macs < depth else ", though here the multiply-adds grow at least as fast as the "
                            "depth."))
    if not takeaway:
        return ""
    details = " ".join(out)
    return Caption(takeaway, details[0].upper() + details[1:] if details else "")


def lab_caption(name: str, cost: ModelCost, rows: list[FamilyRow], input_shape: tuple[int, ...]) -> Caption | str:
    """How a lab net compares with the smallest model of `rows` (He et al. 2016's counting)."""
    if not rows:
        return ""
    small = min(rows, key=lambda r: r.macs)
    shape = "×".join(map(str, input_shape))
    macs = small.macs / max(cost.macs, 1)
    return Caption(
        f"The lab's {name} net needs {num(macs)} times fewer multiply-adds than {small.name}: "
        f"{num(cost.macs)} per {shape} digit vs {num(small.macs)} per {small.image_size}×{small.image_size} image.",
        f"It has {cost.parameters:,} parameters, {num(small.parameters / max(cost.parameters, 1))} times fewer than "
        f"{small.name}'s {small.parameters:,}.")


def table1(rows: list[FamilyRow]) -> list[dict[str, str]]:
    """He et al. 2016 Table 1 from the computed rows: one line per stage (conv1, conv2_x … fc,
    with its output size), one column per ResNet of `rows` in their order, each cell the stage's
    block layout; a last line with the multiply-adds per image. Only models with He's stages
    (the ResNets, ResNeXt and WRN) get a column."""
    nets = [r for r in rows if r.name in RESNETS]
    if not nets:
        return []
    lines = []
    for i, stage in enumerate(nets[0].stages):
        line = {"layer name": stage.name, "output size": "×".join(map(str, stage.output))}
        for r in nets:
            line[r.name] = r.stages[i].layout
        lines.append(line)
    flops = {"layer name": "multiply-adds", "output size": ""}
    flops.update({r.name: num(r.macs) for r in nets})
    return lines + [flops]


def stage_caption(row: FamilyRow) -> str:
    """Where a model's cost sits, from its stages (He et al. 2016 Table 1): the stage with the most
    multiply-adds and the one with the most parameters, with their shares (one sentence)."""
    if not row.stages:
        return ""
    heavy = max(row.stages, key=lambda s: s.macs)
    big = max(row.stages, key=lambda s: s.parameters)
    return (f"{row.name}: {row.layers} weight layers; the costliest stage is {heavy.name} "
            f"({pct(heavy.macs / max(row.macs, 1), 0)} of the multiply-adds), the largest {big.name} "
            f"({pct(big.parameters / max(row.parameters, 1), 0)} of the parameters).")


def stages_caption(rows: list[FamilyRow]) -> Caption | str:
    """Where the cost of every model of `rows` sits (`stage_caption` each), with a takeaway over them: in how many
    the stage with the most parameters comes after the one with the most multiply-adds (late stages work on few
    pixels with many channels)."""
    staged = [r for r in rows if r.stages]
    if not staged:
        return ""
    later = sum(max(range(len(r.stages)), key=lambda i: r.stages[i].parameters)
                > max(range(len(r.stages)), key=lambda i: r.stages[i].macs) for r in staged)
    n = count(len(staged), "model")
    if later == 0:
        return Caption(f"In {'this model' if len(staged) == 1 else 'all ' + n} the most parameters sit in the same stage as "
                       "the most multiply-adds or before it.", " ".join(stage_caption(r) for r in staged))
    if later == len(staged):
        lead = f"In all {n}" if len(staged) > 2 else f"In {'both' if len(staged) == 2 else 'this'} {n.split()[1]}"
    else:
        lead = f"In {count(later, 'model').split()[0]} of {n}"
    takeaway = (f"{lead} the most parameters sit in a later stage than the most multiply-adds"
                + (": late stages have few pixels, many channels." if 2 * later > len(staged) else "."))
    return Caption(takeaway, " ".join(stage_caption(r) for r in staged))


# --- its entry in the registry (`registry.VIEWS`) ------------------------------------------------------------


def view_study(settings: FamilySettings, inputs) -> FamilyView:
    """The registry's computation of the ResNet-family view: `family_study` (torchvision's definitions, no pair)."""
    return family_study(settings, progress=inputs.progress)
