"""Benchmark of the loss-landscape plane (Li et al. 2018) against two references measured in
the same run, on the default trained pair, the same grid and the same evaluation set:

(a) this module's `plane` time / the time of grid² bare forward passes of the evaluation
    set (the floor: each grid point is one forward pass); target <= 1.15.
(b) `loss_landscapes.random_plane` time / this module's time (the package loops in Python
    over ModelParameters; reported, not a target).

    python benchmarks/landscape.py [--grid 21] [--samples 512] [--threads 2] [--epochs 8]

Prints one line per net and per reference. Timings on a shared machine are noisy; each
time is the best of --repeats runs.
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from timing import best_of

from resnet_viz.data import load_dataset
from resnet_viz.train import TrainConfig, net_config_for, train
from resnet_viz.views import landscape as L


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=21)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=TrainConfig().epochs, help="training epochs of the pair")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-package", action="store_true", help="skip the loss-landscapes reference (slow)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load_dataset("digits")
    net = net_config_for("digits")
    tcfg = TrainConfig(epochs=args.epochs)
    xs, ys = L.evaluation_subset(data.x_train, data.y_train, args.samples)
    points = args.grid ** 2
    print(f"grid {args.grid}x{args.grid} ({points} points), {len(xs)} evaluation samples, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    for cfg in (net.twin(), net):
        run = train(cfg, tcfg, device="cpu")
        model = run.model

        bare_model = copy.deepcopy(model).eval()

        @torch.no_grad()
        def bare():
            for _ in range(points):
                out = bare_model(xs)
            return out

        def ours():
            return L.plane(model, data.x_train, data.y_train, grid=args.grid, span=1.0,
                           samples=args.samples, seed=0, device="cpu")

        bare()  # warm-up
        t_bare = best_of(bare, args.repeats)
        t_ours = best_of(ours, args.repeats)
        t_bare = min(t_bare, best_of(bare, 1))  # once more after, as the load varies
        print(f"{cfg.name}: plane {t_ours:.2f} s, {points} bare forward passes {t_bare:.2f} s, "
              f"ratio (a) = {t_ours / t_bare:.3f} (target <= 1.15)")
        if not args.skip_package:
            import loss_landscapes
            from loss_landscapes.metrics import Loss

            metric = Loss(F.cross_entropy, xs, ys)

            def package():
                return loss_landscapes.random_plane(copy.deepcopy(model).eval(), metric, distance=1,
                                                    steps=args.grid, normalization="filter", deepcopy_model=True)

            t_pkg = best_of(package, 1)
            print(f"{cfg.name}: loss_landscapes.random_plane {t_pkg:.2f} s, ratio (b) = "
                  f"{t_pkg / t_ours:.3f} (package / ours)")


if __name__ == "__main__":
    main()
