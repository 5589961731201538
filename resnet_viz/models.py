"""Plain networks and their residual twins.

`NetConfig` describes a net completely; `build_model(config)` turns it into a
`ResNet` module. The plain twin of a config (`config.twin()`) differs only in
`skip`, so both nets get identical initial weights: the option-A shortcut of
He et al. 2016 (§4.2, subsample + zero-pad channels) has no parameters, and the
plain block owns exactly the residual branch's layers.

The one line where the identity is added lives in `Block.forward`:

    out = branch(x) + λ · shortcut(x)          (He et al. 2016, eq. 1 with a scale)

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
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

ARCHS = ("mlp", "cnn")
NORMS = ("batch", "none")
ORDERS = ("post", "pre")
BLOCKS = ("basic", "bottleneck", "single")

# Validation limits: generous for a lab, small enough to refuse nonsense early.
MAX_DEPTH = 200
MAX_WIDTH = 1024
MAX_SHORTCUT_SCALE = 4.0
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3


def memory_limit_bytes() -> int:
    """Training-memory limit: $RESNET_VIZ_MEMORY_LIMIT_GB (GiB) or 2 GiB."""
    import os

    try:
        return int(float(os.environ["RESNET_VIZ_MEMORY_LIMIT_GB"]) * 1024**3)
    except (KeyError, ValueError):
        return DEFAULT_MEMORY_LIMIT_BYTES


class ConfigError(ValueError):
    """A configuration that cannot be built or trained; the message says why."""


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
    order:           "post" (He 2016) or "pre" (full pre-activation, He 2016b).
    block:           "basic" (two weight layers: 3x3 convs, or Linear for the mlp),
                     "bottleneck" (1x1, 3x3, 1x1), cnn only, or "single" (Balduzzi et
                     al. 2017's one-layer module x + W·relu(BN x)), mlp with order "pre" only.
    input_shape:     shape of one input, e.g. (1, 8, 8) for digits or (2,) for 2-D sets.
    classes:         number of outputs (classes; 1 for a scalar function such as f: R -> R).
    seed:            initialisation seed; twins share it, so they share weights.
    """

    arch: str = "cnn"
    depth: int = 9
    width: int = 16
    skip: bool = True
    shortcut_scale: float = 1.0
    norm: str = "batch"
    order: str = "post"
    block: str = "basic"
    input_shape: tuple[int, ...] = (1, 8, 8)
    classes: int = 10
    seed: int = 0

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
        """Plain-JSON dictionary of the fields."""
        d = dataclasses.asdict(self)
        d["input_shape"] = list(self.input_shape)
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
        """Short human label, e.g. 'residual CNN-20 (9 blocks)'."""
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
        """Raise ConfigError with a clear message when the config is impossible."""
        if self.arch not in ARCHS:
            raise ConfigError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.order not in ORDERS:
            raise ConfigError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.block not in BLOCKS:
            raise ConfigError(f"block must be one of {BLOCKS}, got {self.block!r}")
        if self.block == "bottleneck" and self.arch != "cnn":
            raise ConfigError("bottleneck blocks exist for the cnn only")
        if self.block == "single" and self.arch != "mlp":
            raise ConfigError("the one-layer module (block 'single', Balduzzi et al. 2017) exists for the mlp "
                              "only; a cnn uses basic or bottleneck blocks")
        if self.block == "single" and self.order != "pre":
            raise ConfigError("the one-layer module x + W·relu(BN x) (block 'single', Balduzzi et al. 2017) is "
                              "pre-activation by definition: use order 'pre'")
        if not isinstance(self.depth, int) or not 1 <= self.depth <= MAX_DEPTH:
            raise ConfigError(f"depth must be an integer from 1 to {MAX_DEPTH}, got {self.depth!r}")
        if self.arch == "cnn" and self.depth < 3:
            raise ConfigError("a cnn needs depth >= 3 (one block per stage at least)")
        if not isinstance(self.width, int) or not 1 <= self.width <= MAX_WIDTH:
            raise ConfigError(f"width must be an integer from 1 to {MAX_WIDTH}, got {self.width!r}")
        lam = self.shortcut_scale
        if not (isinstance(lam, (int, float)) and math.isfinite(lam) and 0 <= lam <= MAX_SHORTCUT_SCALE):
            raise ConfigError(f"shortcut scale λ must be in [0, {MAX_SHORTCUT_SCALE:g}], got {lam!r}")
        if not isinstance(self.classes, int) or self.classes < 1:
            raise ConfigError(f"classes (outputs) must be an integer >= 1, got {self.classes!r}")
        if any(s < 1 for s in self.input_shape) or not self.input_shape:
            raise ConfigError(f"input shape must be positive, got {self.input_shape}")
        if self.arch == "cnn" and len(self.input_shape) != 3:
            raise ConfigError(
                f"a cnn needs image inputs (channels, height, width); this dataset gives {self.input_shape}: use arch mlp"
            )


