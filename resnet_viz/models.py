"""Plain networks and their residual twins.

`NetConfig` describes a net completely; `build_model(config)` turns it into a
`ResNet` module. The plain twin of a config (`config.twin()`) differs only in
`skip`, so both nets get identical initial weights: the option-A shortcut of
He et al. 2016 (§4.2, subsample + zero-pad channels) has no parameters, and the
plain block owns exactly the residual branch's layers.

The one line where the shortcut is added lives in `Block.forward`:

    out = f + s      f = branch(x), s = λ · shortcut(x)      (He et al. 2016, eq. 1 with a scale)

`Block.terms` computes the two terms for every variant of He et al. 2016b (Identity
Mappings, Fig. 2): constant scaling λ·x + (1 − λ)·F(x), exclusive gating g·F(x) +
(1 − g)·x and shortcut-only gating F(x) + (1 − g)·x with g = sigmoid(W_g x + b_g), a 1×1
convolution or dropout on the shortcut. Gates and 1×1 shortcuts exist only in the
residual net and are initialised from their own random stream, so the twins keep
identical branch weights (`NetConfig.shortcut`). `NetConfig.order` places BN and ReLU
as in He 2016b Fig. 4 (a–e). `NetConfig.activation` makes every "ReLU" of this module a tanh or a
sigmoid instead (TensorFlow Playground's choices, Smilkov et al. 2017), Glorot-initialised.

"post" order is the original block, relu(BN(conv(relu(BN(conv x)))) + x);
"pre" order is the full pre-activation block of He et al. 2016b (Identity
Mappings), x + conv(relu(BN(conv(relu(BN x))))). As in that paper (§4, "for
the first Residual Unit ... we adopt the first activation right after conv1 and
before splitting into two paths; for the last Residual Unit ... an extra
activation right after its element-wise addition"), the first unit's BN-ReLU is
the stem's (conv-BN-ReLU, so the shortcut of the first unit carries the
activated signal and no BN-ReLU is applied twice) and the head starts with one
BN-ReLU. The MLP follows the same rule with Linear layers.

block "single" (mlp only) is the one-layer residual module of Balduzzi et al.
2017 (The Shattered Gradients Problem, §4), x + W·relu(BN x): a stem Linear,
`depth` modules BN-ReLU-Linear, and a Linear read-out. Its plain twin is the
same stack without the shortcuts, a feed-forward net with `depth` hidden ReLU
layers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import active
from .settings import MAX_SEED, ConfigError, check_all, setting

ARCHS = ("mlp", "cnn")
NORMS = ("batch", "none")
# Where BN and ReLU go around the addition (He et al. 2016b, Fig. 4): (a) "post" original, (b) "bn-after"
# BN after addition, (c) "relu-before" ReLU before addition, (d) "relu-pre" ReLU-only pre-activation,
# (e) "pre" full pre-activation.
ORDERS = ("post", "bn-after", "relu-before", "relu-pre", "pre")
PRE_ORDERS = ("relu-pre", "pre")  # the branch starts with its activation; the stem gives the first unit's
BLOCKS = ("basic", "bottleneck", "single")
# What the shortcut path is (He et al. 2016b, Fig. 2 and Table 1): "identity" (scaled by λ), "scaled"
# (constant scaling of both: λ·x + (1 − λ)·F(x)), "gate" (exclusive gating: (1 − g)·x + g·F(x)),
# "shortcut-gate" (shortcut-only gating: (1 − g)·x + F(x)), "conv" (1×1 convolution), "dropout".
SHORTCUTS = ("identity", "scaled", "gate", "shortcut-gate", "conv", "dropout")
# The nonlinearity of every activation module (TensorFlow Playground offers these three, Smilkov et al. 2017).
ACTIVATIONS = ("relu", "tanh", "sigmoid")

# Validation limits: generous for a lab, small enough to refuse nonsense early.
MAX_DEPTH = 200
MAX_WIDTH = 1024
MAX_SHORTCUT_SCALE = 4.0
MAX_GATE_BIAS = 20.0
MAX_DROPOUT = 0.99  # dropout rates: [0, 0.99]; a rate of 1 drops everything
def memory_limit_bytes() -> int:
    """Training-memory limit: the active configuration's (`config.LabConfig.memory_limit_bytes`:
    $RESNET_VIZ_MEMORY_LIMIT_GB GiB, or 2 GiB)."""

    return active().memory_limit_bytes


@dataclass(frozen=True)
class NetConfig:
    """Everything that defines a net (DESIGN.md, "The model contract").

    arch:            "mlp" (stem, `depth` blocks of two linear layers, or of one with
                     block "single", head) or
                     "cnn" (CIFAR-style ResNet of He et al. 2016 §4.2).
    depth:           number of blocks (residual blocks in the residual net).
    width:           units per layer (mlp) or channels of the first stage (cnn:
                     stages have w, 2w, 4w channels; bottleneck outputs are 4x).
    skip:            True for the residual net, False for its plain twin.
    shortcut_scale:  λ in y = λ·shortcut(x) + F(x) (He et al. 2016b, §3).
    norm:            "batch" (BatchNorm after every weight layer) or "none".
    order:           where BN and ReLU go (He 2016b Fig. 4): "post" (a, the original He 2016
                     block), "bn-after" (b), "relu-before" (c), "relu-pre" (d) or "pre" (e,
                     full pre-activation).
    block:           "basic" (two weight layers: 3x3 convs, or Linear for the mlp),
                     "bottleneck" (1x1, 3x3, 1x1), cnn only, or "single" (Balduzzi et
                     al. 2017's one-layer module x + W·relu(BN x)), mlp with order "pre" only.
    input_shape:     shape of one input, e.g. (1, 8, 8) for digits or (2,) for 2-D sets.
    classes:         number of outputs (classes; 1 for a scalar function such as f: R -> R).
    seed:            initialisation seed; twins share it, so they share weights.
    shortcut:        the shortcut path (He 2016b Fig. 2): "identity" (×λ), "scaled" (λ·x +
                     (1 − λ)·F(x)), "gate" (exclusive gating), "shortcut-gate", "conv" (1×1
                     convolution, a Linear layer in the mlp) or "dropout".
    gate_bias:       initial bias b_g of the gate g(x) = sigmoid(conv1x1(x) + b_g) (He 2016b §3.2).
    dropout:         drop rate on the shortcut for shortcut "dropout".
    cardinality:     groups of the bottleneck's 3×3 convolution (ResNeXt, Xie et al. 2017); 1 = ResNet.
    branch_dropout:  dropout between the branch's weight layers (Wide ResNet, Zagoruyko & Komodakis 2016).
    se_ratio:        squeeze-and-excitation at the end of the branch with reduction r (Hu et al. 2018); 0 = off.
    activation:      the nonlinearity of every activation module: "relu" (He et al. 2016, He-initialised),
                     "tanh" or "sigmoid" (Glorot-initialised, as TensorFlow Playground offers them). Configs
                     written before this field existed read back as "relu".
    """

    # Declared once (`settings.setting`): the Build & train form, the pair's name in a link (`key`) and the
    # `train` flags are generated from these. "more": drawn in the form's expander of shortcut variants.
    arch: str = setting("cnn", "Architecture", options=ARCHS, key="arch",
                        help="cnn: CIFAR-style ResNet (He 2016 §4.2); mlp: fully connected blocks. 2-D sets need mlp.")
    depth: int = setting(15, "Blocks (depth)", min=1, max=MAX_DEPTH, step=1, key="depth",
                         help="9 basic CNN blocks = ResNet-20, 15 = ResNet-32, 27 = ResNet-56")
    width: int = setting(16, "Width", min=1, max=MAX_WIDTH, step=1, key="width",
                         help="units (mlp) or first-stage channels (cnn)")
    skip: bool = setting(True, "Residual net (--no-skip: its plain twin)", widget="none", flag="--skip")
    shortcut_scale: float = setting(1.0, "Shortcut scale λ", min=0.0, max=MAX_SHORTCUT_SCALE, step=0.05,
                                    widget="slider", key="lam",
                                    help="y = λ·x + F(x). λ = 1 is the identity shortcut; λ < 1 vanishes, λ > 1 "
                                         "explodes (He 2016b).")
    norm: str = setting("batch", "Normalisation", options=NORMS, key="norm")
    order: str = setting("post", "Activation placement (He 2016b Fig. 4)", options=ORDERS, widget="select", key="order",
                         labels={"post": "(a) original: ReLU after the addition", "bn-after": "(b) BN after the addition",
                                 "relu-before": "(c) ReLU before the addition", "relu-pre": "(d) ReLU-only pre-activation",
                                 "pre": "(e) full pre-activation"},
                         help="Where BN and ReLU go around the addition: (a) the original block of He 2016 … (e) full "
                              "pre-activation, which keeps the shortcut path a pure identity.")
    block: str = setting("basic", "Block", options=BLOCKS, key="block",
                         help="basic: two 3×3 convolutions (or Linear layers); bottleneck (cnn): 1×1, 3×3, 1×1; single "
                              "(mlp, pre-activation): Balduzzi's one-layer module x + W·relu(BN x)")
    input_shape: tuple[int, ...] = setting((1, 8, 8), "Input shape", min=1, widget="none", cli=False)
    classes: int = setting(10, "Classes", min=1, widget="none", cli=False)
    seed: int = setting(0, "Seed", min=0, max=MAX_SEED, step=1, widget="none",
                        help="initial weights and data order (the twins share it; the training config's seed follows "
                             "it on the command line and in the app)")
    shortcut: str = setting("identity", "Shortcut", options=SHORTCUTS, widget="select", key="shortcut", group="more",
                            labels={"identity": "identity × λ", "scaled": "constant scaling λ·x + (1 − λ)·F(x)",
                                    "gate": "exclusive gating", "shortcut-gate": "shortcut-only gating",
                                    "conv": "1×1 convolution", "dropout": "dropout"},
                            help="He 2016b Fig. 2. Constant scaling uses λ on the shortcut and 1 − λ on the branch; "
                                 "the others need λ = 1.")
    gate_bias: float = setting(0.0, "Gate bias b_g", min=-MAX_GATE_BIAS, max=MAX_GATE_BIAS, step=1.0, key="bg", group="more",
                               help="initial bias of the gates g(x) = sigmoid(W·x + b_g)")
    dropout: float = setting(0.5, "Shortcut dropout rate", min=0.0, max=MAX_DROPOUT, step=0.05, key="sdrop", group="more",
                             flag="--shortcut-dropout")
    cardinality: int = setting(1, "Cardinality (bottleneck only; ResNeXt)", min=1, max=MAX_WIDTH, step=1, key="groups",
                               group="more")
    branch_dropout: float = setting(0.0, "Dropout between the branch's layers (Wide ResNet)", min=0.0,
                                    max=MAX_DROPOUT, step=0.05, key="bdrop", group="more")
    se_ratio: int = setting(0, "Squeeze-and-excitation ratio r (0 = off)", min=0, max=MAX_WIDTH, step=1, exclude=(1,),
                            key="se",
                            group="more")
    activation: str = setting("relu", "Activation", options=ACTIVATIONS, key="act", group="more",
                              help="relu (He et al. 2016, He-initialised), or tanh and sigmoid (Glorot-initialised, as "
                                   "TensorFlow Playground offers them)")

    def __post_init__(self) -> None:
        # JSON gives lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))

    # --- twins and serialisation -------------------------------------------------
    def twin(self) -> "NetConfig":
        """The same config with the shortcut flipped: plain <-> residual."""
        return dataclasses.replace(self, skip=not self.skip)

    def replace(self, **changes) -> "NetConfig":
        """A copy with some fields changed (validated)."""
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict:
        """Plain-JSON dictionary of the fields. `activation` is left out while it is "relu" (its default,
        which `from_dict` restores): a config written before the field existed keeps its JSON, and with it
        its run-store key (`store.run_key`), so runs trained and kept on disk before stay valid."""
        d = dataclasses.asdict(self)
        d["input_shape"] = list(self.input_shape)
        if d["activation"] == "relu":
            del d["activation"]
        return d

    def to_json(self) -> str:
        """JSON text; `NetConfig.from_json` reads it back to an equal config."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        """Config from a dictionary; unknown keys are a ConfigError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        cfg = cls(**d)
        cfg.validate()
        return cfg

    @classmethod
    def from_json(cls, text: str) -> "NetConfig":
        """Config from JSON text written by `to_json`."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise ConfigError("config JSON must be an object")
        return cls.from_dict(d)

    # --- checks and derived numbers ---------------------------------------------
    @property
    def name(self) -> str:
        """Short human label, e.g. 'residual CNN-32 (15 blocks)'."""
        kind = "residual" if self.skip else "plain"
        return f"{kind} {self.arch.upper()}-{self.layer_count} ({self.depth} blocks)"

    @property
    def layer_count(self) -> int:
        """Weight layers on the longest path, as in the ResNet names.

        CNN basic: 2 per block + stem + head, so 9 blocks = ResNet-20 (He 2016 §4.2);
        bottleneck: 3 per block + 2, so 54 blocks = ResNet-164 (He 2016b).
        MLP: 2 per block + stem + head; "single" (Balduzzi et al. 2017): 1 per module
        + stem + head.
        """
        per_block = {"bottleneck": 3, "single": 1}.get(self.block, 2)
        return per_block * self.depth + 2

    def stage_depths(self) -> tuple[int, int, int]:
        """Blocks per CNN stage: `depth` spread over three stages, extras first."""
        base, extra = divmod(self.depth, 3)
        return tuple(base + (1 if i < extra else 0) for i in range(3))  # type: ignore[return-value]

    def validate(self) -> None:
        """Raise ConfigError with a clear message when the config is impossible: a field outside its declared
        domain (`settings.check_all`), or fields that do not go together."""
        check_all(self)
        if self.block == "bottleneck" and self.arch != "cnn":
            raise ConfigError("bottleneck blocks exist for the cnn only")
        if self.block == "single" and self.arch != "mlp":
            raise ConfigError("the one-layer module (block 'single', Balduzzi et al. 2017) exists for the mlp "
                              "only; a cnn uses basic or bottleneck blocks")
        if self.block == "single" and self.shortcut != "identity":
            raise ConfigError("the one-layer module (block 'single') has an identity shortcut only")
        if self.shortcut == "scaled" and not 0 < self.shortcut_scale < 1:
            raise ConfigError(f"constant scaling λ·x + (1 − λ)·F(x) needs 0 < λ < 1, got {self.shortcut_scale!r}")
        if self.shortcut in ("gate", "shortcut-gate", "conv", "dropout") and self.shortcut_scale != 1:
            raise ConfigError(f"shortcut '{self.shortcut}' is not scaled: leave λ at 1")
        if self.cardinality > 1 and self.block != "bottleneck":
            raise ConfigError("cardinality (grouped 3×3 convolutions, ResNeXt) needs bottleneck blocks")
        if self.cardinality > 1 and self.width % self.cardinality:
            raise ConfigError(f"width {self.width} must be a multiple of the cardinality {self.cardinality}")
        if self.se_ratio and self.width < self.se_ratio:
            raise ConfigError(f"squeeze-and-excitation with ratio {self.se_ratio} needs width >= {self.se_ratio}")
        if self.block == "single" and (self.se_ratio or self.branch_dropout):
            raise ConfigError("the one-layer module (block 'single') has no squeeze-and-excitation or branch dropout")
        if self.block == "single" and self.order != "pre":
            raise ConfigError("the one-layer module x + W·relu(BN x) (block 'single', Balduzzi et al. 2017) is "
                              "pre-activation by definition: use order 'pre'")
        if self.arch == "cnn" and self.depth < 3:
            raise ConfigError("a cnn needs depth >= 3 (one block per stage at least)")
        if not self.input_shape:
            raise ConfigError("input shape must be positive, got ()")
        if self.arch == "cnn" and len(self.input_shape) != 3:
            raise ConfigError(
                f"a cnn needs image inputs (channels, height, width); this dataset gives {self.input_shape}: use arch mlp"
            )


# --- building blocks -------------------------------------------------------------


def _act(activation: str) -> nn.Module:
    """A new activation module (never shared between places, never in-place: hooks and captum's layer
    methods need each activation to be its own module)."""
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]()


def _norm1d(n: int, norm: str) -> nn.Module:
    return nn.BatchNorm1d(n) if norm == "batch" else nn.Identity()


def _norm2d(n: int, norm: str) -> nn.Module:
    return nn.BatchNorm2d(n) if norm == "batch" else nn.Identity()


class ShortcutA(nn.Module):
    """Parameter-free projection shortcut, option A of He et al. 2016 §4.2.

    Subsamples by `stride` and zero-pads the extra channels, so it adds no weights
    and the plain and residual twins stay parameter-identical.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        pad = self.out_channels - self.in_channels
        if pad > 0:
            x = F.pad(x, (0, 0, 0, 0, 0, pad))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_channels}->{self.out_channels}, stride={self.stride}"


