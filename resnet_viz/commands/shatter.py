"""`python -m resnet_viz shatter`: Balduzzi et al. 2017's shattered-gradients experiment."""

from __future__ import annotations

import argparse

from ..cli import depth_list, finite_float, positive_int, progress_printer, write_json
from ..shattering import (BLOCK_KINDS, DEFAULT_BLOCK, DEFAULT_DEPTH, DEFAULT_POINTS, DEFAULT_RANGE,
                          DEFAULT_SWEEP_DEPTHS, DEFAULT_WIDTH, depth_sweep, setting_caption, shatter, shatter_config,
                          sweep_caption)


def _run(args: argparse.Namespace) -> int:
    cfg = shatter_config(args.depth, args.width, skip=args.skip, shortcut_scale=args.shortcut_scale,
                         norm=args.norm, order=args.order, block=args.block, seed=args.seed)
    result = shatter(cfg, points=args.points, low=args.low, high=args.high, seeds=args.seeds,
                     looks_linear_init=args.looks_linear)
    out = result.to_dict(matrix=args.matrix)
    if args.compare:  # the other twin on the same seeds, and the caption the page shows
        other = shatter(cfg.twin(), points=args.points, low=args.low, high=args.high, seeds=args.seeds,
                        looks_linear_init=args.looks_linear and not cfg.twin().skip)
        plain, residual = (other, result) if cfg.skip else (result, other)
        out["twin"] = other.to_dict(matrix=args.matrix)
        out["caption"] = setting_caption(plain, residual)
    if args.sweep is not None:
        sweep = depth_sweep(cfg, args.sweep, seeds=args.seeds, points=args.points, low=args.low, high=args.high,
                            looks_linear_plain=args.looks_linear, progress=progress_printer(args.quiet))
        out["sweep"] = sweep.to_dict()
        out["sweep"]["caption"] = sweep_caption(sweep)
    write_json(out, args.json)
    return 0


def register(sub) -> None:
    """Add the `shatter` subcommand."""
    p = sub.add_parser(
        "shatter", help="gradients of a random 1-D net and their lag-1 autocorrelation (Balduzzi et al. 2017)",
        description="Build random nets R -> R (He init, BN, ReLU), take g = df/dx on evenly spaced inputs, and "
                    "report how correlated neighbouring gradients are (1: smooth, 0: white noise). Depth counts "
                    "residual modules: Balduzzi's one-layer modules x + W·ReLU(BN x) by default (the plain twin "
                    "then has depth hidden ReLU layers), or the lab's two-layer blocks with --block basic "
                    "(2·depth+1 hidden layers).")
    p.add_argument("--depth", type=positive_int, default=DEFAULT_DEPTH,
                   help="residual modules (default %(default)s)")
    p.add_argument("--block", choices=BLOCK_KINDS, default=DEFAULT_BLOCK,
                   help="single: Balduzzi's one-layer module; basic: the lab's two-layer block (default %(default)s)")
    p.add_argument("--width", type=positive_int, default=DEFAULT_WIDTH, help="units a layer (default %(default)s)")
    p.add_argument("--skip", action=argparse.BooleanOptionalAction, default=True,
                   help="residual net (--skip, default) or its plain twin (--no-skip)")
    p.add_argument("--shortcut-scale", type=finite_float, default=1.0, metavar="λ",
                   help="λ in y = λ·x + F(x) (default %(default)s)")
    p.add_argument("--norm", choices=("batch", "none"), default="batch", help="(default %(default)s)")
    p.add_argument("--order", choices=("post", "pre"), default=None,
                   help="order of the two-layer block (default post); the one-layer module is pre-activation")
    p.add_argument("--looks-linear", action="store_true",
                   help="CReLU with mirrored weights; plain nets only")
    p.add_argument("--points", type=int, default=DEFAULT_POINTS, help="inputs on the grid (default %(default)s)")
    p.add_argument("--low", type=finite_float, default=DEFAULT_RANGE[0], help="(default %(default)s)")
    p.add_argument("--high", type=finite_float, default=DEFAULT_RANGE[1], help="(default %(default)s)")
    p.add_argument("--seeds", type=positive_int, default=3, help="random nets to average over (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default %(default)s)")
    p.add_argument("--sweep", type=depth_list, nargs="?", const=list(DEFAULT_SWEEP_DEPTHS), metavar="D1,D2,...",
                   help="also sweep these depths for the plain and residual twins "
                        f"(default list {','.join(map(str, DEFAULT_SWEEP_DEPTHS))})")
    p.add_argument("--matrix", action="store_true", help="include the points × points correlation matrix")
    p.add_argument("--compare", action="store_true",
                   help="also compute the twin (plain <-> residual) and the caption the page shows")
    p.add_argument("--json", metavar="FILE", help="write the JSON here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
