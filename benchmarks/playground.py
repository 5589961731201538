"""Benchmark of the Playground view (`resnet_viz.views.playground.playground_study`) against a bare PyTorch loop
measured in the same run, and the measurements its defaults were chosen by.

Timing (default): the issue's pair, a 30-block width-8 plain net and its residual twin on 1,000 spiral
points, 300 steps with 60 frames, through `playground_study` (frames of the boundary, losses on both sets,
gradient norms every step, block thumbnails) against the same two nets trained on the same batches with the
same optimiser and nothing recorded. Prints both times and their ratio: the cost of what the view records.
Process-wide first-use costs (PyTorch's optimiser imports, scikit-learn's import) are paid once before.

    python benchmarks/playground.py [--threads 1] [--repeat 3]

Lesson (--lesson): the view's verdict over seeds, depths, datasets, activations and thread counts, the
measurements behind the defaults (the plain net fails, its residual twin learns, robustly).

    python benchmarks/playground.py --lesson [--seeds 0,1,2,3] [--depths 20,30] [--datasets spirals,xor]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
import torch.nn.functional as F

from resnet_viz.jobs import thread_policy
from resnet_viz.models import build_model
from resnet_viz.views.playground import (
    PlaygroundSettings,
    batch_order,
    make_optimizer,
    playground_data,
    playground_study,
)


def bare_pair(settings: PlaygroundSettings, threads: int) -> float:
    """Seconds to train the same two nets on the same batches with the same optimiser, recording nothing."""
    data = playground_data(settings)
    config = settings.net_config()
    models = [build_model(config.twin()), build_model(config)]
    opts = [make_optimizer(m, settings.lr, settings.l2) for m in models]
    order = batch_order(len(data.x_train), settings.steps, settings.batch_size, settings.seed)
    y = torch.from_numpy(data.y_train)
    with thread_policy(threads):
        start = time.perf_counter()
        for step in range(settings.steps):
            idx = order[step]
            xb, yb = data.x_train[idx], y[idx]
            for m, opt in zip(models, opts):
                loss = F.cross_entropy(m(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return time.perf_counter() - start


def timing(args) -> None:
    s = PlaygroundSettings()
    print(f"settings: {s.depth} blocks, width {s.width}, {s.activation}, norm {s.norm}, {s.points} {s.dataset} points, "
          f"{s.steps} steps, {s.frames} frames, batch {s.batch_size}; threads={args.threads}")
    bare_pair(dataclasses.replace(s, steps=10, frames=1), args.threads)  # first-use imports, once
    bares, studies = [], []
    for _ in range(args.repeat):
        bares.append(bare_pair(s, args.threads))
        t0 = time.perf_counter()
        r = playground_study(s, threads=args.threads)
        studies.append(time.perf_counter() - t0)
    bare, study = min(bares), min(studies)
    print(f"bare PyTorch loop, the pair:   {bare:.2f} s (best of {args.repeat}: {', '.join(f'{b:.2f}' for b in bares)})")
    print(f"playground_study, the pair:    {study:.2f} s (best of {args.repeat}: {', '.join(f'{b:.2f}' for b in studies)})")
    print(f"ratio playground_study / bare loop: {study / bare:.2f}")
    print(f"verdict: plain {r.plain.verdict} ({r.plain.final_test_accuracy:.0%} test), residual {r.residual.verdict} "
          f"({r.residual.final_test_accuracy:.0%} test); lesson shown: {r.lesson_shown}")


def lesson(args) -> None:
    base = PlaygroundSettings()
    seeds = [int(v) for v in args.seeds.split(",")]
    rows = []
    grid = [(act, norm) for act, norm in (a.split(":") for a in args.nets.split(","))]
    for dataset in args.datasets.split(","):
        for act, norm in grid:
            for depth in (int(d) for d in args.depths.split(",")):
                for threads in (int(t) for t in args.threads_list.split(",")):
                    cells, shown = [], 0
                    for seed in seeds:
                        s = base.replace(dataset=dataset, activation=act, norm=norm, depth=depth, seed=seed,
                                         frames=min(base.frames, 10))
                        r = playground_study(s, threads=threads)
                        ok = r.both_learned if depth <= 2 else r.lesson_shown
                        shown += ok
                        cells.append(f"{r.plain.final_test_accuracy:.2f}/{r.residual.final_test_accuracy:.2f}"
                                     f"{'✓' if ok else '✗'}")
                    want = "both learn" if depth <= 2 else "lesson"
                    line = (f"{dataset:9s} {act:7s} {norm:5s} depth {depth:2d} threads {threads}: "
                            f"{want} {shown}/{len(seeds)}  (test accuracy plain/residual: {' '.join(cells)})")
                    print(line, flush=True)
                    rows.append(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads for the timing (default 1, the lab's policy)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lesson", action="store_true", help="sweep the verdict instead of timing")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--depths", default="2,20,30")
    ap.add_argument("--datasets", default="spirals,circles,xor,moons,gaussians")
    ap.add_argument("--nets", default="tanh:none", help="activation:norm pairs, e.g. tanh:none,sigmoid:none,relu:batch")
    ap.add_argument("--threads-list", default="1", help="thread counts for --lesson, e.g. 1,2")
    args = ap.parse_args()
    lesson(args) if args.lesson else timing(args)


if __name__ == "__main__":
    main()
