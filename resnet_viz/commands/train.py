"""`python -m resnet_viz train`: train one net and save the run. Its flags are generated from `NetConfig` and
`TrainConfig` themselves (`cli.add_pair_flags`): every field the app's form offers, with the same defaults."""

from __future__ import annotations

import argparse
import sys

from ..cli import add_pair_flags, configs_from, progress_printer, write_json
from ..executor import current
from ..train import failure_advice, save_run


def _run(args: argparse.Namespace) -> int:
    net, tcfg = configs_from(args)
    run = current().train(net, tcfg, progress=progress_printer(args.quiet))  # here, or on --scheduler's cluster
    if args.out:
        save_run(run, args.out)
    summary = run.summary()
    if run.failure:  # the advice matches the failure (none beyond its own for a run that made no step)
        advice = failure_advice(run.failure)
        print(f"failed to train: {run.failure}" + (f"; {advice}" if advice else ""), file=sys.stderr)
    write_json(summary, args.json)
    return 0


def register(sub) -> None:
    """Add the `train` subcommand."""
    p = sub.add_parser("train", help="train one net (residual, or plain with --no-skip) and save the run",
                       description="Train one net briefly and save it as a run folder the other subcommands read. "
                                   "The defaults train the app's default pair's residual net.")
    add_pair_flags(p)
    p.add_argument("--out", metavar="RUN_DIR", help="folder to save the run in (config, history, weights)")
    p.add_argument("--json", metavar="FILE", help="write the JSON summary here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run, output_folders=("out",))
