"""Random directions in weight space, scaled to the weights they perturb (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets", §4: filter normalization).

A direction has one tensor per parameter of the net (in `model.parameters()` order). Each filter's slice
(output channel of a conv, row of a linear layer) is rescaled to the norm of that filter's weights, so that
layers with small weights are not swamped; biases and BatchNorm γ/β get a zero direction unless asked for.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ...models import ConfigError

NORMALIZATIONS = ("filter", "layer", "none")


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach() for p in model.parameters()]


def unflatten(vector: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Split a flat vector back into tensors shaped like `like` (inverse of `util.flatten`)."""
    out, offset = [], 0
    for t in like:
        n = t.numel()
        out.append(vector[offset:offset + n].view_as(t).clone())
        offset += n
    if offset != vector.numel():
        raise ValueError(f"vector has {vector.numel()} entries, the model {offset} parameters")
    return out


def normalize_direction(direction: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                        normalization: str = "filter", include_bias_bn: bool = False) -> list[torch.Tensor]:
    """Scale a direction to the weights it perturbs (Li et al. 2018 §4).

    filter: for each filter (slice along the first axis of a tensor with ≥ 2 axes:
            a conv's output channel, a linear layer's row) d ← d / ‖d‖ · ‖θ‖.
    layer:  the same with each whole tensor as one unit.
    none:   the raw direction (shows why normalization matters: layers with small
            weights are swamped).
    1-axis tensors (biases, BatchNorm γ and β) get a zero direction unless
    `include_bias_bn`; then, as in Li et al.'s code (`normalize_directions_for_weights`
    with ignore='biasbn' off), their direction is the parameter itself, d = θ (so a
    step α moves each bias to (1 + α)·b, and a zero tensor such as BN β at
    initialisation stays put). Under "none" nothing is rescaled, so they keep the raw
    Gaussian draw.
    """
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    out = []
    for d, w in zip(direction, weights):
        d = d.detach().clone().float()
        w = w.detach().float().to(d.device)
        if w.dim() <= 1:
            if not include_bias_bn:
                d.zero_()
            elif normalization != "none":
                d = w.clone()  # Li: d.copy_(w) for 1-D tensors ("biasbn" not ignored)
        elif normalization == "filter":
            dn = d.reshape(d.shape[0], -1).norm(dim=1).clamp_min(1e-12)
            wn = w.reshape(w.shape[0], -1).norm(dim=1)
            d = d * (wn / dn).view(-1, *([1] * (d.dim() - 1)))
        elif normalization == "layer":
            d = d * (w.norm() / d.norm().clamp_min(1e-12))
        out.append(d)
    return out


def random_direction(model: nn.Module, seed: int = 0, normalization: str = "filter",
                     include_bias_bn: bool = False, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """A Gaussian direction with one tensor per parameter of `model` (in `model.parameters()`
    order), normalized by `normalize_direction` (Li et al. 2018 §4). Deterministic for a seed
    and a parameter layout, so twins with identical shapes get identical directions."""
    gen = generator or torch.Generator().manual_seed(int(seed))
    weights = _params(model)
    raw = [torch.randn(w.shape, generator=gen, dtype=torch.float32) for w in weights]
    return normalize_direction(raw, [w.cpu() for w in weights], normalization, include_bias_bn)


def random_directions(model: nn.Module, seed: int = 0, normalization: str = "filter",
                      include_bias_bn: bool = False, count: int = 2) -> list[list[torch.Tensor]]:
    """`count` independent Gaussian directions (δ, η, ...) drawn from one seeded generator."""
    gen = torch.Generator().manual_seed(int(seed))
    return [random_direction(model, normalization=normalization, include_bias_bn=include_bias_bn, generator=gen)
            for _ in range(count)]
