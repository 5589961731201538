"""`python -m resnet_viz landscape`: a 1-D or 2-D loss landscape of a saved run (Li et al. 2018)."""

from __future__ import annotations

import argparse
import sys

from ..cli import finite_float, positive_int, progress_printer, write_json
from ..progress import part
from ..landscape import (DEFAULT_MAX_ITERATIONS, DEFAULT_TOL, HESSIAN_PARAMS, MAP_TOL, NORMALIZATIONS,
                         curvature_map, grid_coords, hessian_extremes, surface)
from ..train import load_run


def _run(args: argparse.Namespace) -> int:
    from ..data import load_dataset

    if args.curvature_map:
        grid_coords(args.curvature_map, args.span)  # refuse a bad grid before any work
    run = load_run(args.run)
    data = load_dataset(run.train.dataset, run.train.data_root, run.train.data_limit)

    progress = progress_printer(args.quiet)
    s = surface(run.model, data.x_train, data.y_train, grid=args.grid, span=args.span, dim=args.dim,
                samples=args.samples, seed=args.seed, normalization=args.normalization,
                include_bias_bn=args.include_bias_bn, progress=part(progress, 0, 1, "loss surface"))
    result = s.to_dict()
    result["run"] = run.summary()
    hkw = dict(samples=args.samples, params=args.hessian_params, max_iterations=args.lanczos_steps)
    if args.hessian:
        c = hessian_extremes(run.model, data.x_train, data.y_train, tol=args.hessian_tol, **hkw)
        result["curvature"] = c.to_dict()
        if not c.converged:
            print(f"Lanczos did not converge in {c.iterations} steps (relative residual {c.relative_residual:.1g}): "
                  "raise --lanczos-steps", file=sys.stderr)
    if args.curvature_map:
        m = curvature_map(run.model, data.x_train, data.y_train, grid=args.curvature_map, span=args.span,
                          seed=args.seed, normalization=args.normalization, include_bias_bn=args.include_bias_bn,
                          tol=MAP_TOL, progress=part(progress, 0, 1, "curvature map"), **hkw)
        result["curvature_map"] = m.to_dict()
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
    p.add_argument("--hessian", action="store_true",
                   help="also the extreme Hessian eigenvalues at θ* and |λmin/λmax| (Li et al. §6), with the "
                        "Lanczos steps used, convergence and residuals")
    p.add_argument("--curvature-map", type=int, default=0, metavar="N",
                   help="also |λmin/λmax| on an N×N grid (odd) of the same directions (Li et al. Fig. 7; "
                        f"tolerance {MAP_TOL:g}); 0 = off (default)")
    p.add_argument("--hessian-params", choices=HESSIAN_PARAMS, default="weights",
                   help="Hessian w.r.t. the weight tensors only (Li et al.) or all parameters (default %(default)s)")
    p.add_argument("--hessian-tol", type=finite_float, default=DEFAULT_TOL,
                   help="relative residual at which Lanczos stops (default %(default)s)")
    p.add_argument("--lanczos-steps", type=positive_int, default=DEFAULT_MAX_ITERATIONS,
                   help="most Lanczos steps per eigenvalue pair (default %(default)s)")
    p.add_argument("--json", metavar="FILE", help="write the JSON result here (default: standard output)")
    p.add_argument("--html", metavar="FILE", help="also write a standalone interactive figure")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