class Block(nn.Module):
    """One block: y = out_act(F(x) + λ·shortcut(x)) with skip, y = out_act(F(x)) without.

    Attributes used by the views:
      branch       the residual branch F (an nn.Sequential; its last layer is
                   `branch[-1]`).
      shortcut     nn.Identity, ShortcutA at a downsampling block, a 1×1 convolution
                   (shortcut "conv") or nn.Dropout (shortcut "dropout").
      gate         None, or the layer whose sigmoid is the gate g(x) (He 2016b §3.2).
      gate_branch  True for exclusive gating (the branch is scaled by g), False when only
                   the shortcut is gated (by 1 − g).
      out_act      what follows the addition: ReLU ("post"), BN-ReLU ("bn-after"), or
                   nn.Identity (the other orders).
      skip         whether the shortcut is added.
      scale        λ on the shortcut; branch_scale the factor on F (1 − λ for "scaled", else 1).
      downsample   True where the block changes resolution or width; deleting
                   such a block means y = shortcut(x), not y = x.
    """

    def __init__(self, branch: nn.Sequential, shortcut: nn.Module, out_act: nn.Module,
                 skip: bool, scale: float, downsample: bool, *, branch_scale: float = 1.0,
                 gate: nn.Module | None = None, gate_branch: bool = False) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.gate = gate
        self.gate_branch = gate_branch
        self.out_act = out_act
        self.skip = skip
        self.scale = float(scale)
        self.branch_scale = float(branch_scale)
        self.downsample = downsample

    def terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(branch term, shortcut term) of the block for input x, before they are added;
        the shortcut term is None without skip."""
        f = self.branch(x)
        if not self.skip:
            return f, None
        s = self.shortcut(x)
        if self.gate is not None:  # He 2016b Fig. 2(c, d): g = sigmoid(W_g x + b_g)
            g = torch.sigmoid(self.gate(x))
            f, s = (g * f if self.gate_branch else f), (1 - g) * s
        return self.branch_scale * f, self.scale * s

    def deleted(self, x: torch.Tensor) -> torch.Tensor:
        """What is left of the block with its branch deleted (Veit et al. 2016): y = x, or
        y = shortcut(x) where the shape changes or the shortcut has its own layer (1×1 conv,
        dropout); a gated shortcut keeps its gate, y = (1 − g(x))·shortcut(x)."""
        if self.gate is not None:
            return (1 - torch.sigmoid(self.gate(x))) * self.shortcut(x)
        if self.downsample or not isinstance(self.shortcut, nn.Identity):
            return self.shortcut(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, s = self.terms(x)
        out = f if s is None else f + s  # the shortcut is added here
        return self.out_act(out)

    def extra_repr(self) -> str:
        return f"skip={self.skip}, scale={self.scale:g}, downsample={self.downsample}"


def _seq(*layers: nn.Module) -> nn.Sequential:
    # Leave out the Identity stand-ins for norm="none", so branch[-1] is a real layer.
    return nn.Sequential(*[m for m in layers if not isinstance(m, nn.Identity)])


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): x · sigmoid(W₂ relu(W₁ mean(x))), a learned weight per
    channel from the channel means (per unit for the mlp), at the end of a residual branch."""

    def __init__(self, channels: int, ratio: int) -> None:
        super().__init__()
        hidden = max(channels // ratio, 1)
        self.fc1, self.fc2 = nn.Linear(channels, hidden), nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.mean(dim=(2, 3)) if x.dim() == 4 else x
        w = torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))
        return x * (w[:, :, None, None] if x.dim() == 4 else w)


