"""One bounded queue for the heavy work of a server process (training, studies, surfaces, sweeps).

Every session of a Streamlit server runs in the same process, so without a bound ten students
starting ten trainings share two cores ten ways and every one of them waits minutes. A
`JobGate` lets at most `slots` jobs run at once; the others wait in arrival order and are
told their place in the queue while they wait. `benchmarks/threads.py` measured the policy
that goes with it: with one PyTorch thread a job, two jobs at once on two cores take about
as long as one (each has a core), while with two threads a job they take twice as long
(the threads fight for the cores); so the server runs one thread a job and as many jobs as
cores (`server_policy`).
"""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from .config import active


class JobGate:
    """At most `slots` jobs at once; the others wait first come, first served."""

    def __init__(self, slots: int) -> None:
        self.slots = max(int(slots), 1)
        self._cond = threading.Condition()
        self._running = 0
        self._queue: list[int] = []  # tickets waiting, in arrival order
        self._tickets = itertools.count()
        self._held = threading.local()  # .depth: how deep the calling thread is inside `slot` (0: holds none)

    def holds(self) -> bool:
        """True when the calling thread holds a slot."""
        return getattr(self._held, "depth", 0) > 0

    def _ready(self, ticket: int) -> bool:
        # Called with the condition held: a slot is free and `ticket` is first in line.
        return self._running < self.slots and self._queue[0] == ticket

    def position(self, ticket: int) -> int:
        """1-based place of `ticket` in the queue (0 when it is not waiting)."""
        with self._cond:
            return self._queue.index(ticket) + 1 if ticket in self._queue else 0

    @property
    def running(self) -> int:
        """Jobs running now."""
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        """Jobs waiting now."""
        with self._cond:
            return len(self._queue)

    @contextmanager
    def slot(self, on_wait: Callable[[int], None] | None = None, poll_s: float = 0.5) -> Iterator[None]:
        """Hold one slot for the body. While it waits, `on_wait(place in queue)` is called at once and
        then every `poll_s` seconds, so a page can say "2nd in line". A thread that holds a slot already (a
        study training its nets in its own thread) keeps that one: one thread, one core, one slot.

        One queued job a session: in the app `on_wait` draws, and a drawing call raises once the
        session has rerun or gone (Streamlit stops its script there), so a job whose session moved
        on leaves the queue within `poll_s`, before the session's next job has waited long."""
        if self.holds():
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth = max(self._held.depth - 1, 0)
            return
        self._acquire(on_wait, poll_s)
        self._held.depth = 1
        try:
            yield
        finally:
            held, self._held.depth = self._held.depth > 0, 0
            if held:  # (not when a `lent` body's caller stopped before it had its slot again)
                self._release()

    @contextmanager
    def lent(self, on_wait: Callable[[int], None] | None = None, poll_s: float = 0.5) -> Iterator[None]:
        """Give the calling thread's slot back for the body, and take one again after it, first in line: a study
        that waits for trainings running in slots of their own (its nets trained side by side) does not hold a
        slot while it waits. Nothing happens when the thread holds no slot."""
        depth = getattr(self._held, "depth", 0)
        if depth == 0:
            yield
            return
        self._held.depth = 0
        self._release()
        try:
            yield
        finally:
            self._acquire(on_wait, poll_s, first=True)
            self._held.depth = depth

    def _release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def _acquire(self, on_wait: Callable[[int], None] | None, poll_s: float, first: bool = False) -> None:
        """Wait for a slot in arrival order (`first`: ahead of everyone waiting) and take it."""
        with self._cond:
            ticket = next(self._tickets)
            if first:
                self._queue.insert(0, ticket)
            else:
                self._queue.append(ticket)
            try:
                while not self._ready(ticket):
                    if on_wait is not None:
                        place = self._queue.index(ticket) + 1
                        self._cond.release()
                        try:
                            on_wait(place)
                        finally:
                            self._cond.acquire()
                        if self._ready(ticket):
                            break
                    self._cond.wait(poll_s)
            except BaseException:
                self._queue.remove(ticket)
                self._cond.notify_all()
                raise
            self._queue.remove(ticket)
            self._running += 1


def torch_threads() -> int:
    """The lab's thread policy: PyTorch threads for one job, $RESNET_VIZ_TORCH_THREADS or 1.

    Every training runs with this many threads (`thread_policy`), in the app, on the command line,
    in reports and in tests alike. The thread count changes the order of floating-point sums inside
    PyTorch's kernels, and a deep plain net trained for a few hundred steps amplifies those last-digit
    differences (a 15-block plain net of the degradation study: 49 % test accuracy with one thread,
    83 % with two): one policy everywhere makes a report made before class equal the live page."""

    return active().torch_threads


@contextmanager
def thread_policy(threads: int | None = None) -> Iterator[int]:
    """Run the body with `threads` PyTorch threads (default `torch_threads()`) in the calling thread,
    then restore the count it had. Yields the count used."""

    n = torch_threads() if threads is None else max(int(threads), 1)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


def server_policy(config=None) -> int:
    """The thread and job policy of a server process: one PyTorch thread a job (`torch_threads`,
    unless $RESNET_VIZ_TORCH_THREADS says otherwise) and as many concurrent heavy jobs as cores
    ($RESNET_VIZ_MAX_JOBS overrides). Returns the number of job slots."""

    config = config or active()
    torch.set_num_threads(config.torch_threads)
    return config.max_jobs
