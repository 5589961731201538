"""Why the default pair's whole-set (eval-mode) loss spikes after the warm-up epoch and starts at about 13 for the
residual net (issue 32): BatchNorm's running statistics, not a loss the optimiser saw.

    python benchmarks/warmup_spike.py

For each net of the shipped default pair: the learning rate at the warm-up's last step; the net retrained for its
one warm-up epoch (the recorded eval-mode loss again: the same run) evaluated in eval mode, and again after its BN
statistics are recomputed over the whole training set (train mode, momentum None); the same for the initial weights;
the logits' spread in each case. Measured (CPU, one thread): the plain net's 687 after epoch 1 (logit std 393) is
1.61 with recomputed statistics, as its last minibatch losses (1.6–1.9); the residual net starts at 13.8 (logit std
8.5; BN's running statistics are still 0 and 1, so BN normalises nothing and 15 branches add up) and at 3.28 with
recomputed statistics (first minibatch 3.65); the plain net starts at ln 10 = 2.30 (logit std 2.4×10⁻⁴: its signal
fades through 15 unnormalised layers). `degradation.curve_notes` states this from each run's own history.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from resnet_viz.assets import default_pair_configs, load_shipped
from resnet_viz.data import load_dataset
from resnet_viz.models import build_model
from resnet_viz.train import lr_factor, train


def loss_and_spread(model, x, y, recompute_bn: bool = False) -> tuple[float, float]:
    """Cross-entropy and logit standard deviation over (x, y) in eval mode, with BN's statistics as they are or
    recomputed over x (a copy of the model; the original is untouched)."""
    m = copy.deepcopy(model).eval()
    if recompute_bn:
        for mod in m.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.train()
                mod.momentum = None  # a cumulative average: exactly the statistics of x
                mod.reset_running_stats()
        with torch.no_grad():
            m(x)
        m.eval()
    with torch.no_grad():
        out = m(x)
    return F.cross_entropy(out, y).item(), out.std().item()


def main() -> None:
    for net, cfg in default_pair_configs():
        shipped = load_shipped(net, cfg) or train(net, cfg)
        data = load_dataset(cfg.dataset, cfg.data_root, cfg.data_limit)
        x, y = data.x_train, data.y_train
        spe = math.ceil(len(x) / cfg.batch_size)
        h = shipped.history
        print(f"{net.name}: eval-mode loss at epochs 0, 1, 2: {[round(v, 4) for v in h.epoch_train_loss[:3]]}")
        print(f"  learning rate at the warm-up's last step: {cfg.lr * lr_factor(cfg, spe * cfg.epochs)(spe - 1):g}")
        one = train(net, cfg.replace(epochs=1, checkpoints_per_epoch=0), data=data)
        print(f"  after the warm-up epoch, eval mode: {loss_and_spread(one.model, x, y)} "
              f"(recorded {one.history.epoch_train_loss[1]:.4f})")
        print(f"  after the warm-up epoch, BN statistics recomputed: {loss_and_spread(one.model, x, y, True)}; "
              f"last minibatch losses {[round(v, 3) for v in h.step_loss[spe - 3:spe]]}")
        fresh = build_model(net, "cpu")
        print(f"  at initialisation, eval mode: {loss_and_spread(fresh, x, y)}; "
              f"BN statistics recomputed: {loss_and_spread(fresh, x, y, True)}; first minibatch {h.step_loss[0]:.4f}")


if __name__ == "__main__":
    main()
