"""`python -m resnet_viz features`: prediction, block statistics and one attribution map."""

from __future__ import annotations

import argparse
import os

from ..cli import positive_int, write_json
from ..data import load_dataset
from ..features import (DEFAULT_IG_STEPS, MAX_UPLOAD_BYTES, METHODS, block_outputs, block_statistics,
                        default_baseline, explain, image_from_bytes)
from ..models import ConfigError
from ..train import load_run, read_run_file


def _run(args: argparse.Namespace) -> int:
    run = load_run(args.run)
    data = load_dataset(run.train.dataset, run.train.data_root, run.train.data_limit)
    n_blocks = len(run.model.blocks)
    if args.block is not None and not 1 <= args.block <= n_blocks:
        raise ConfigError(f"--block must be from 1 to {n_blocks} (this net has {n_blocks} blocks), got {args.block}")
    if args.image:
        if os.path.isdir(args.image):
            raise ConfigError(f"--image {args.image!r} is a folder, not an image file")
        # A regular file, read with the upload limit (a FIFO or /dev/zero would block or never end).
        blob = read_run_file(args.image, MAX_UPLOAD_BYTES)
        x, label, source = image_from_bytes(blob, data, invert=args.invert, crop=args.crop).x, None, args.image
    else:
        index = 0 if args.index is None else args.index
        if not 0 <= index < len(data.x_test):
            raise ConfigError(f"--index must be from 0 to {len(data.x_test) - 1} (the {data.name} test split), got {index}")
        x, label, source = data.x_test[index], int(data.y_test[index]), f"test[{index}]"
    if args.target is not None and not 0 <= args.target < run.net.classes:
        raise ConfigError(f"--target must be from 0 to {run.net.classes - 1}, got {args.target}")
    if args.method == "gradcam" and not data.is_image:
        raise ConfigError("gradcam needs image data; this run is an MLP on 2-D points: use saliency or ig")
    block = None if args.block is None else args.block - 1
    e = explain(run.model, x, target=args.target, methods=(args.method,), block=block,
                n_steps=args.ig_steps, baseline=default_baseline(data))
    a = e.attributions[args.method]
    outputs, _ = block_outputs(run.model, x)
    out = {
        "run": args.run,
        "net": run.net.name,
        "input": source,
        "label": label,
        "prediction": e.prediction,
        "probabilities": e.probabilities,
        "class_names": list(data.class_names),
        "method": args.method,
        "target": e.target,
        "attribution": a.map.tolist(),
        "block_statistics": block_statistics(outputs).to_dict(),
    }
    if args.method == "ig":
        out.update(convergence_delta=a.convergence_delta, output_difference=a.output_gap,
                   attribution_sum=float(a.values.sum()), ig_steps=args.ig_steps)
    if args.method == "gradcam":
        out.update(block=a.block + 1, layer_shape=list(a.layer_shape))
    if args.png:
        from ..plots.features import attribution_image

        attribution_image(a.map, a.signed).save(args.png, format="PNG")
    write_json(out, args.json)
    return 0


def register(sub) -> None:
    """Add the `features` subcommand."""
    p = sub.add_parser(
        "features", help="explain one input of a saved run: prediction, block statistics, attribution map",
        description="Prediction, per-block activation statistics and one captum attribution map "
                    "(Saliency, Integrated Gradients with its convergence delta, or Grad-CAM at a block) "
                    "for one test input or an image file.")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder written by 'train --out'")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--index", type=int, metavar="I", help="index into the dataset's test split (default 0)")
    src.add_argument("--image", metavar="FILE", help="an image file instead (PNG, JPEG, ...), converted to the dataset's input")
    p.add_argument("--invert", action="store_true", help="with --image: invert it (digits are white strokes on black)")
    p.add_argument("--crop", action="store_true", help="with --image: crop to the strokes before resizing")
    p.add_argument("--method", choices=METHODS, default="ig",
                   help="saliency, ig (integrated gradients) or gradcam (default %(default)s)")
    p.add_argument("--block", type=int, metavar="B", help="gradcam: block output to use, 1..number of blocks (default: the last)")
    p.add_argument("--target", type=int, metavar="C", help="class to explain (default: the predicted class)")
    p.add_argument("--ig-steps", type=positive_int, default=DEFAULT_IG_STEPS, help="ig: integration steps (default %(default)s)")
    p.add_argument("--json", metavar="FILE", help="write the JSON here (default: standard output)")
    p.add_argument("--png", metavar="FILE", help="also write the attribution map as a PNG")
    p.set_defaults(func=_run)
