"""`python -m resnet_viz identity`: He et al. 2016b's identity-mapping study at toy scale."""

from __future__ import annotations

import argparse

from ..cli import depth_list, finite_float, positive_int, progress_printer, write_json
from ..data import load_dataset
from ..identity import VARIANTS, IdentitySettings, identity_study
from ..models import NetConfig
from ..train import TrainConfig, net_config_for

_S = IdentitySettings()


def _variants(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in VARIANTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"choose variants from {', '.join(VARIANTS)}, got {text!r}")
    return names


def _run(args: argparse.Namespace) -> int:
    settings = IdentitySettings(variants=args.variants, plain=args.plain, random_nets=args.random_nets,
                                sweep_depths=tuple(args.sweep_depths), seeds=args.seeds, gate_bias=args.gate_bias,
                                dropout=args.dropout)
    settings.validate()
    cfg = TrainConfig(dataset=args.dataset, data_root=args.data_root, epochs=args.epochs, lr=args.lr,
                      warmup_epochs=args.warmup, seed=args.seed)
    data = load_dataset(args.dataset, args.data_root)
    net = net_config_for(data, depth=args.depth, width=args.width, seed=args.seed)
    result = identity_study(net, cfg, settings, data=data, progress=progress_printer(args.quiet))
    write_json(result.to_dict(), args.json)
    return 0


def register(sub) -> None:
    """Add the `identity` subcommand."""
    t = TrainConfig()
    p = sub.add_parser(
        "identity", help="shortcut and activation variants trained side by side (He et al. 2016b)",
        description="Train variants of one residual net (shortcut scale λ, original or full pre-activation "
                    "blocks) and its plain twin with the same initial weights, data order and budget; report "
                    "each net's parameters, final training loss, test error and whether it failed to train, "
                    "with the verdict the app shows. The same computation as the app's Identity mappings view "
                    "and the preactivation / shortcut-scale reports.")
    p.add_argument("--variants", type=_variants, default=_S.variants, metavar="V1,V2,...",
                   help=f"from {', '.join(VARIANTS)} (default {','.join(_S.variants)})")
    p.add_argument("--plain", action=argparse.BooleanOptionalAction, default=_S.plain,
                   help="also train the plain twin (default on)")
    p.add_argument("--seeds", type=positive_int, default=_S.seeds,
                   help="initialisations (and data orders) per net; the table gives mean and range (default %(default)s)")
    p.add_argument("--gate-bias", type=finite_float, default=_S.gate_bias, metavar="B_G",
                   help="initial bias of the gates (default %(default)s; He 2016b tries 0 and -6)")
    p.add_argument("--dropout", type=finite_float, default=_S.dropout,
                   help="drop rate of the dropout shortcut (default %(default)s)")
    p.add_argument("--random-nets", action="store_true",
                   help="also lag-1 and size of df/dx of random 1-D nets by depth for each λ (Balduzzi 2017)")
    p.add_argument("--sweep-depths", type=depth_list, default=list(_S.sweep_depths), metavar="D1,D2,...",
                   help="depths of the random-net sweep (default %(default)s)")
    n = NetConfig()  # the app's default pair
    p.add_argument("--depth", type=positive_int, default=n.depth, help="blocks (default %(default)s)")
    p.add_argument("--width", type=positive_int, default=n.width, help="first-stage width (default %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=t.epochs, help="(default %(default)s)")
    p.add_argument("--lr", type=finite_float, default=t.lr, help="(default %(default)s)")
    p.add_argument("--warmup", type=finite_float, default=t.warmup_epochs, metavar="EPOCHS",
                   help="linear warm-up, in epochs (default %(default)s)")
    p.add_argument("--seed", type=int, default=t.seed, help="initial weights and data order (default %(default)s)")
    p.add_argument("--dataset", default="digits", help="(default %(default)s)")
    p.add_argument("--data-root", help="folder holding local datasets")
    p.add_argument("--json", metavar="FILE", help="write the JSON here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
