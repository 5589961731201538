"""Benchmark of the shattered-gradients view (Balduzzi et al. 2017).

Prints, for one page setting (one net, 256 points, depth 10, width 200) and the
default depth sweep (8 depths × 2 nets × 3 seeds):
  * seconds,
  * the ratio to a reference measured in the same run: a bare PyTorch forward
    pass over the same 256 inputs through the same net, times the number of nets
    (the least any method can cost; our work adds BN statistics, a backward pass
    and building the nets), and
  * the ratio to the naive method of 256 separate backward passes (one per input).

Usage: python benchmarks/shattering.py [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from timing import best_of

from resnet_viz.views import shattering as sh


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}, cpu count: {os.cpu_count()}")

    cfg = sh.shatter_config(sh.DEFAULT_DEPTH, sh.DEFAULT_WIDTH, skip=True)
    x = sh.input_grid(256)
    model = sh.fix_batch_statistics(sh.make_net(cfg), x)

    def bare_forward():
        with torch.no_grad():
            model(x)

    ref_one = best_of(bare_forward, 5)
    one = best_of(lambda: sh.shatter(cfg, seeds=1))
    print(f"one setting (depth {cfg.depth}, width {cfg.width}, 256 points, 1 net): {one:.3f} s "
          f"= {one / ref_one:.1f} × a bare forward pass ({ref_one * 1000:.1f} ms)")

    def naive():  # 32 of the 256 backward passes, scaled up below
        for i in range(0, 256, 8):
            xi = x.clone().requires_grad_(True)
            out = model(xi)
            torch.autograd.grad(out[i, 0], xi)

    t_naive = best_of(naive, 1) * 8
    t_batched = best_of(lambda: sh.input_gradients(model, x))
    print(f"gradients: one backward {t_batched * 1000:.1f} ms vs 256 backward passes {t_naive:.2f} s (from 32) "
          f"(× {t_naive / t_batched:.0f})")

    depths = sh.DEFAULT_SWEEP_DEPTHS
    refs = 0.0
    for d in depths:
        m = sh.fix_batch_statistics(sh.make_net(cfg.replace(depth=d)), x)

        def fwd(m=m):
            with torch.no_grad():
                m(x)

        refs += 2 * 3 * best_of(fwd, 3)
    t = time.perf_counter()
    sh.depth_sweep(sh.shatter_config(), depths, seeds=3)
    sweep = time.perf_counter() - t
    print(f"sweep ({len(depths)} depths × 2 nets × 3 seeds): {sweep:.2f} s "
          f"= {sweep / refs:.1f} × bare forward passes of the same nets ({refs:.2f} s); target about 10 s")


if __name__ == "__main__":
    main()