def _branch(weights: list[nn.Module], norm: str, order: str, norm_layer, first: bool,
            dropout: float = 0.0, se_ratio: int = 0, activation: str = "relu") -> nn.Sequential:
    """The residual branch around `weights` (Linear or Conv layers) in one of He 2016b's orders (Fig. 4).

    post (a) / bn-after (b) / relu-before (c): weight-BN-ReLU, ..., the last weight layer followed by
    BN (a), nothing (b: the BN comes after the addition) or BN-ReLU (c). relu-pre (d): ReLU-weight-BN
    each; pre (e): BN-ReLU-weight each. For the first unit of (d) and (e) the stem's activation is the
    branch's first one (He 2016b §4: "the first activation right after conv1, before splitting").
    `dropout` goes between the weight layers (Wide ResNet, Zagoruyko & Komodakis 2016 §2.3), a
    squeeze-and-excitation module with reduction `se_ratio` at the end (Hu et al. 2018, SE-ResNet).
    "ReLU" stands for `activation` (NetConfig.activation), one new module at each place.
    """
    act = lambda: _act(activation)  # noqa: E731
    layers: list[nn.Module] = []
    for i, w in enumerate(weights):
        last, n_in, n_out = i == len(weights) - 1, _features(w, "in"), _features(w, "out")
        if order == "pre":
            layers += ([] if first and i == 0 else [norm_layer(n_in, norm), act()]) + [w]
        elif order == "relu-pre":
            layers += ([] if first and i == 0 else [act()]) + [w, norm_layer(n_out, norm)]
        elif not last:
            layers += [w, norm_layer(n_out, norm), act()]
        else:
            layers += {"post": [w, norm_layer(n_out, norm)], "bn-after": [w],
                       "relu-before": [w, norm_layer(n_out, norm), act()]}[order]
        if dropout and not last:
            layers.append(nn.Dropout(dropout))
    if se_ratio:
        layers.append(SqueezeExcite(_features(weights[-1], "out"), se_ratio))
    return _seq(*layers)


