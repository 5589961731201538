"""`python -m resnet_viz prepare`: train every preset's nets before class, into the server's run store."""

from __future__ import annotations

import argparse
import sys

from ..prepare import prepare
from ..presets import PRESETS, get_preset
from ..progress import progress_printer
from ..store import RunStore, StoreWriteError, default_folder


def _run(args: argparse.Namespace) -> int:
    presets = [get_preset(s.strip()) for s in args.presets.split(",")] if args.presets else list(PRESETS)
    folder = args.store or default_folder()
    if folder is None:
        raise ValueError("RESNET_VIZ_RUN_STORE is 'none': give --store DIR, the folder the server reads")
    store = RunStore(folder=folder)
    if store.last_write_error:  # before any training: a store that cannot be written would keep nothing
        raise StoreWriteError(store.last_write_error)
    seconds = prepare(presets, store, progress_printer(args.quiet))  # StoreWriteError if a net is not saved
    if not args.quiet:
        for slug, s in seconds.items():
            print(f"{slug}: {s:.0f} s", file=sys.stderr)
        print(f"every preset's nets are in {folder} (read back)", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add the `prepare` subcommand."""
    p = sub.add_parser("prepare", help="train every preset's nets before class (into the server's run store)",
                       description="Compute every preset (or those named) once, training its nets into the run "
                                   "store the app's server reads ($RESNET_VIZ_RUN_STORE, default "
                                   "~/.cache/resnet_viz/runs), so that in class each preset opens at once. "
                                   "Progress and the time left go to stderr.")
    p.add_argument("--presets", metavar="A,B", help="only these presets (see report --list)")
    p.add_argument("--store", metavar="DIR", help="the run store folder (default: the server's)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
