"""Command-line interface: `python -m resnet_viz SUBCOMMAND ...`.

Each module in `resnet_viz.commands` defines `register(subparsers)`, adding one
subcommand whose handler returns a JSON-serialisable summary. Bad arguments and
errors the user can fix (ConfigError, DatasetError, RunLoadError, ...) print one
line to stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import sys

from . import commands
from .config import LabConfig, active, use
from .executor import check_address, close
from .flags import (  # noqa: F401
    OUTPUT_FLAGS,
    USER_ERRORS,
    CliError,
    _Parser,
    add_pair_flags,
    add_settings,
    check_outputs,
    check_writable,
    cli_name,
    configs_from,
    finite_float,
    non_negative_int,
    positive_int,
    settings_from,
    write_json,
)
from .outputs import document


# OSError: files the user named (a missing or unwritable --json/--out/--image path, a folder
# where a file is expected, a file where a folder is expected) are one line, not a traceback.
def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one subcommand per module in resnet_viz.commands."""
    parser = _Parser(prog="python -m resnet_viz",
                     description="ResNet Lab: plain networks versus their residual twins.")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="send trainings and landscape grids to the Dask scheduler at ADDRESS (tcp://HOST:PORT "
                             "or tls://HOST:PORT; default $RESNET_VIZ_DASK, else this process)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)

    document(sub, OUTPUT_FLAGS)  # each output flag's help says that an earlier output is replaced
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status. Its configuration (every RESNET_VIZ_* variable) is read once, here."""

    use(LabConfig.from_env())
    try:
        return _main(argv)
    finally:
        close()  # the connection to a Dask scheduler, if any
        use(None)


def use_scheduler(address: str) -> None:
    """Make the Dask scheduler at `address` this command's executor (`resnet_viz.executor`); CliError for an
    address that is not tcp://HOST:PORT or tls://HOST:PORT."""

    try:
        address = check_address(address)
    except ValueError as e:
        raise CliError(f"--scheduler: {e}") from None
    use(dataclasses.replace(active(), dask=address))


def _main(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        check_outputs(args)  # before anything is computed
        if args.scheduler is not None:
            use_scheduler(args.scheduler)
        result = args.func(args)
    except CliError as e:
        print(str(e), file=sys.stderr)
        return 2
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if isinstance(result, int):
        return result
    return 0