def _features(layer: nn.Module, side: str) -> int:
    if isinstance(layer, nn.Linear):
        return layer.in_features if side == "in" else layer.out_features
    return layer.in_channels if side == "in" else layer.out_channels


def _mlp_branch(c: NetConfig, first: bool = False) -> nn.Sequential:
    bias, width = c.norm == "none", c.width
    if c.block == "single":  # Balduzzi et al. 2017: F(x) = W·relu(BN x)
        return _seq(_norm1d(width, c.norm), _act(c.activation), nn.Linear(width, width, bias=bias))
    return _branch([nn.Linear(width, width, bias=bias), nn.Linear(width, width, bias=bias)], c.norm, c.order, _norm1d,
                   first, c.branch_dropout, c.se_ratio, c.activation)


def _conv(cin: int, cout: int, k: int, stride: int, bias: bool, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias, groups=groups)


def _cnn_branch(c: NetConfig, cin: int, mid: int, cout: int, stride: int, first: bool = False) -> nn.Sequential:
    bias = c.norm == "none"
    if c.block == "basic":
        convs = [_conv(cin, mid, 3, stride, bias), _conv(mid, cout, 3, 1, bias)]
    else:  # bottleneck: 1x1 reduce, 3x3 (carries the stride; grouped in ResNeXt), 1x1 expand
        convs = [_conv(cin, mid, 1, 1, bias), _conv(mid, mid, 3, stride, bias, groups=c.cardinality),
                 _conv(mid, cout, 1, 1, bias)]
    return _branch(convs, c.norm, c.order, _norm2d, first, c.branch_dropout, c.se_ratio, c.activation)