# --- building blocks -------------------------------------------------------------


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
      branch      the residual branch F (an nn.Sequential; its last layer is
                  `branch[-1]`).
      shortcut    nn.Identity, or ShortcutA at a downsampling block.
      out_act     ReLU after the addition ("post" order) or nn.Identity ("pre").
      skip        whether the shortcut is added.
      scale       λ.
      downsample  True where the block changes resolution or width; deleting
                  such a block means y = shortcut(x), not y = x.
    """

    def __init__(self, branch: nn.Sequential, shortcut: nn.Module, out_act: nn.Module,
                 skip: bool, scale: float, downsample: bool) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.out_act = out_act
        self.skip = skip
        self.scale = float(scale)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.skip:
            out = out + self.scale * self.shortcut(x)  # the identity is added here
        return self.out_act(out)

    def extra_repr(self) -> str:
        return f"skip={self.skip}, scale={self.scale:g}, downsample={self.downsample}"


def _seq(*layers: nn.Module) -> nn.Sequential:
    # Leave out the Identity stand-ins for norm="none", so branch[-1] is a real layer.
    return nn.Sequential(*[m for m in layers if not isinstance(m, nn.Identity)])


def _pre_act(n: int, norm: str, norm_layer, first: bool) -> list[nn.Module]:
    # He 2016b: the first unit's activation is the stem's, taken before the split.
    return [] if first else [norm_layer(n, norm), nn.ReLU()]


def _mlp_branch(width: int, norm: str, order: str, block: str = "basic", first: bool = False) -> nn.Sequential:
    bias = norm == "none"
    if block == "single":  # Balduzzi et al. 2017: F(x) = W·relu(BN x)
        return _seq(_norm1d(width, norm), nn.ReLU(), nn.Linear(width, width, bias=bias))
    if order == "post":
        return _seq(
            nn.Linear(width, width, bias=bias), _norm1d(width, norm), nn.ReLU(),
            nn.Linear(width, width, bias=bias), _norm1d(width, norm),
        )
    return _seq(
        *_pre_act(width, norm, _norm1d, first), nn.Linear(width, width, bias=bias),
        _norm1d(width, norm), nn.ReLU(), nn.Linear(width, width, bias=bias),
    )


def _conv(cin: int, cout: int, k: int, stride: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)


def _cnn_branch(cin: int, mid: int, cout: int, stride: int, norm: str, order: str,
                block: str, first: bool = False) -> nn.Sequential:
    bias = norm == "none"
    if block == "basic":
        convs = [_conv(cin, mid, 3, stride, bias), _conv(mid, cout, 3, 1, bias)]
    else:  # bottleneck: 1x1 reduce, 3x3 (carries the stride), 1x1 expand
        convs = [_conv(cin, mid, 1, 1, bias), _conv(mid, mid, 3, stride, bias), _conv(mid, cout, 1, 1, bias)]
    layers: list[nn.Module] = []
    for i, conv in enumerate(convs):
        last = i == len(convs) - 1
        if order == "post":
            layers += [conv, _norm2d(conv.out_channels, norm)]
            if not last:
                layers.append(nn.ReLU())
        else:
            layers += [*_pre_act(conv.in_channels, norm, _norm2d, first and i == 0), conv]
    return _seq(*layers)


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
    act_post = (lambda: nn.ReLU()) if c.order == "post" else (lambda: nn.Identity())
    bias = c.norm == "none"
    if c.arch == "mlp":
        in_features = math.prod(c.input_shape)
        single = c.block == "single"
        # Balduzzi's stem is one Linear layer: every module starts with its own BN-ReLU.
        stem_act = [] if single else [_norm1d(c.width, c.norm), nn.ReLU()]
        stem = _seq(nn.Flatten(), nn.Linear(in_features, c.width, bias=bias), *stem_act)
        blocks = [Block(_mlp_branch(c.width, c.norm, c.order, c.block, first=i == 0), nn.Identity(), act_post(),
                        c.skip, c.shortcut_scale, downsample=False) for i in range(c.depth)]
        # He 2016b's last unit: one BN-ReLU after the last addition; Balduzzi's read-out is linear.
        final = [_norm1d(c.width, c.norm), nn.ReLU()] if c.order == "pre" and not single else []
        head = _seq(*final, nn.Linear(c.width, c.classes))
        return ResNet(c, stem, blocks, head)

    channels = c.input_shape[0]
    expansion = 4 if c.block == "bottleneck" else 1
    # Both orders: conv-BN-ReLU. For "pre" this BN-ReLU is the first unit's pre-activation,
    # taken before the split (He 2016b §4), so the first block's branch starts with its conv.
    stem = _seq(_conv(channels, c.width, 3, 1, bias), _norm2d(c.width, c.norm), nn.ReLU())
    blocks = []
    cin = c.width
    for stage, n in enumerate(c.stage_depths()):
        mid = c.width * 2**stage
        cout = mid * expansion
        for i in range(n):
            stride = 2 if (stage > 0 and i == 0) else 1
            down = stride != 1 or cin != cout
            shortcut = ShortcutA(cin, cout, stride) if down else nn.Identity()
            branch = _cnn_branch(cin, mid, cout, stride, c.norm, c.order, c.block, first=not blocks)
            blocks.append(Block(branch, shortcut, act_post(), c.skip, c.shortcut_scale, down))
            cin = cout
    final = [_norm2d(cin, c.norm), nn.ReLU()] if c.order == "pre" else []
    head = _seq(*final, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, c.classes))
    return ResNet(c, stem, blocks, head)


def _init_weights(model: nn.Module) -> None:
    # He et al. 2015 initialisation, as torchvision's resnet.py does.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            nn.init.zeros_(m.bias)


def build_model(config: NetConfig, device: torch.device | str | None = None) -> ResNet:
    """Build the net described by `config`, He-initialised from `config.seed`.

    The global RNG is left untouched; twins (`config.twin()`) get identical weights.
    """
    config.validate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if device is not None and torch.device(device).type == "meta":
            with torch.device("meta"):
                model = _build(config)
        else:
            model = _build(config)
            _init_weights(model)
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
