"""`python -m resnet_viz degradation`: He et al. 2016's Fig. 1 study at toy scale."""

from __future__ import annotations

import argparse

from ..cli import depth_list, finite_float, positive_int, progress_printer, write_json
from ..data import load_dataset
from ..degradation import DegradationSettings, degradation_study
from ..train import TrainConfig, net_config_for

_S = DegradationSettings()


def _run(args: argparse.Namespace) -> int:
    settings = DegradationSettings(depths=tuple(args.depths), seeds=args.seeds, first_seed=args.first_seed,
                                   width=args.width, epochs=args.epochs, lr=args.lr, warmup_epochs=args.warmup)
    settings.validate()
    cfg = TrainConfig(dataset=args.dataset, data_root=args.data_root)
    net = net_config_for(load_dataset(args.dataset, args.data_root), order=args.order)
    result = degradation_study(net, cfg, settings, progress=progress_printer(args.quiet))
    write_json(result.to_dict(), args.json)
    return 0


def register(sub) -> None:
    """Add the `degradation` subcommand."""
    p = sub.add_parser(
        "degradation", help="plain and residual nets at several depths and seeds (He et al. 2016, Fig. 1)",
        description="Train plain nets and their residual twins at several depths with the same budget and "
                    "warm-up, over several seeds; report each net's final training loss (eval mode, whole "
                    "train set), test accuracy, whether it failed to train, and its training-loss curve. "
                    "The defaults are the app's.")
    p.add_argument("--depths", type=depth_list, default=list(_S.depths), metavar="D1,D2,...",
                   help=f"blocks per net (default {','.join(map(str, _S.depths))})")
    p.add_argument("--seeds", type=positive_int, default=_S.seeds, help="seeds per depth (default %(default)s)")
    p.add_argument("--first-seed", type=int, default=_S.first_seed, help="(default %(default)s)")
    p.add_argument("--width", type=positive_int, default=_S.width, help="first-stage channels (default %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=_S.epochs, help="(default %(default)s)")
    p.add_argument("--lr", type=finite_float, default=_S.lr, help="peak learning rate (default %(default)s)")
    p.add_argument("--warmup", type=finite_float, default=_S.warmup_epochs, metavar="EPOCHS",
                   help="linear warm-up, in epochs (default %(default)s)")
    p.add_argument("--order", choices=("post", "pre"), default="post", help="block order (default %(default)s)")
    p.add_argument("--dataset", default="digits", help="(default %(default)s)")
    p.add_argument("--data-root", help="folder holding local datasets")
    p.add_argument("--json", metavar="FILE", help="write the JSON here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
