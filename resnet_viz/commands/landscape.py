"""`python -m resnet_viz landscape`: a 1-D or 2-D loss landscape of a saved run (Li et al. 2018)."""

from __future__ import annotations

import argparse
import sys

from ..cli import finite_float, positive_int, write_json
from ..landscape import NORMALIZATIONS, surface
from ..train import load_run


def _run(args: argparse.Namespace) -> int:
    from ..data import load_dataset

    run = load_run(args.run)
    data = load_dataset(run.train.dataset, run.train.data_root, run.train.data_limit)

    def progress(p):
        if p.level_complete and not args.quiet:
            print(f"{p.done}/{p.total} points", file=sys.stderr)

    s = surface(run.model, data.x_train, data.y_train, grid=args.grid, span=args.span, dim=args.dim,
                samples=args.samples, seed=args.seed, normalization=args.normalization,
                include_bias_bn=args.include_bias_bn, callback=progress)
    result = s.to_dict()
    result["run"] = run.summary()
    write_json(result, args.json)
    if s.overflowed:
        print(f"{s.overflowed} grid points overflowed (NaN or inf loss): written as null; try a smaller span",
              file=sys.stderr)
    if args.html:
        from ..plots.landscape import contour_figure, slices_figure

        title = f"{run.net.name}: loss landscape (Li et al. 2018)"
        fig = contour_figure(s, title) if s.dim == 2 else slices_figure({run.label: s})
        fig.write_html(args.html, include_plotlyjs=True, full_html=True)
    return 0


def register(sub) -> None:
    """Add the `landscape` subcommand."""
    p = sub.add_parser("landscape", help="loss landscape of a saved run along filter-normalized random directions",
                       description="Loss (and accuracy) on a symmetric grid around the trained weights, "
                                   "f(α, β) = L(θ* + αδ + βη) with filter-normalized Gaussian directions "
                                   "(Li et al. 2018), in eval mode on a fixed subset of the training data.")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder written by 'train --out'")
    p.add_argument("--grid", type=positive_int, default=21, help="odd number of points per axis (default %(default)s)")
    p.add_argument("--span", type=finite_float, default=1.0, help="grid covers [-span, span] (default %(default)s)")
    p.add_argument("--samples", type=positive_int, default=512,
                   help="training examples in the fixed evaluation subset (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random directions (default %(default)s)")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default="filter", help="(default %(default)s)")
    p.add_argument("--include-bias-bn", action="store_true",
                   help="also perturb biases and BatchNorm γ/β (Li's default leaves them at zero)")
    p.add_argument("--dim", type=int, choices=(1, 2), default=2, help="1-D line or 2-D plane (default %(default)s)")
    p.add_argument("--json", metavar="FILE", help="write the JSON result here (default: standard output)")
    p.add_argument("--html", metavar="FILE", help="also write a standalone interactive figure")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