def _out_act(c: NetConfig, n: int, norm_layer) -> nn.Module:
    """What follows the addition (He 2016b Fig. 4): ReLU (a), BN-ReLU (b), nothing (c, d, e)."""
    if c.order == "post":
        return _act(c.activation)
    if c.order == "bn-after":
        return _seq(norm_layer(n, c.norm), _act(c.activation))
    return nn.Identity()


def _shortcut_parts(c: NetConfig, make_layer, default: nn.Module) -> dict:
    """The shortcut, gate and scales of one block for shortcut kind `c.shortcut` (He 2016b Fig. 2).

    `make_layer()` builds a 1×1 convolution (a Linear layer in the mlp) from the block's input to its
    output shape; `default` is the parameter-free shortcut (identity, or option A)."""
    kind = c.shortcut if c.skip else "identity"  # the plain twin has no shortcut path at all
    parts = dict(shortcut=default, gate=None, gate_branch=False, branch_scale=1.0)
    if kind in ("conv", "gate", "shortcut-gate"):
        with torch.random.fork_rng(devices=[]):  # leave the main stream (the branch weights) untouched
            layer = make_layer()
            layer._resnet_viz_extra = True
        if kind == "conv":
            parts["shortcut"] = layer
        else:
            with torch.no_grad():
                layer.bias.fill_(c.gate_bias)
            parts.update(gate=layer, gate_branch=kind == "gate")
    elif kind == "dropout":
        parts["shortcut"] = nn.Sequential(default, nn.Dropout(c.dropout)) if not isinstance(default, nn.Identity) \
            else nn.Dropout(c.dropout)
    elif kind == "scaled":
        parts["branch_scale"] = 1.0 - c.shortcut_scale
    return parts


