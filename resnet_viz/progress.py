"""The one progress protocol of the library: `progress(fraction, message)`.

Every long computation in `resnet_viz` (training, studies, surfaces, sweeps, reports) takes
an optional keyword argument `progress` of type `Progress`: it is called with the share of
the work done (0..1) and a short text saying what is being computed. The app draws it as a
progress bar, the CLI prints it (`progress_printer`), tests record it.
"""

from __future__ import annotations

import sys
from typing import Callable

Progress = Callable[[float, str], None]  # progress(fraction done 0..1, what is being computed)


def notify(progress: Progress | None, fraction: float, message: str) -> None:
    """Call `progress` (if any) with `fraction` clamped to [0, 1]."""
    if progress is not None:
        progress(min(max(float(fraction), 0.0), 1.0), message)


def part(progress: Progress | None, start: float, end: float, prefix: str = "") -> Progress | None:
    """A `Progress` for a sub-computation that covers [start, end] of the whole.

    Its fractions are mapped into that interval and its messages prefixed with `prefix: `
    (unless they already start with it). None when `progress` is None.
    """
    if progress is None:
        return None

    def cb(fraction: float, message: str) -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        text = message if not prefix or message.startswith(prefix) else f"{prefix}: {message}"
        progress(min(start + f * (end - start), 1.0), text)

    return cb


class Steps:
    """Progress over a known amount of work in arbitrary units (e.g. blocks × epochs).

    `steps(units, message)` announces a step worth `units` (reported at its start);
    `steps.part(units, prefix)` announces a sub-computation worth `units` and returns its `Progress`;
    `steps.finish()` reports 1.0.
    """

    def __init__(self, progress: Progress | None, total: float) -> None:
        self.progress, self.total, self.done = progress, max(float(total), 1e-9), 0.0

    def __call__(self, units: float, message: str) -> None:
        notify(self.progress, self.done / self.total, message)
        self.done += units

    def part(self, units: float, prefix: str = "") -> Progress | None:
        """A `Progress` for the next `units` of work (its start is reported at once, as `prefix`)."""
        start = self.done
        self.done += units
        notify(self.progress, start / self.total, prefix or "working")
        return part(self.progress, start / self.total, self.done / self.total, prefix)

    def finish(self) -> None:
        """Report the whole work done."""
        notify(self.progress, 1.0, "done")


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
