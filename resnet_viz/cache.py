"""The lab's one cache primitive: a bounded, thread-safe cache in which each key is computed once.

A server's sessions ask for the same trained runs (the run store) and the same view results (the pages' kept
results, `ui.common.cached_compute`) at the same moment. `SingleFlight` keeps values by key, least recently used
dropped past `max_entries` (and past `max_bytes` by a size function), and lets one caller compute a missing key
while the others wait for it, told the computing caller's progress; if that caller stops (its session went
away), a waiting caller takes the computation over. Nothing else in the lab implements this: the run store adds
its disk and shipped runs around it, the pages their progress bars.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable

from .progress import Progress


class KeyLock:
    """The lock of one key while it is asked for (a run being trained, a result being computed), with
    how many callers hold or wait for it and the holder's last progress, shown to those waiting."""

    __slots__ = ("lock", "users", "state")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.state = (0.0, "")  # the holder's last (fraction, message)

    def acquire(self, on_wait=None, poll_s: float = 0.5) -> None:
        """Take the lock; while another caller holds it, call `on_wait(fraction, message)` with that
        caller's progress every `poll_s` seconds (in the app it draws, so a waiter whose session has
        gone stops here: its callback raises)."""
        if on_wait is None:
            self.lock.acquire()
            return
        while not self.lock.acquire(timeout=poll_s):
            on_wait(*self.state)

    def release(self) -> None:
        """Give the lock up, forgetting the holder's progress."""
        self.state = (0.0, "")
        self.lock.release()

    def reporting(self, progress: Progress | None) -> Progress:
        """`progress`, also recorded in `state` for the callers waiting on this key."""
        def report(fraction: float, message: str = "") -> None:
            self.state = (fraction, message)
            if progress is not None:
                progress(fraction, message)
        return report


class SingleFlight:
    """At most `max_entries` values (and `max_bytes` of them by `size(value)`, when given), least recently used
    dropped first (the newest is always kept, even alone over `max_bytes`), each key computed once at a time.

    A key's lock lives only while some caller holds or waits for it, so the locks, like the values, stay bounded
    however many keys a long-running server is asked for.
    """

    def __init__(self, max_entries: int = 16, max_bytes: int | None = None,
                 size: Callable[[object], int] | None = None) -> None:
        self.max_entries, self.max_bytes, self.size = max(int(max_entries), 1), max_bytes, size
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._bytes: dict[Hashable, int] = {}
        self._lock = threading.Lock()
        self._busy: dict[Hashable, KeyLock] = {}

    def get(self, key) -> tuple[bool, object]:
        """(True, value) when `key` is kept (it becomes the most recently used), else (False, None)."""
        with self._lock:
            if key not in self._values:
                return False, None
            self._values.move_to_end(key)
            return True, self._values[key]

    def put(self, key, value) -> None:
        """Keep `value` under `key`; the least recently used go past either bound."""
        nbytes = self.size(value) if self.size is not None else 0
        with self._lock:
            self._values[key] = value
            self._bytes[key] = nbytes
            self._values.move_to_end(key)
            while len(self._values) > 1 and (len(self._values) > self.max_entries or (
                    self.max_bytes is not None and sum(self._bytes.values()) > self.max_bytes)):
                old, _ = self._values.popitem(last=False)
                self._bytes.pop(old, None)

    def keys(self) -> list:
        """Keys kept now, least recently used first."""
        with self._lock:
            return list(self._values)

    @property
    def bytes(self) -> int:
        """Bytes held by the kept values (by `size`)."""
        with self._lock:
            return sum(self._bytes.values())

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()
            self._bytes.clear()

    def computing(self, key) -> bool:
        """True while some caller computes `key`."""
        with self._lock:
            entry = self._busy.get(key)
        return entry is not None and entry.lock.locked()

    def get_or_compute(self, key, compute: Callable[[Progress], object], progress: Progress | None = None,
                       on_wait: Callable[[float, str], None] | None = None):
        """The value of `key`: kept, or computed now by `compute(progress)` and kept. A caller that finds `key`
        being computed waits for that result, calling `on_wait(fraction, message)` with the computing caller's
        progress about twice a second (in the app it draws, which stops the wait when its session has gone);
        if the computing caller stops (an error, its session gone), a waiting caller computes it itself. An
        error is raised, not kept."""
        found, value = self.get(key)
        if found:
            return value
        with self._lock:
            entry = self._busy.get(key)
            if entry is None:
                entry = self._busy[key] = KeyLock()
            entry.users += 1
        try:
            entry.acquire(on_wait)
            try:
                found, value = self.get(key)
                if not found:
                    value = compute(entry.reporting(progress))
                    self.put(key, value)
                return value
            finally:
                entry.release()
        finally:
            with self._lock:  # the last caller out drops the key's lock
                entry.users -= 1
                if entry.users == 0:
                    del self._busy[key]
