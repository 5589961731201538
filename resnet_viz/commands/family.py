"""`python -m resnet_viz family`: the ResNet family at full size (He et al. 2016 Table 1), as JSON."""

from __future__ import annotations

import argparse

from ..cli import positive_int, progress_printer, write_json
from ..family import MODELS, FamilySettings, family_table


def _models(text: str) -> tuple[str, ...]:
    # Unknown names are left to FamilySettings.validate (ValueError: one line, exit 2).
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _run(args: argparse.Namespace) -> int:
    settings = FamilySettings(models=args.models, image_size=args.image_size)
    rows = family_table(settings, progress=progress_printer(args.quiet))
    write_json([r.to_dict() for r in rows], args.json)
    return 0


def register(sub) -> None:
    """Add the `family` subcommand."""
    p = sub.add_parser(
        "family", help="torchvision's ResNets, ResNeXt, WRN, DenseNet and VGG counted (He et al. 2016, Table 1)",
        description="Build torchvision's definitions on the meta device (no weights, nothing downloaded) and "
                    "count, for one image: parameters, multiply-adds (macs), weight layers, activation memory and "
                    "the per-stage layout of He et al. 2016 Table 1. Writes a list of rows, one per model.")
    p.add_argument("--models", type=_models, default=tuple(MODELS), metavar="A,B,...",
                   help=f"torchvision names (default all: {','.join(MODELS)})")
    p.add_argument("--image-size", type=positive_int, default=FamilySettings().image_size,
                   help="square input size in pixels (default %(default)s)")
    p.add_argument("--json", metavar="FILE", help="write the JSON here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
