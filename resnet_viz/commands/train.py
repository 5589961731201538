"""`python -m resnet_viz train`: train one net and save the run. Its flags are generated from `NetConfig` and
`TrainConfig` themselves (`cli.add_pair_flags`): every field the app's form offers, with the same defaults."""

from __future__ import annotations

import argparse
import os
import sys

from ..executor import current
from ..flags import add_pair_flags, configs_from, write_json
from ..jobs import JobGate
from ..progress import progress_printer
from ..store import RunStore
from ..train import failure_advice, save_run


def _run(args: argparse.Namespace) -> int:
    net, tcfg = configs_from(args)
    if args.twins:
        return _twins(args, net, tcfg)
    run = current().train(net, tcfg, progress=progress_printer(args.quiet))  # here, or on --scheduler's cluster
    if args.out:
        save_run(run, args.out)
    _say_failure(run)
    write_json(run.summary(), args.json)
    return 0


def _twins(args: argparse.Namespace, net, tcfg) -> int:
    """The net and its twin trained side by side (`RunStore.get_or_train_all`, one PyTorch thread each, as many at
    once as cores), saved as OUT/plain and OUT/residual; the JSON holds both summaries."""

    configs = [(net.replace(skip=False), tcfg), (net.replace(skip=True), tcfg)]
    store = RunStore(folder=None, gate=JobGate(os.cpu_count() or 1))
    printers = [progress_printer(args.quiet) for _ in configs]
    runs = store.get_or_train_all(configs, [lambda f, m, p=p, k=k: p(f, f"{k}: {m}")
                                            for p, k in zip(printers, ("plain", "residual"))])
    out = {}
    for run in runs:
        if args.out:
            save_run(run, os.path.join(args.out, run.label))
        _say_failure(run, named=True)
        out[run.label] = run.summary()
    write_json(out, args.json)
    return 0


def _say_failure(run, named: bool = False) -> None:
    if run.failure:  # the advice matches the failure (none beyond its own for a run that made no step)
        advice = failure_advice(run.failure)
        print(f"failed to train: {f'the {run.label} net: ' if named else ''}{run.failure}"
              + (f"; {advice}" if advice else ""), file=sys.stderr)


def register(sub) -> None:
    """Add the `train` subcommand."""
    p = sub.add_parser("train", help="train one net (residual, or plain with --no-skip) and save the run",
                       description="Train one net briefly and save it as a run folder the other subcommands read. "
                                   "The defaults train the app's default pair's residual net.")
    add_pair_flags(p)
    p.add_argument("--twins", action="store_true",
                   help="train the net and its twin side by side (as the app does); --out DIR then holds DIR/plain "
                        "and DIR/residual, and the JSON both summaries")
    p.add_argument("--out", metavar="RUN_DIR", help="folder to save the run in (config, history, weights)")
    p.add_argument("--json", metavar="FILE", help="write the JSON summary here (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run, output_folders=("out",))
