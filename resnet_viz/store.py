"""A bounded, thread-safe store of trained runs shared by every session of a server.

Runs are keyed by their configs (training is deterministic for a config pair), so
two students asking for the same pair get the same, already-trained object, and
a pair is trained once even when asked for twice at the same moment. Runs in the
store are read-only by contract: views work on copies or restore what they touch.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from .models import NetConfig
from .progress import Progress
from .train import Run, TrainConfig, train


def run_key(net: NetConfig, cfg: TrainConfig) -> str:
    """Stable short key of a (net, training) config pair."""
    text = net.to_json() + "|" + cfg.to_json()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _KeyLock:
    """The lock of one key while it is asked for, with how many callers hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


def run_bytes(run: Run) -> int:
    """Bytes a stored run holds: its model's parameters and buffers and its weight snapshots."""
    tensors = list(run.model.parameters()) + list(run.model.buffers())
    total = sum(t.numel() * t.element_size() for t in tensors)
    if run.trajectory is not None:
        total += run.trajectory.numel() * run.trajectory.element_size()
    return total


class RunStore:
    """LRU store of at most `max_runs` runs and `max_bytes` bytes of them (`run_bytes`), with one
    lock per key while training.

    A key's lock lives only while some caller holds or waits for it, so the locks, like
    the runs, stay bounded however many configs a long-running server is asked for. The
    newest run is always kept, even alone over `max_bytes`.
    """

    def __init__(self, max_runs: int = 24, max_bytes: int = 2 * 1024**3) -> None:
        self.max_runs, self.max_bytes = max_runs, max_bytes
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._bytes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, _KeyLock] = {}

    def get(self, key: str) -> Run | None:
        """The run stored under `key`, or None."""
        with self._lock:
            run = self._runs.get(key)
            if run is not None:
                self._runs.move_to_end(key)
            return run

    def put(self, run: Run) -> str:
        """Store a run; returns its key. The least recently used runs go past either limit."""
        key = run_key(run.net, run.train)
        size = run_bytes(run)
        with self._lock:
            self._runs[key] = run
            self._bytes[key] = size
            self._runs.move_to_end(key)
            while len(self._runs) > 1 and (len(self._runs) > self.max_runs
                                           or sum(self._bytes.values()) > self.max_bytes):
                old, _ = self._runs.popitem(last=False)
                self._bytes.pop(old, None)
        return key

    @property
    def bytes(self) -> int:
        """Bytes held by the stored runs (`run_bytes`)."""
        with self._lock:
            return sum(self._bytes.values())

    def get_or_train(self, net: NetConfig, cfg: TrainConfig,
                     progress: Progress | None = None) -> tuple[str, Run]:
        """The stored run for (net, cfg), training it first when absent. Returns (key, run)."""
        key = run_key(net, cfg)
        run = self.get(key)
        if run is not None:
            return key, run
        with self._lock:
            key_lock = self._key_locks.get(key)
            if key_lock is None:
                key_lock = self._key_locks[key] = _KeyLock()
            key_lock.users += 1
        try:
            with key_lock.lock:  # a second caller waits for the first one's result
                run = self.get(key)
                if run is None:
                    run = train(net, cfg, progress=progress)
                    self.put(run)
        finally:
            with self._lock:  # the last caller out drops the key's lock
                key_lock.users -= 1
                if key_lock.users == 0:
                    del self._key_locks[key]
        return key, run

    def training(self, key: str) -> bool:
        """True while some caller is training the run stored under `key`."""
        with self._lock:
            key_lock = self._key_locks.get(key)
        return key_lock is not None and key_lock.lock.locked()

    def warm(self, pairs: list[tuple[NetConfig, TrainConfig]]) -> threading.Thread:
        """Train the given configs in a background thread (e.g. the default pair at server start)."""
        def work():
            for net, cfg in pairs:
                self.get_or_train(net, cfg)

        thread = threading.Thread(target=work, name="resnet-viz-warm", daemon=True)
        thread.start()
        return thread

    def keys(self) -> list[str]:
        """Keys currently stored, least recently used first."""
        with self._lock:
            return list(self._runs)
