"""Command-line interface: `python -m resnet_viz SUBCOMMAND ...`.

Each module in `resnet_viz.commands` defines `register(subparsers)`, adding one
subcommand whose handler returns a JSON-serialisable summary. Bad arguments and
errors the user can fix (ConfigError, DatasetError, RunLoadError, ...) print one
line to stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import pkgutil
import stat
import sys

from . import commands
from .data import DatasetError
from .models import ConfigError
from .shattering import parse_depths
from .train import RunLoadError
from .util import json_safe

# OSError: files the user named (a missing or unwritable --json/--out/--image path, a folder
# where a file is expected, a file where a folder is expected) are one line, not a traceback.
USER_ERRORS = (ConfigError, DatasetError, RunLoadError, ValueError, OSError)


class CliError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line instead of usage + error
        raise CliError(f"{self.prog}: {message} (see --help)")


def _int_from(text: str, low: int) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {v}")
    return v


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_from(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_from(text, 0)


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return v


def depth_list(text: str) -> list[int]:
    """argparse type: comma-separated integers >= 1, e.g. '3,9,18', sorted without repeats
    (`shattering.parse_depths`, with no limit on their number)."""
    try:
        return list(parse_depths(text, most=None))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def progress_printer(quiet: bool = False):
    """The CLI's one progress printer: `progress(fraction, message)` as lines on stderr.

    One line when the step (the message before its first colon) changes; within a
    long step at most one every 10 %.
    """
    last = {"head": None, "pct": -100}

    def progress(fraction: float, message: str) -> None:
        head = message.split(":")[0]
        pct = int(100 * fraction)
        if quiet or (head == last["head"] and pct - last["pct"] < 10 and fraction < 1):
            return
        last.update(head=head, pct=pct)
        print(f"[{pct:3d}%] {message}", file=sys.stderr, flush=True)

    return progress


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def write_json(obj, path: str | None) -> None:
    """Write `obj` as JSON to `path` ('-' or None: standard output)."""
    # JSON has no NaN/inf: they are written as null.
    text = json.dumps(json_safe(json.loads(json.dumps(obj, default=_json_default, allow_nan=True))), indent=2)
    if path in (None, "-"):
        print(text)
    else:
        with open(path, "w") as f:
            f.write(text + "\n")


# Output flags checked before a subcommand computes anything (a subcommand lists the ones that
# name a folder, e.g. train's --out, in its `output_folders` default).
OUTPUT_FLAGS = ("out", "json", "png")


def check_writable(path: str | None, flag: str, folder: bool = False) -> None:
    """Raise CliError (one line) when `path` cannot be written as a file (or created as a folder).

    None and '-' (standard output) pass. A folder may not exist yet when its nearest
    existing ancestor is a writable folder; a file's folder must exist. FIFOs and sockets
    are refused (writing to one could block).
    """
    if path in (None, "-"):
        return
    full = os.path.abspath(path)
    if folder:
        if os.path.exists(full) and not os.path.isdir(full):
            raise CliError(f"cannot write {flag} {path!r}: File exists and is not a folder")
        probe = full
        while not os.path.exists(probe):
            probe = os.path.dirname(probe)
        if not os.path.isdir(probe):
            raise CliError(f"cannot write {flag} {path!r}: Not a directory ({probe!r} is a file)")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise CliError(f"cannot write {flag} {path!r}: permission denied in {probe!r}")
        return
    if os.path.isdir(full):
        raise CliError(f"cannot write {flag} {path!r}: Is a directory (a folder: give a file name)")
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        raise CliError(f"cannot write {flag} {path!r}: No such file or directory (folder {parent!r} does not exist)")
    if os.path.exists(full):
        mode = os.stat(full).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise CliError(f"cannot write {flag} {path!r}: a FIFO or socket, not a file")
        if not os.access(full, os.W_OK):
            raise CliError(f"cannot write {flag} {path!r}: permission denied")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"cannot write {flag} {path!r}: permission denied in {parent!r}")


def check_outputs(args: argparse.Namespace) -> None:
    """`check_writable` for every output flag of the parsed subcommand, before it runs."""
    folders = getattr(args, "output_folders", ())
    for name in OUTPUT_FLAGS:
        check_writable(getattr(args, name, None), f"--{name}", folder=name in folders)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one subcommand per module in resnet_viz.commands."""
    parser = _Parser(prog="python -m resnet_viz",
                     description="ResNet Lab: plain networks versus their residual twins.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        check_outputs(args)  # before anything is computed
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
