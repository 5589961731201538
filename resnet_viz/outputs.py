"""The command line's output paths, checked before any work (issue 36: nothing lost).

`cli.check_writable` refuses what can be seen from a path (a folder given for a file, a missing folder, a FIFO);
`check(args)` then refuses what would destroy something or fail only at the end:

  * a file of a run folder (its config.json, history.json, weights, trajectory; e.g. `lesion --run R --json
    R/config.json` would overwrite the run's own config), and anything inside an entry or temporary of the run store
    or its lock folder (the store would no longer recognise the entry as its own);
  * a run folder (`train --out`) that is the run store itself, one of its entries, or an existing folder holding a
    file of a run's name that is not a run's (`--out .` in a project with its own config.json);
  * two output flags naming the same file;
  * a path that cannot really be written: each is tried (a file opened for writing without truncating it, or made
    and removed; a folder made and removed), so a read-only file system or an uncreatable folder is refused before
    training rather than after.

Replacing an ordinary earlier output (a file, or a run folder written by `train --out`) is allowed; `document`
says so in every output flag's help.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from .store import LOCKS, MARKER, RUN_FILES, _own_entry, _own_temporary, default_folder

FILE_NOTE = "an existing file there is replaced"
FOLDER_NOTE = "an earlier run folder there is replaced; a folder whose config.json or weights are not a run's is refused"


class OutputError(ValueError):
    """An output path refused before any work (the command line prints "error: ..." and exits with status 2)."""


def _error(flag: str, path: str, why: str) -> OutputError:
    return OutputError(f"cannot write {flag} {path!r}: {why}")


def is_run_folder(path: str) -> bool:
    """True for a folder holding a run (`train.save_run`: config.json and weights.safetensors) or a store entry."""
    return os.path.isdir(path) and (os.path.isfile(os.path.join(path, MARKER)) or all(
        os.path.isfile(os.path.join(path, f)) for f in ("config.json", "weights.safetensors")))


def _stores(args: argparse.Namespace) -> list[str]:
    """Run store folders this command knows: the configured one and `--store`."""

    found = [getattr(args, "store", None)]
    try:
        found.append(default_folder())
    except Exception:  # no active configuration (a library caller): only --store
        pass
    return [os.path.realpath(f) for f in found if f]


def _inside_store(full: str, stores: list[str]) -> str | None:
    """Why `full` (a real path) lies inside something the run store owns, or None."""
    probe = full
    while True:
        parent = os.path.dirname(probe)
        if _own_entry(probe) or _own_temporary(probe):
            return f"it is inside the run store's entry {probe!r}"
        if os.path.basename(probe) == LOCKS and parent in stores:
            return f"it is inside the run store's lock folder {probe!r}"
        if parent == probe:
            return None
        probe = parent


def check_path(path: str | None, flag: str, folder: bool = False, stores: tuple[str, ...] | list[str] = ()) -> None:
    """OutputError (one line) when writing `path` for `flag` would overwrite a run's or the store's own files, or
    cannot be done (tried: see the module's docstring). None and '-' (standard output) pass."""
    if path in (None, "-"):
        return
    full = os.path.realpath(path)
    why = _inside_store(full, list(stores))
    if why:
        raise _error(flag, path, why)
    if folder:
        if full in stores:
            raise _error(flag, path, "it is the run store's folder; give a folder of its own")
        if os.path.isdir(full) and not is_run_folder(full):
            clash = sorted(n for n in os.listdir(full) if n in RUN_FILES)
            if clash:
                raise _error(flag, path, f"the folder holds {clash[0]}, which is not a run's; give a new or empty "
                                         "folder, or an earlier run folder to replace")
        _try_folder(full, flag, path)
        return
    parent, name = os.path.split(full)
    if name in RUN_FILES | {MARKER} and is_run_folder(parent):
        raise _error(flag, path, f"it is the {name} of the run folder {parent!r}; give another file name")
    _try_file(full, flag, path)


def _try_file(full: str, flag: str, path: str) -> None:
    """Open `full` for writing without changing it (an existing file is not truncated; a new one is removed)."""
    existed = os.path.exists(full)
    try:
        if existed:
            with open(full, "r+b"):
                pass
        else:
            with open(full, "xb"):
                pass
            os.remove(full)
    except OSError as e:
        raise _error(flag, path, e.strerror or str(e)) from None


def _try_folder(full: str, flag: str, path: str) -> None:
    """Make `full` (and its missing parents) and write a file in it; remove what was made."""
    made, probe = [], full
    while not os.path.exists(probe):
        made.append(probe)
        probe = os.path.dirname(probe)
    try:
        for d in reversed(made):
            os.mkdir(d)
        fd, tmp = tempfile.mkstemp(prefix=".resnet-viz-probe-", dir=full)
        os.close(fd)
        os.remove(tmp)
    except OSError as e:
        raise _error(flag, path, e.strerror or str(e)) from None
    finally:
        for d in made:  # deepest first
            try:
                os.rmdir(d)
            except OSError:
                pass


def check(args: argparse.Namespace, flags: tuple[str, ...]) -> None:
    """`check_path` for each of `flags` (names of output options) of the parsed subcommand, before it runs;
    the folder ones are listed in its `output_folders` default. Two flags naming one file are refused."""
    folders, stores, seen = getattr(args, "output_folders", ()), _stores(args), {}
    for name in flags:
        path = getattr(args, name, None)
        if path in (None, "-"):
            continue
        full = os.path.realpath(path)
        if full in seen:
            raise _error(f"--{name}", path, f"{seen[full]} writes the same file")
        seen[full] = f"--{name}"
        check_path(path, f"--{name}", folder=name in folders, stores=stores)


def document(subparsers: argparse._SubParsersAction, flags: tuple[str, ...]) -> None:
    """Add to the help of every output flag (`flags`) of every subcommand that an existing output is replaced."""
    for parser in subparsers.choices.values():
        folders = parser.get_default("output_folders") or ()
        for action in parser._actions:
            if action.dest in flags and action.option_strings and action.help and "replaced" not in action.help:
                note = FOLDER_NOTE if action.dest in folders else FILE_NOTE
                text = action.help
                action.help = f"{text[:-1]}; {note})" if text.endswith(")") else f"{text} ({note})"
