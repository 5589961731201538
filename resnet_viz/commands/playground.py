"""`python -m resnet_viz playground`: a deep plain MLP and its residual twin on a 2-D set (after TensorFlow
Playground, Smilkov et al. 2017): the same study the app's Playground page shows.

The flags are derived from `PlaygroundSettings`' field metadata (label, help, bounds or options), with the
same defaults as the page.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..cli import check_writable, progress_printer, write_json
from ..playground import PlaygroundSettings, playground_study


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _features(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_settings_arguments(p: argparse.ArgumentParser, cls=PlaygroundSettings) -> None:
    """One flag per settings field, from its metadata: its help (with the label), its bounds or options, and
    the dataclass's default. Values are checked by the settings' own `validate` (one line, exit status 2)."""
    for f in dataclasses.fields(cls):
        meta, default = f.metadata, f.default
        help_text = f"{meta['label']}: {meta['help']}"
        if isinstance(default, tuple):
            p.add_argument(_flag(f.name), type=_features, default=default, metavar="A,B,...",
                           help=f"{help_text} Comma-separated, from {', '.join(meta['options'])} "
                                f"(default {','.join(default)})")
        elif "options" in meta and isinstance(default, str):
            p.add_argument(_flag(f.name), choices=meta["options"], default=default,
                           help=f"{help_text} (default %(default)s)")
        elif "options" in meta:
            p.add_argument(_flag(f.name), type=float, default=default, metavar="X",
                           help=f"{help_text} One of {', '.join(f'{o:g}' for o in meta['options'])} "
                                "(default %(default)s)")
        else:
            p.add_argument(_flag(f.name), type=int, default=default, metavar="N",
                           help=f"{help_text} From {meta['min']} to {meta['max']} (default %(default)s)")


def settings_from_args(args: argparse.Namespace, cls=PlaygroundSettings):
    """The settings the parsed flags describe (validated: ConfigError with one line otherwise)."""
    s = cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})
    s.validate()
    return s


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_writable(args.html, "--html")  # before anything is computed
    result = playground_study(settings, progress=progress_printer(args.quiet))
    if args.html:
        from ..plots import playground as P
        from ..report import Section, write_report

        caps = result.captions()
        sections = [Section("Decision boundaries through training", caps["boundary"], P.boundary_figure(result)),
                     Section("What each block draws", caps["blocks"], P.blocks_figure(result)),
                     Section("Gradient reaching the first block", caps["gradient"], P.gradient_figure(result))]
        try:
            write_report(args.html, "Playground: a deep plain net and its residual twin", caps["lesson"], sections)
        except OSError as e:
            raise ValueError(f"cannot write --html {args.html!r}: {e.strerror or e}") from None
        if not args.quiet:
            print(f"wrote {args.html}", file=sys.stderr)
    if args.json or not args.html:
        write_json(result.to_dict(), args.json)
    return 0


def register(sub) -> None:
    """Add the `playground` subcommand."""
    p = sub.add_parser(
        "playground", help="a deep plain MLP and its residual twin learning a 2-D set (after TensorFlow Playground)",
        description="Train a plain MLP and its residual twin (same initial weights, same batches; only the shortcut "
                    "differs) on a 2-D set, recording the class probability over the plane every few steps, the "
                    "losses, the gradient reaching the first and the last block, and what each block draws. The "
                    "JSON holds, per net (plain, residual), train_accuracy, test_accuracy, final_train_loss and the "
                    "frames (P(class 1) in %% on a 41×41 grid of [-6, 6]², rows along x₂), with the caption.")
    add_settings_arguments(p)
    p.add_argument("--json", metavar="FILE", help="write the JSON here (default: standard output, unless --html)")
    p.add_argument("--html", metavar="FILE.html",
                   help="write the animated boundaries, the block thumbnails and the gradient figure with their "
                        "captions as one offline page (plotly.js embedded)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)
