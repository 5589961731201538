"""`python -m resnet_viz report`: a preset's figures and captions as one offline HTML page."""

from __future__ import annotations

import argparse
import os
import sys

from ..presets import PRESETS, get_preset
from ..progress import progress_printer
from ..report import write_report
from ..slides import build_report


def _check_writable(path: str) -> None:
    """ValueError (one line) when `path` cannot be written, checked before any computing."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"--out {path!r} is a folder: give a file name such as report.html")
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ValueError(f"cannot write {path!r}: permission denied")


def _run(args: argparse.Namespace) -> int:
    if args.list:
        width = max(len(p.slug) for p in PRESETS)
        for p in PRESETS:
            print(f"{p.slug:<{width}}  {p.title}  ({p.page})")
        return 0
    if not args.preset or not args.out:
        raise ValueError("report needs --preset NAME and --out FILE.html (or --list)")
    preset = get_preset(args.preset)
    _check_writable(args.out)
    progress = progress_printer(args.quiet)

    title, intro, sections = build_report(preset, progress)
    try:
        write_report(args.out, title, intro, sections)
    except OSError as e:
        raise ValueError(f"cannot write {args.out!r}: {e.strerror or e}") from None
    if not args.quiet:
        print(f"wrote {args.out} ({len(sections)} figures)", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add the `report` subcommand."""
    p = sub.add_parser("report", help="write a preset's figures and captions as one offline HTML page",
                       description="Compute a preset's figures (the classic comparisons at toy scale) and write "
                                   "them with captions to one self-contained HTML file: plotly.js is embedded, "
                                   "no network is needed to view it. See --list for the presets.")
    p.add_argument("--preset", metavar="NAME", help="which preset (see --list)")
    p.add_argument("--out", metavar="FILE.html", help="the HTML file to write")
    p.add_argument("--list", action="store_true", help="list the presets (name, title, page) and exit")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