class ResNet(nn.Module):
    """A plain or residual net: `stem`, `blocks` (nn.ModuleList of `Block`), `head`.

    forward(x) = head(blocks[n-1](... blocks[0](stem(x)))); the views run these
    three parts themselves to delete, reorder or reroute blocks without touching
    the module.
    """

    def __init__(self, config: NetConfig, stem: nn.Module, blocks: list[Block], head: nn.Module) -> None:
        super().__init__()
        self.config = config
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def _build(config: NetConfig) -> ResNet:
    c = config
    bias = c.norm == "none"
    if c.arch == "mlp":
        in_features = math.prod(c.input_shape)
        single = c.block == "single"
        # Balduzzi's stem is one Linear layer: every module starts with its own BN-ReLU.
        stem_act = [] if single else [_norm1d(c.width, c.norm), _act(c.activation)]
        stem = _seq(nn.Flatten(), nn.Linear(in_features, c.width, bias=bias), *stem_act)
        blocks = []
        for i in range(c.depth):
            branch = _mlp_branch(c, first=i == 0)
            parts = _shortcut_parts(c, lambda: nn.Linear(c.width, c.width), nn.Identity())
            blocks.append(Block(branch, out_act=_out_act(c, c.width, _norm1d), skip=c.skip, scale=c.shortcut_scale,
                                downsample=False, **parts))
        # He 2016b's last unit: one activation after the last addition; Balduzzi's read-out is linear.
        final = _final_act(c, c.width, _norm1d) if not single else []
        head = _seq(*final, nn.Linear(c.width, c.classes))
        return ResNet(c, stem, blocks, head)

    channels = c.input_shape[0]
    expansion = 4 if c.block == "bottleneck" else 1
    # Every order: conv-BN-ReLU. For the pre-activation orders this activation is the first unit's,
    # taken before the split (He 2016b §4), so the first block's branch starts with its conv.
    stem = _seq(_conv(channels, c.width, 3, 1, bias), _norm2d(c.width, c.norm), _act(c.activation))
    blocks = []
    cin = c.width
    for stage, n in enumerate(c.stage_depths()):
        mid = c.width * 2**stage
        cout = mid * expansion
        for i in range(n):
            stride = 2 if (stage > 0 and i == 0) else 1
            down = stride != 1 or cin != cout
            default = ShortcutA(cin, cout, stride) if down else nn.Identity()
            branch = _cnn_branch(c, cin, mid, cout, stride, first=not blocks)
            parts = _shortcut_parts(c, lambda cin=cin, cout=cout, stride=stride: nn.Conv2d(
                cin, cout, 1, stride=stride, bias=True), default)
            blocks.append(Block(branch, out_act=_out_act(c, cout, _norm2d), skip=c.skip, scale=c.shortcut_scale,
                                downsample=down, **parts))
            cin = cout
    head = _seq(*_final_act(c, cin, _norm2d), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, c.classes))
    return ResNet(c, stem, blocks, head)


