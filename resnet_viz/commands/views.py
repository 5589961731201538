"""One subcommand per view of the registry (`resnet_viz.registry`): settings → study → JSON.

Each view's flags are generated from its settings dataclass (`cli.add_settings`), with the page's defaults; a
view of a trained pair reads it with `--run` (once or twice) or `--pair PLAIN RESIDUAL` (default: the app's
default pair, shipped with the lab); a view that trains nets of its own takes the pair's configs as `train`'s
flags. The JSON is the study's `to_dict()`: every number the page shows and the captions it shows with them.
`--html FILE` writes the view as one offline page (plotly.js embedded), as a report does.
"""

from __future__ import annotations

import argparse

from ..assets import default_pair_configs, default_trainer
from ..flags import CliError, add_pair_flags, add_settings, configs_from, settings_from, write_json
from ..progress import progress_printer
from ..registry import VIEWS, View, pair_inputs
from ..report import write_report
from ..results import study
from ..settings import specs
from ..train import load_run


def _pair(args: argparse.Namespace):
    """{"plain": Run, "residual": Run} from --pair or --run (one run: studied alone), else the default pair."""

    if args.pair:
        runs = [load_run(p) for p in args.pair]
    elif args.run:
        if len(args.run) > 2:
            raise CliError(f"{args.command}: --run at most twice (a plain run and its residual twin)")
        runs = [load_run(p) for p in args.run]
    else:
        trainer = default_trainer()  # the shipped default pair, or trained
        runs = [trainer(net, cfg) for net, cfg in default_pair_configs()]
    labels = [r.label for r in runs]
    if len(set(labels)) != len(labels):
        raise CliError(f"{args.command}: the two runs are both {labels[0]} nets: give a plain net and its residual twin")
    if len(runs) == 2 and runs[0].net.twin().to_json() != runs[1].net.to_json():
        raise CliError(f"{args.command}: the two runs are not twins (their configs differ beyond the shortcut)")
    return {r.label: r for r in runs}


def _run(view: View, args: argparse.Namespace) -> int:
    if args.html and view.sections is None:  # refused before any work
        raise CliError(f"{args.command}: this view has no offline page (--html); use --json")
    settings = settings_from(view.settings, args)
    runs = _pair(args) if view.inputs == "pair" else None
    net, train = configs_from(args) if view.inputs == "config" else (None, None)
    inputs = pair_inputs(view, runs=runs, net=net, train=train, progress=progress_printer(args.quiet))
    if view.cli_input is not None:
        view.cli_input[1](args, inputs)
    result = study(view, settings, inputs)  # kept (this machine's results, or shipped), or computed now and kept
    if args.html:
        write_report(args.html, view.title, "", view.sections(result, inputs))
    write_json(result.to_dict(), args.json)
    return 0


def _register(sub, view: View) -> None:
    p = sub.add_parser(view.command, help=view.command_help,
                       description=f"The {view.title} view of the app ({view.paper}), without a UI: its settings "
                                   "are the page's, with the same defaults, and the JSON holds every number and caption "
                                   "the page shows.")
    add_settings(p, view.settings, title="settings")
    if view.inputs == "pair":
        g = p.add_argument_group("trained pair (default: the app's default pair)")
        g.add_argument("--run", action="append", metavar="RUN_DIR",
                       help="a run folder written by 'train --out'; twice for a plain net and its residual twin")
        g.add_argument("--pair", nargs=2, metavar=("PLAIN", "RESIDUAL"), help="the two run folders of a pair")
    elif view.inputs == "config":
        add_pair_flags(p, skip_flags={s.flag for s in specs(view.settings)})
    if view.cli_input is not None:
        view.cli_input[0](p)
    p.add_argument("--json", metavar="FILE", help="write the JSON here (default: standard output)")
    p.add_argument("--html", metavar="FILE", help="also write the view as one offline page (plotly.js embedded)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=lambda args: _run(view, args), html=None)


def register(sub) -> None:
    """Add one subcommand per view that has one."""
    for view in VIEWS:
        if view.command:
            _register(sub, view)
