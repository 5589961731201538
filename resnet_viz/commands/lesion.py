"""`python -m resnet_viz lesion` and `paths`: Veit et al. 2016's lesion and path-length studies on a saved run."""

from __future__ import annotations

import argparse

from ..cli import non_negative_int, positive_int, progress_printer, write_json
from ..ensemble import DEFAULT_GRADIENT_BATCH, DEFAULT_REORDER_SAMPLES, DEFAULT_SAMPLES, lesion_study, path_gradient_study
from ..train import load_run


def _lesion(args: argparse.Namespace) -> int:
    run = load_run(args.run)
    result = lesion_study(run, samples=args.samples, seed=args.seed, max_k=args.max_k,
                          include_downsampling=args.include_downsampling, reorder=not args.no_reorder,
                          reorder_samples=args.reorder_samples, progress=progress_printer(args.quiet))
    write_json(result.to_dict(), args.json)
    return 0


def _paths(args: argparse.Namespace) -> int:
    run = load_run(args.run)
    result = path_gradient_study(run, samples=args.samples, seed=args.seed, max_k=args.max_k, batch=args.batch,
                                 progress=progress_printer(args.quiet))
    write_json(result.to_dict(), args.json)
    return 0


def register(sub) -> None:
    """Add the `lesion` and `paths` subcommands."""
    p = sub.add_parser("lesion", help="delete and reorder blocks of a trained run (Veit et al. 2016 §4.1-4.2)",
                       description="Test accuracy after deleting each single block, after deleting k random blocks "
                                   "(k = 0..max), and after swapping same-shape blocks, on the run's test split. "
                                   "A deleted block becomes y = x (y = shortcut(x) at downsampling blocks).")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder written by 'train --out'")
    p.add_argument("--samples", type=positive_int, default=DEFAULT_SAMPLES,
                   help="random subsets per k; all subsets when fewer (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default %(default)s)")
    p.add_argument("--max-k", type=non_negative_int, metavar="K",
                   help="largest number of deleted blocks (default: every deletable block)")
    p.add_argument("--include-downsampling", action="store_true",
                   help="let the k-sweep delete downsampling blocks too (default: keep them)")
    p.add_argument("--reorder-samples", type=positive_int, default=DEFAULT_REORDER_SAMPLES,
                   help="random orders per number of swaps (default %(default)s)")
    p.add_argument("--no-reorder", action="store_true", help="skip the block-swap study")
    p.add_argument("--json", metavar="FILE", help="write the JSON result here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_lesion)

    q = sub.add_parser("paths", help="gradient magnitude by path length of a residual run (Veit et al. 2016 §4.3)",
                       description="Route the gradient through the residual branch of k sampled blocks and the "
                                   "shortcut of the others; report the gradient norm g(k) at the first block's input "
                                   "and the total C(n,k)·g(k) for each path length k.")
    q.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder of a residual net ('train --out')")
    q.add_argument("--samples", type=positive_int, default=DEFAULT_SAMPLES,
                   help="random paths per length; all paths when fewer (default %(default)s)")
    q.add_argument("--seed", type=int, default=0, help="sampling seed (default %(default)s)")
    q.add_argument("--max-k", type=non_negative_int, metavar="K", help="longest path length (default: all blocks)")
    q.add_argument("--batch", type=positive_int, default=DEFAULT_GRADIENT_BATCH,
                   help="test inputs whose gradients are averaged (default %(default)s)")
    q.add_argument("--json", metavar="FILE", help="write the JSON result here (default: standard output)")
    q.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    q.set_defaults(func=_paths)
