"""Benchmark of the unrolled-ensemble view (Veit et al. 2016) on the default pair's architecture
(ResNet-20-style CNN, 9 blocks, width 16) over the digits test split (360 images), against bare
PyTorch work measured in the same run:

    single deletion   every single-block deletion of both nets (+ the intact nets),
                      reference = 2 x 10 bare forward passes of the test split
    k-sweep           accuracy against k with the default sampling, both nets,
                      reference = one bare forward pass per evaluated subset
    lesion study      what the page computes per pair: single deletions, k-sweep, block swaps
    path gradients    g(k) for k = 0..9 with the default sampling (residual net),
                      reference = one bare forward+backward per sampled path

Targets (issue 5): single deletions within about 2 s, the k-sweep within about 15 s, on 2
CPU cores. Weights do not change the cost, so the nets are not trained (He initialisation,
eval mode). Each time is the best of --repeats runs; a shared machine makes them pessimistic.

    python benchmarks/ensemble.py [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from timing import best_of

from resnet_viz.data import load_dataset
from resnet_viz.models import build_model
from resnet_viz.train import History, Run, TrainConfig, net_config_for
from resnet_viz.views import ensemble as E


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load_dataset("digits")
    x, y = data.x_test, data.y_test
    net = net_config_for("digits")
    runs = [Run(cfg, TrainConfig(), build_model(cfg).eval(), History()) for cfg in (net.twin(), net)]
    residual = runs[1].model

    def bare_forwards(count: int) -> None:
        with torch.no_grad():
            for _ in range(count):
                residual(x)

    xb, yb = x[:E.DEFAULT_GRADIENT_BATCH], y[:E.DEFAULT_GRADIENT_BATCH]

    def bare_backwards(count: int) -> None:
        for _ in range(count):
            xi = xb.clone().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(residual(xi), yb, reduction="sum"), xi)

    sweep = E.k_deletion_sweep(residual, x, y)
    grad = E.gradient_by_path_length(residual, xb, yb)
    n_subsets, n_paths = sum(sweep.subsets), sum(grad.paths_sampled)

    rows = []
    ours = best_of(lambda: [E.single_block_deletion(r.model, x, y) for r in runs], args.repeats)
    rows.append(("single deletion (pair)", ours, best_of(lambda: bare_forwards(2 * 10), args.repeats), "2 s"))
    ours = best_of(lambda: [E.k_deletion_sweep(r.model, x, y) for r in runs], args.repeats)
    rows.append((f"k-sweep (pair, {n_subsets} subsets each)", ours,
                 best_of(lambda: bare_forwards(2 * n_subsets), args.repeats), "15 s"))
    ours = best_of(lambda: [E.lesion_study(r) for r in runs], args.repeats)
    rows.append(("lesion study (pair, page)", ours, float("nan"), ""))
    ours = best_of(lambda: E.gradient_by_path_length(residual, xb, yb), args.repeats)
    rows.append((f"path gradients ({n_paths} paths)", ours, best_of(lambda: bare_backwards(n_paths), args.repeats), ""))

    print(f"torch threads: {torch.get_num_threads()}, test images: {len(x)}, gradient batch: {len(xb)}")
    print(f"{'study':38s} {'ours (s)':>9s} {'reference (s)':>14s} {'ratio':>7s}  target")
    for name, t, ref, target in rows:
        ratio = t / ref if ref == ref else float("nan")
        print(f"{name:38s} {t:9.3f} {ref:14.3f} {ratio:7.2f}  {target}")


if __name__ == "__main__":
    main()
