"""Benchmark of the feature-map view: all three attributions (Saliency, Integrated Gradients
at the default step count, Grad-CAM) plus the block outputs for one input, against the bare
PyTorch work they need, measured in the same run on the same net:

    reference = one batched forward+backward of (IG steps + 2) copies of the input
                (IG's path points, one for Saliency, one for Grad-CAM) + one forward pass.

Prints the absolute time (target: about 2 s on 2 CPU cores) and the ratio to the reference
(captum's and the copies' overhead). The net is the default ResNet-20-style CNN on digits;
its weights do not change the cost, so it is not trained (eval mode, He initialisation).

    python benchmarks/features.py [--threads 2] [--repeats 5] [--steps 200]

Timings on a shared machine are noisy; each time is the best of --repeats runs.
"""

from __future__ import annotations

import argparse

import torch
from timing import best_of

from resnet_viz.data import load_dataset
from resnet_viz.models import build_model
from resnet_viz.train import net_config_for
from resnet_viz.views import features as FT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=FT.DEFAULT_IG_STEPS, help="IG steps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load_dataset("digits")
    model = build_model(net_config_for("digits")).eval()
    x = data.x_test[0]
    base = FT.default_baseline(data)

    def ours():
        FT.explain(model, x, n_steps=args.steps, baseline=base)
        FT.block_outputs(model, x)

    def bare():
        net = model  # no copy: the floor
        xb = x.unsqueeze(0).repeat(args.steps + 2, 1, 1, 1).requires_grad_(True)
        net(xb)[:, 0].sum().backward()
        with torch.no_grad():
            net(x.unsqueeze(0))

    ours()  # warm-up: imports captum, first-call allocations
    bare()
    t_ours = best_of(ours, args.repeats)
    t_bare = best_of(bare, args.repeats)
    print(f"threads={torch.get_num_threads()}  IG steps={args.steps}")
    print(f"all three attributions + block outputs, one input: {t_ours:.3f} s (target about 2 s)")
    print(f"reference (bare batched forward+backward):        {t_bare:.3f} s")
    print(f"ratio ours / reference: {t_ours / t_bare:.2f}")


if __name__ == "__main__":
    main()
