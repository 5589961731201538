"""`python -m resnet_viz train`: train one net and save the run."""

from __future__ import annotations

import argparse
import sys

from ..cli import finite_float, positive_int, progress_printer, write_json
from ..models import NetConfig
from ..train import TrainConfig, net_config_for, save_run, train

_NET = NetConfig()
_TRAIN = TrainConfig()


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """The NetConfig and TrainConfig flags, shared by subcommands that train."""
    g = p.add_argument_group("net")
    g.add_argument("--arch", choices=("mlp", "cnn"), help="mlp or cnn (default: cnn for images, mlp for 2-D sets)")
    g.add_argument("--depth", type=positive_int, default=_NET.depth, help="number of blocks (default %(default)s)")
    g.add_argument("--width", type=positive_int, default=_NET.width, help="units (mlp) or first-stage channels (cnn) (default %(default)s)")
    g.add_argument("--skip", action=argparse.BooleanOptionalAction, default=True,
                   help="residual net (--skip, default) or its plain twin (--no-skip)")
    g.add_argument("--shortcut-scale", type=finite_float, default=1.0, metavar="λ",
                   help="λ in y = λ·x + F(x) (default %(default)s)")
    g.add_argument("--norm", choices=("batch", "none"), default="batch", help="batch norm or none (default %(default)s)")
    g.add_argument("--order", choices=("post", "pre"), default="post",
                   help="post: original He 2016 block; pre: full pre-activation He 2016b (default %(default)s)")
    g.add_argument("--block", choices=("basic", "bottleneck"), default="basic", help="cnn block type (default %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="initialisation and data-order seed (default %(default)s)")
    t = p.add_argument_group("training")
    t.add_argument("--dataset", default=_TRAIN.dataset,
                   help="digits, spirals, moons, circles (embedded) or mnist, fashion-mnist, cifar10 (local, see --data-root) (default %(default)s)")
    t.add_argument("--data-root", help="folder holding local datasets (default $RESNET_VIZ_DATA or ~/.cache/resnet_viz/data)")
    t.add_argument("--data-limit", type=positive_int, help="keep only this many training images of a local dataset")
    t.add_argument("--epochs", type=positive_int, default=_TRAIN.epochs, help="(default %(default)s)")
    t.add_argument("--lr", type=finite_float, default=_TRAIN.lr, help="learning rate (default %(default)s)")
    t.add_argument("--warmup", type=finite_float, default=_TRAIN.warmup_epochs, metavar="EPOCHS",
                   help="linear learning-rate warm-up, in epochs (default %(default)s)")
    t.add_argument("--batch-size", type=positive_int, default=_TRAIN.batch_size, help="(default %(default)s)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default=_TRAIN.optimizer, help="(default %(default)s)")
    t.add_argument("--weight-decay", type=finite_float, default=_TRAIN.weight_decay, help="(default %(default)s)")


def configs_from_args(args: argparse.Namespace) -> tuple[NetConfig, TrainConfig]:
    """Validated (NetConfig, TrainConfig) from parsed flags."""
    tcfg = TrainConfig(dataset=args.dataset, epochs=args.epochs, lr=args.lr, warmup_epochs=args.warmup,
                       batch_size=args.batch_size,
                       optimizer=args.optimizer, weight_decay=args.weight_decay, seed=args.seed,
                       data_root=args.data_root, data_limit=args.data_limit)
    tcfg.validate()
    from ..data import load_dataset
    data = load_dataset(tcfg.dataset, tcfg.data_root, tcfg.data_limit)
    fields = dict(depth=args.depth, width=args.width, skip=args.skip, shortcut_scale=args.shortcut_scale,
                  norm=args.norm, order=args.order, block=args.block, seed=args.seed)
    if args.arch:
        fields["arch"] = args.arch
    return net_config_for(data, **fields), tcfg


def _run(args: argparse.Namespace) -> int:
    net, tcfg = configs_from_args(args)
    run = train(net, tcfg, progress=progress_printer(args.quiet))
    if args.out:
        save_run(run, args.out)
    summary = run.summary()
    if run.failure:
        print(f"failed to train: {run.failure}; lower the learning rate, add warm-up or set the shortcut scale "
              "to 1", file=sys.stderr)
    write_json(summary, args.json)
    return 0


def register(sub) -> None:
    """Add the `train` subcommand."""
    p = sub.add_parser("train", help="train one net (residual, or plain with --no-skip) and save the run",
                       description="Train one net briefly and save it as a run folder the other subcommands read.")
    add_config_flags(p)
    p.add_argument("--out", metavar="RUN_DIR", help="folder to save the run in (config, history, weights)")
    p.add_argument("--json", metavar="FILE", help="write the JSON summary here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run, output_folders=("out",))
