"""The command line's flags and outputs, shared by every subcommand (`resnet_viz.commands`): flags generated from a
view's settings declarations (`settings.specs`: the whole domain accepted, one line for a value outside it), the
pair's NetConfig/TrainConfig flags, the JSON written, and the output paths checked before any work.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import stat

from .data import DatasetError, load_dataset
from .executor import ClusterError
from .models import ConfigError, NetConfig
from .outputs import check
from .settings import specs
from .train import RunLoadError, TrainConfig, net_config_for
from .util import json_safe

USER_ERRORS = (ConfigError, DatasetError, RunLoadError, ClusterError, ValueError, OSError)


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


# --- flags generated from declared settings (resnet_viz.settings) ------------------------------------------


def _tuple_type(spec):
    """argparse type of a tuple field: its own text reader, or comma-separated values of its items' type
    (each one of its options when it has options), within its declared domain (`Spec.problem`)."""
    kind = spec.item or str

    def parse(text: str):
        if spec.parse is not None:
            try:
                values = tuple(spec.parse(text))
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e)) from None
        else:
            try:
                values = tuple(_item_of(spec, t.strip(), kind) for t in text.split(",") if t.strip())
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, "
                                                 f"got {text!r}") from None
        why = spec.problem(values)
        if why:
            raise argparse.ArgumentTypeError(why)
        return values

    return parse


def _item_of(spec, text: str, kind):
    """One item of a tuple flag: an option named as itself or by its `cli_name`, else a `kind` value."""
    for option in spec.options or ():
        if text in (str(option), cli_name(option)):
            return option
    return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)


def cli_name(option) -> str:
    """How an option is written on the command line: its text, lower case, each run of spaces and punctuation one
    hyphen ("2-D contours" → "2-d-contours", "the whole test split" → "the-whole-test-split"); numbers as they are."""
    if not isinstance(option, str):
        return str(option)
    return re.sub(r"[^0-9a-z.]+", "-", option.lower()).strip("-")


def _choice_type(spec):
    """argparse type of a field with options: one of them, written as itself or as its `cli_name`; the field's
    label names what is wrong otherwise."""
    def parse(text: str):
        for option in spec.options:
            if text in (str(option), cli_name(option)):
                return option
        try:
            v = spec.kind(float(text)) if spec.kind is int and float(text).is_integer() else spec.kind(text)
        except (ValueError, OverflowError):
            v = text
        if v not in spec.options:
            raise argparse.ArgumentTypeError(f"{spec.label.lower()}: {text!r} is not one of "
                                             f"{', '.join(map(cli_name, spec.options))}")
        return v

    return parse


def _number_type(spec):
    """argparse type of a number field: a finite int or float in its declared domain (`Spec.problem`: limits, odd,
    excluded values), whether or not the page's widget offers it."""
    def parse(text: str):
        try:
            v = spec.kind(float(text)) if spec.kind is int and float(text).is_integer() else spec.kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{spec.label.lower()}: expected {'an integer' if spec.kind is int else 'a number'}"
                                             f", got {text!r}") from None
        why = spec.problem(v)
        if why:
            raise argparse.ArgumentTypeError(why)
        return v

    return parse


def add_settings(parser, cls, skip=(), title: str | None = None) -> list[str]:
    """One flag per declared field of `cls` (`settings.setting`, those with a flag): its default, its options as
    choices, its limits checked, its label and help as the flag's help. Returns the field names added."""

    group = parser.add_argument_group(title) if title else parser
    names = []
    for s in specs(cls):
        if s.flag is None or s.name in skip:
            continue
        shown = (s.show(s.default) if s.show else ",".join(map(str, s.default))) if s.kind is tuple else s.default
        domain = "" if s.kind in (bool, str) and s.options is None else f"; {s.domain_text()}"
        if s.kind is tuple and s.options is None:
            domain = f"; each {s.domain_text()}" + (f", at most {s.max_items}" if s.max_items else "")
        picks = f"; e.g. {', '.join(map(_shown, s.picks))}" if s.picks else ""
        text = s.label + (f": {s.help}" if s.help else "") + f" (default {shown}{domain}{picks})"
        text = text.replace("%", "%%")
        if s.kind is bool:
            group.add_argument(s.flag, dest=s.name, action=argparse.BooleanOptionalAction, default=s.default, help=text)
        elif s.kind is tuple:
            group.add_argument(s.flag, dest=s.name, type=_tuple_type(s), default=s.default, metavar="A,B,...",
                               help=text)
        elif s.options is not None:
            group.add_argument(s.flag, dest=s.name, type=_choice_type(s), default=s.default, metavar="{"
                               + ",".join(map(cli_name, s.options)) + "}",
                               help=text.replace(f"(default {s.default}", f"(default {cli_name(s.default)}")
                               .replace("; " + s.domain_text(), ""))
        elif s.kind in (int, float):
            group.add_argument(s.flag, dest=s.name, type=_number_type(s), default=s.default, help=text)
        else:
            group.add_argument(s.flag, dest=s.name, default=s.default, help=text)
        names.append(s.name)
    return names


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_from(cls, args: argparse.Namespace, **fixed):
    """The `cls` settings from parsed flags (`add_settings`), with `fixed` fields set as given."""

    kw = {s.name: getattr(args, s.name) for s in specs(cls) if s.flag is not None and hasattr(args, s.name)}
    kw.update(fixed)
    return cls(**kw)


def add_pair_flags(parser, skip_flags=()) -> None:
    """The configs of a pair, generated from `NetConfig` and `TrainConfig` (every declared field: a new field
    gets its flag without further edits). The net is the residual one; `--no-skip` makes the plain twin.
    Fields whose flag is in `skip_flags` (a study's own settings set them) are left out."""

    for cls, title in ((NetConfig, "net"), (TrainConfig, "training")):
        add_settings(parser, cls, skip={s.name for s in specs(cls) if s.flag in skip_flags}, title=title)


def configs_from(args: argparse.Namespace):
    """Validated (NetConfig, TrainConfig) from `add_pair_flags` flags: the training config's seed is the net's (the
    app keeps them equal), input shape and classes come from the dataset, an MLP for 2-D data."""

    tcfg = settings_from(TrainConfig, args, seed=args.seed)
    tcfg.validate()
    data = load_dataset(tcfg.dataset, tcfg.data_root, tcfg.data_limit)
    fields = {s.name: getattr(args, s.name) for s in specs(NetConfig) if s.flag is not None and hasattr(args, s.name)}
    if not data.is_image and fields.get("arch") == "cnn":
        fields["arch"] = "mlp"
    return net_config_for(data, **fields), tcfg


# Output flags checked before a subcommand computes anything (a subcommand lists the ones that
# name a folder, e.g. train's --out, in its `output_folders` default).
OUTPUT_FLAGS = ("out", "json", "png", "html")


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
    check(args, OUTPUT_FLAGS)  # never a run's or the store's own files; each path tried (resnet_viz.outputs)