def _final_act(c: NetConfig, n: int, norm_layer) -> list[nn.Module]:
    """The pre-activation orders' extra activation after the last addition (He 2016b §4):
    BN-ReLU for full pre-activation (e), ReLU for ReLU-only pre-activation (d)."""
    if c.order == "pre":
        return [norm_layer(n, c.norm), _act(c.activation)]
    return [_act(c.activation)] if c.order == "relu-pre" else []


def _init_weights(model: nn.Module, activation: str = "relu") -> None:
    # ReLU: He et al. 2015 initialisation, as torchvision's resnet.py does (variance 2/fan: the factor 2
    # makes up for the half of each layer's input that ReLU zeroes). tanh and sigmoid: Glorot & Bengio 2010
    # (variance 2/(fan_in + fan_out), gain 1), which they derived for these saturating activations and which
    # is close to TensorFlow Playground's own U(−0.5, 0.5) for its 8-unit layers (Smilkov et al. 2017). He's
    # factor 2 would push tanh and sigmoid units into saturation from the start, a failure of the
    # initialisation rather than of depth. The layers only a residual variant has (gates, 1×1 shortcuts)
    # are skipped here and initialised from their own stream (`_init_extras`), so twins draw the same
    # numbers for the layers they share.
    extras = {id(p) for m in model.modules() if getattr(m, "_resnet_viz_extra", False) for p in m.parameters()}
    for m in model.modules():
        if any(id(p) in extras for p in m.parameters(recurse=False)):
            continue
        if isinstance(m, (nn.Conv2d, nn.Linear)) and activation != "relu":
            nn.init.xavier_normal_(m.weight)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            nn.init.zeros_(m.bias)


def _init_extras(model: nn.Module, seed: int) -> None:
    # Gates and 1×1 shortcuts: small weights (a gate starts near sigmoid(b_g) everywhere), He-normal
    # 1×1 shortcuts with zero bias; their own seed, after the shared layers.
    gen = torch.Generator().manual_seed(seed + 7919)
    for block in getattr(model, "blocks", []):
        if block.gate is not None:
            with torch.no_grad():
                block.gate.weight.normal_(0.0, 0.01, generator=gen)
        if getattr(block.shortcut, "_resnet_viz_extra", False):
            w = block.shortcut.weight
            fan = w.shape[1] * (w[0, 0].numel() if w.dim() > 2 else 1)
            with torch.no_grad():
                w.normal_(0.0, math.sqrt(2.0 / fan), generator=gen)
                block.shortcut.bias.zero_()


# PyTorch's global RNG is one per process: two threads seeding and drawing from it at once (two
# sessions of a server building nets) would hand each other's numbers over. Builds take turns.
_BUILD_LOCK = threading.RLock()


def build_model(config: NetConfig, device: torch.device | str | None = None) -> ResNet:
    """Build the net described by `config`, initialised from `config.seed` (He et al. 2015 for ReLU nets,
    Glorot & Bengio 2010 for tanh and sigmoid: see `_init_weights`).

    The global RNG is left untouched; twins (`config.twin()`) get identical weights. Safe to call
    from several threads at once: the seeded part runs under a process-wide lock.
    """
    config.validate()
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if device is not None and torch.device(device).type == "meta":
            with torch.device("meta"):
                model = _build(config)
        else:
            model = _build(config)
            _init_weights(model, config.activation)
            _init_extras(model, config.seed)
    if device is not None and torch.device(device).type != "meta":
        model = model.to(device)
    return model


# --- size before building --------------------------------------------------------


@dataclass(frozen=True)
class SizeEstimate:
    """Parameter count and memory needed to train a config (bytes, float32)."""

    parameters: int
    activations_per_sample: int  # floats kept for backward, per input sample
    batch_size: int
    bytes_total: int

    @property
    def gib(self) -> float:
        """Total estimate in GiB."""
        return self.bytes_total / 1024**3


def estimate_size(config: NetConfig, batch_size: int = 128) -> SizeEstimate:
    """Parameter count and training-memory estimate, computed without allocating.

    The net is built on PyTorch's meta device (shapes only) and one forward pass
    counts the elements of every module output. Memory = 4 bytes × (4 × params
    [weights, grads, momentum, slack] + 2 × activations × batch [kept for
    backward, plus their gradients]).
    """
    config.validate()
    model = build_model(config, device="meta")
    params = sum(p.numel() for p in model.parameters())
    counted = 0

    def hook(_m, _i, out):
        nonlocal counted
        if isinstance(out, torch.Tensor):
            counted += out.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model.eval()(torch.empty((1, *config.input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
    total = 4 * (4 * params + 2 * counted * batch_size)
    return SizeEstimate(params, counted, batch_size, total)


def check_memory(config: NetConfig, batch_size: int = 128, limit_bytes: int | None = None) -> SizeEstimate:
    """`estimate_size`, raising ConfigError when it exceeds `limit_bytes` (default: `memory_limit_bytes()`)."""
    limit_bytes = memory_limit_bytes() if limit_bytes is None else limit_bytes
    est = estimate_size(config, batch_size)
    if est.bytes_total > limit_bytes:
        raise ConfigError(
            f"this config needs about {est.gib:.1f} GiB to train with batch size {batch_size}, "
            f"over the limit of {limit_bytes / 1024**3:.1f} GiB: reduce depth, width or batch size"
        )
    return est


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of a built model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
