"""A bounded, thread-safe store of trained runs shared by every session of a server.

Runs are keyed by their configs (training is deterministic for a config pair), so
two students asking for the same pair get the same, already-trained object, and
a pair is trained once even when asked for twice at the same moment. Runs in the
store are read-only by contract: views work on copies or restore what they touch.

With a `folder`, every trained run is also written to disk (`train.save_run`, into a
hidden temporary folder renamed into place: a run folder is complete or absent), so a
restarted server, or a second server process on the same folder, reuses it instead of
training again. An entry that does not load (partial, corrupt, another config) is
removed and retrained, never shown.

Several servers (replicas behind a load balancer, issue 27) may share one folder: a config trained through one
is loaded by the others, and one asked for by two of them at once is trained once (`_disk_lock`: a lock on a
file of the folder, `fcntl.flock`, held by the process that trains it; the others wait, then load its run).
Trainings go through the process's executor (`resnet_viz.executor`: in-process, or a Dask cluster).

Nothing lost (issue 36): the folder may hold other files and folders (`--store ~`, a course folder); the store
uses it without touching them. It deletes only what it wrote itself: its entries (a folder named by a run key,
holding only run files and its marker, `MARKER`; an entry saved before markers existed, with only run files,
counts as its own) and its temporaries (`TMP_PREFIX` + key, holding its marker). Every write that fails (a
read-only or full disk, a store path that is a file) is logged once and kept in `last_write_error` (the app
shows it, the command line exits non-zero), and `unsaved` re-reads what should be on disk.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager, nullcontext

from .cache import KeyLock, SingleFlight  # noqa: F401  (KeyLock: also store.KeyLock)
from .config import active
from .executor import InProcess, current
from .models import NetConfig
from .progress import Progress
from .train import Run, RunLoadError, TrainConfig, load_run, run_key, save_run  # noqa: F401  (run_key: also store.run_key)

log = logging.getLogger("resnet_viz")
LOCKS = ".locks"  # the folder's subfolder of lock files, one a key being trained
MARKER = ".resnet-viz-entry"  # written into each entry (and temporary) the store saves: what it may delete
TMP_PREFIX = ".resnet-viz-tmp-"  # its temporaries: TMP_PREFIX + key + "-" + random, renamed into place when complete
RUN_FILES = frozenset({"config.json", "history.json", "weights.safetensors", "trajectory.safetensors"})
_KEY = re.compile(r"[0-9a-f]{16}")
_TMP = re.compile(re.escape(TMP_PREFIX) + r"[0-9a-f]{16}-[A-Za-z0-9_]+")


class StoreWriteError(OSError):
    """Runs that should be in a run store's folder are not (a write failed); the message says which and why."""


def default_folder() -> str | None:
    """Where a server keeps its trained runs: the active configuration's (`config.LabConfig.run_store`:
    $RESNET_VIZ_RUN_STORE, by default ~/.cache/resnet_viz/runs); None when it is "none" (memory only)."""

    return active().run_store


def run_bytes(run: Run) -> int:
    """Bytes a stored run holds: its model's parameters and buffers and its weight snapshots."""
    tensors = list(run.model.parameters()) + list(run.model.buffers())
    total = sum(t.numel() * t.element_size() for t in tensors)
    if run.trajectory is not None:
        total += run.trajectory.numel() * run.trajectory.element_size()
    return total


class RunStore:
    """Trained runs by config: at most `max_runs` runs and `max_bytes` bytes of them (`run_bytes`) in memory, one
    training per config at a time (the lab's one cache primitive, `cache.SingleFlight`), on disk in `folder`,
    shipped runs loaded (`fallback`) rather than trained. The newest run is always kept, even alone over
    `max_bytes`."""

    def __init__(self, max_runs: int = 24, max_bytes: int = 2 * 1024**3, folder: str | None = None,
                 max_disk_runs: int = 64, fallback=None, gate=None, time_limit_s: float | None = None,
                 executor=None) -> None:
        self.folder, self.max_disk_runs = folder, max_disk_runs
        self.executor = executor  # where trainings run (None: the process's, `executor.current()`)
        self.fallback = fallback  # fallback(net, cfg) -> Run | None, tried before training (shipped runs)
        self.gate = gate  # a jobs.JobGate that bounds how many trainings run at once (None: no bound)
        self.time_limit_s = time_limit_s  # the longest one training may take (None: `train`'s default)
        self.last_write_error: str | None = None  # why the latest write to `folder` failed; None after one succeeds
        self._sources: dict[str, str] = {}  # key -> "disk", "trained" or "fallback": where its run came from
        self._ahead: set[str] = set()  # keys being trained ahead, side by side (`prefetch`)
        self._logged: set[str] = set()
        if folder:
            try:
                os.makedirs(folder, exist_ok=True)
                _remove_stale_temporaries(folder)
                _probe(folder)
            except OSError as e:
                self._write_failed(e)
        self._cache = SingleFlight(max_runs, max_bytes, size=run_bytes)

    @property
    def max_runs(self) -> int:
        """Runs kept in memory at most."""
        return self._cache.max_entries

    @property
    def max_bytes(self) -> int | None:
        """Bytes of runs kept in memory at most (`run_bytes`)."""
        return self._cache.max_bytes

    def get(self, key: str) -> Run | None:
        """The run stored under `key`, or None."""
        return self._cache.get(key)[1]

    def stored(self, net: NetConfig, cfg: TrainConfig) -> Run | None:
        """The run of (net, cfg) kept in memory or in the folder, never trained (and never the fallback's)."""
        key = run_key(net, cfg)
        run = self.get(key)
        return run if run is not None else self._from_disk(key, net, cfg)

    def put(self, run: Run) -> str:
        """Store a run; returns its key. The least recently used runs go past either limit."""
        key = run_key(run.net, run.train)
        self._cache.put(key, run)
        return key

    @property
    def bytes(self) -> int:
        """Bytes held by the stored runs (`run_bytes`)."""
        return self._cache.bytes

    def get_or_train(self, net: NetConfig, cfg: TrainConfig,
                     progress: Progress | None = None) -> tuple[str, Run]:
        """The stored run for (net, cfg), training it first when absent. Returns (key, run).

        A caller that finds the run being trained by another waits for it, calling its own
        `progress` about twice a second with the trainer's progress ("being trained for another
        session: …").

        Orphaned work stops: training calls `progress` at every step and a waiter calls it
        while it waits, and in the app that callback draws, which raises once the session
        that asked has gone (Streamlit stops a closed session's script at its next drawing
        call). So a trainer whose session closes stops; a waiter whose session is still open
        then trains the run itself, with its own progress; and when every session that
        asked has gone, nothing goes on computing. (The server's background warm-up of the
        default pair has no progress callback: it finishes, and its run is kept for everyone.)
        """
        key = run_key(net, cfg)

        def waiting(fraction: float, message: str) -> None:  # a second caller waits for the first one's result
            what = "being trained side by side" if key in self._ahead else "being trained for another session"
            progress(fraction, what + (f": {message}" if message else " …"))

        def load_or_train(report: Progress) -> Run:
            run = self._from_disk(key, net, cfg)
            source = "disk"
            if run is None and self.fallback is not None:
                run, source = self.fallback(net, cfg), "fallback"
            if run is None:
                with self._disk_lock(key, report):  # another server on this folder may be training it
                    run, source = self._from_disk(key, net, cfg), "disk"
                    if run is None:
                        t0 = time.perf_counter()
                        run, source = self._train(net, cfg, report), "trained"
                        self._to_disk(key, run)
                        log.info(f"trained run {key} ({net.name}, seed {net.seed}) in "
                                 f"{time.perf_counter() - t0:.1f} s")
            self._sources[key] = source
            return run

        # A caller holding a slot of the job queue (a study training its nets) gives it back while it waits for or
        # trains this run (a training takes a slot of its own): the nets started side by side (`prefetch`) run.
        with self.gate.lent() if self.gate is not None else nullcontext():
            return key, self._cache.get_or_compute(key, load_or_train, progress,
                                                   waiting if progress is not None else None)

    def get_or_train_all(self, configs: list[tuple[NetConfig, TrainConfig]], progress: list[Progress | None] | None = None,
                         tick=None, poll_s: float = 0.2) -> list[Run]:
        """The stored runs for `configs` (a pair's twins), those not stored trained side by side: each in a thread of
        its own through `get_or_train`, so through the job gate (on two cores a pair takes about one net's time; one
        PyTorch thread a job, so the runs equal those trained one after the other, bit for bit).

        `progress[i]` is called from net i's thread (it must not draw); `tick()` is called in the calling thread
        about every `poll_s` while they train (a page draws its bars there). An exception from `tick` (the session
        went away) stops the trainings at their next step and is raised; a training's own error is raised after
        all have ended."""
        runs: list[Run | None] = [self.get(run_key(net, cfg)) for net, cfg in configs]
        todo = [i for i, run in enumerate(runs) if run is None]
        progress = progress or [None] * len(configs)
        gone = threading.Event()
        failed: dict[int, BaseException] = {}

        def work(i: int) -> None:
            def report(fraction: float, message: str) -> None:
                if gone.is_set():
                    raise _Abandoned
                if progress[i] is not None:
                    progress[i](fraction, message)

            try:
                runs[i] = self.get_or_train(*configs[i], progress=report)[1]
            except BaseException as e:  # raised in the caller's thread below
                failed[i] = e

        threads = [threading.Thread(target=work, args=(i,), name=f"resnet-viz-train-{i}", daemon=True) for i in todo]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=poll_s / len(threads))
                if tick is not None:
                    tick()
        except BaseException:
            gone.set()
            raise
        for i in todo:
            if i in failed:
                raise failed[i]
        return runs  # type: ignore[return-value]

    def prefetch(self, pairs: list[tuple[NetConfig, TrainConfig]]):
        """Start training, side by side, every (net, cfg) of `pairs` that is neither kept nor on disk: on a Dask
        cluster as its tasks (`Executor.prefetch`), in-process in threads of their own through the job gate (when
        it has two slots or more: one PyTorch thread a job, so each run equals the one trained alone, bit for
        bit). A study's trainings, asked for one after another, then find their runs trained or training. Returns
        what to keep while they are wanted: once it is closed or dropped, the trainings not finished stop."""

        missing = list({run_key(n, c): (n, c) for n, c in pairs if self.get(run_key(n, c)) is None
                        and not (self.folder and os.path.isdir(os.path.join(self.folder, run_key(n, c))))}.values())
        executor = self.executor or current()
        started = executor.prefetch(missing, time_limit_s=self.time_limit_s)
        if started is None and isinstance(executor, InProcess) and self.gate is not None and self.gate.slots > 1 \
                and missing:
            started = Ahead(self, missing)
        return started

    def training(self, key: str) -> bool:
        """True while some caller is training the run stored under `key`."""
        return self._cache.computing(key)

    def warm(self, pairs: list[tuple[NetConfig, TrainConfig]]) -> threading.Thread:
        """Train the given configs in a background thread (e.g. the default pair at server start)."""
        def work():
            for net, cfg in pairs:
                self.get_or_train(net, cfg)

        thread = threading.Thread(target=work, name="resnet-viz-warm", daemon=True)
        thread.start()
        return thread

    def trainer(self):
        """`trainer(net, cfg, progress) -> Run` for the studies: every net they train goes through this
        store (kept, shared, and on disk when the store has a folder). Its `prefetch(pairs)` is the store's:
        a study's nets started side by side (`registry.View.compute`)."""
        def train(net, cfg, progress=None):
            return self.get_or_train(net, cfg, progress)[1]

        train.prefetch = self.prefetch
        return train

    @contextmanager
    def _disk_lock(self, key: str, progress: Progress | None, poll_s: float = 0.5):
        """Hold the lock of `key` shared by every process on this folder (`fcntl.flock` on a file of
        `LOCKS`; the system releases it when a process dies). While another process holds it,
        `progress(0, "being trained by another server …")` about twice a second (in the app it draws: a
        waiter whose session has gone stops). Without a folder, or where locking fails, nothing is held."""
        fd = None
        if self.folder:
            try:
                os.makedirs(os.path.join(self.folder, LOCKS), exist_ok=True)
                fd = os.open(os.path.join(self.folder, LOCKS, key), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                fd = None
        try:
            while fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if progress is not None:
                        progress(0.0, "being trained by another server on this run store …")
                    time.sleep(poll_s)
                except OSError:  # a file system without locks: each process trains on its own
                    break
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    def _train(self, net: NetConfig, cfg: TrainConfig, progress: Progress | None) -> Run:
        """Train through the executor; in-process in one of the gate's slots (while waiting for one,
        `progress(0, "waiting …")` says where), on a cluster in its scheduler's queue."""

        executor = self.executor or current()
        if self.gate is None or executor.remote:
            return executor.train(net, cfg, progress=progress, time_limit_s=self.time_limit_s)

        def waiting(place: int) -> None:
            if progress is not None:
                progress(0.0, f"waiting for a free slot on this server ({place} in line, {self.gate.slots} at once)")

        with self.gate.slot(on_wait=waiting):
            return executor.train(net, cfg, progress=progress, time_limit_s=self.time_limit_s)

    def _from_disk(self, key: str, net: NetConfig, cfg: TrainConfig) -> Run | None:
        """The run saved under `key`, or None; an entry that does not load as exactly this config is removed."""
        if not self.folder:
            return None
        path = os.path.join(self.folder, key)
        if not os.path.isdir(path):
            return None
        try:
            run = load_run(path)
        except (RunLoadError, OSError, ValueError):
            run = None
        if run is None or run.net != net or run.train != cfg:
            if _own_entry(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                log.warning(f"{path} is not a run of this store: left as it is")
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return run

    def _to_disk(self, key: str, run: Run) -> None:
        """Save `run` under `key` atomically (a marked hidden temporary folder renamed into place); keep at most
        `max_disk_runs` of the store's own entries, the least recently used removed first (nothing else in the
        folder is counted or removed). A failure to write is not raised: it is logged and kept in
        `last_write_error` (the run stays in memory)."""
        if not self.folder:
            return
        tmp, target = None, os.path.join(self.folder, key)
        try:
            tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{key}-", dir=self.folder)
            _mark(tmp, key)
            save_run(run, tmp)
            try:
                os.replace(tmp, target)
                tmp = None
            except OSError as e:
                if _own_entry(target):  # another process saved it first: keep theirs
                    pass
                elif os.path.lexists(target):
                    raise OSError(e.errno, f"{target} is in the way and is not a run of this store") from e
                else:
                    raise
            self._evict()
            self.last_write_error = None
        except OSError as e:
            self._write_failed(e, key)
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)

    def _evict(self) -> None:
        """Remove the store's least recently used entries beyond `max_disk_runs`; only its own (`_own_entry`)."""
        entries = []
        for e in os.scandir(self.folder):
            try:
                if _own_entry(e.path):
                    entries.append((e.stat(follow_symlinks=False).st_mtime, e.path))
            except OSError:
                pass
        for _, path in sorted(entries)[:max(len(entries) - self.max_disk_runs, 0)]:
            shutil.rmtree(path, ignore_errors=True)

    def _write_failed(self, e: OSError, key: str | None = None) -> None:
        """Keep (and log once) why a write to the folder failed."""
        what = f"run {key}" if key else "trained runs"
        if isinstance(e, FileExistsError) and os.path.exists(self.folder) and not os.path.isdir(self.folder):
            why = "it is a file, not a folder"
        else:
            why = e.strerror or str(e)
        self.last_write_error = f"cannot save {what} in the run store {self.folder}: {why}"
        if self.last_write_error not in self._logged:
            self._logged.add(self.last_write_error)
            log.warning(f"{self.last_write_error}; trained runs are kept in memory only")

    def unsaved(self, pairs: list[tuple[NetConfig, TrainConfig]]) -> list[str]:
        """Keys of the `pairs` this store trained or read from its folder that its folder does not hold now,
        read back as exactly that config (a write failed, or the entry was evicted or removed since). Runs from
        the `fallback` (shipped) or given to `put` need no entry. Empty without a folder."""
        if not self.folder:
            return []
        out = []
        for net, cfg in pairs:
            key = run_key(net, cfg)
            if self._sources.get(key) not in ("disk", "trained") or key in out:
                continue
            try:
                run = load_run(os.path.join(self.folder, key))
                ok = run.net == net and run.train == cfg
            except (RunLoadError, OSError, ValueError):
                ok = False
            if not ok:
                out.append(key)
        return out

    def keys(self) -> list[str]:
        """Keys currently stored, least recently used first."""
        return self._cache.keys()


def _mark(path: str, key: str) -> None:
    """Write the store's marker into a folder it is saving (an entry-to-be)."""
    with open(os.path.join(path, MARKER), "w") as f:
        json.dump({"written_by": "resnet_viz.store", "key": key}, f)


def _own_entry(path: str) -> bool:
    """True for a folder the store wrote: named by a run key, a real folder (not a link), holding only run files
    and the store's marker, with its marker or (an entry saved before markers) a config.json."""
    if not _KEY.fullmatch(os.path.basename(path)) or os.path.islink(path) or not os.path.isdir(path):
        return False
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    return names <= RUN_FILES | {MARKER} and bool(names & {MARKER, "config.json"})


def _own_temporary(path: str) -> bool:
    """True for a temporary folder the store made: its name (`TMP_PREFIX` + key + suffix) and its marker."""
    return (_TMP.fullmatch(os.path.basename(path)) is not None and not os.path.islink(path)
            and os.path.isdir(path) and os.path.isfile(os.path.join(path, MARKER)))


def _probe(folder: str) -> None:
    """Raise OSError when a file cannot be written in `folder` (read-only, full); leaves nothing behind."""
    fd, path = tempfile.mkstemp(prefix=f"{TMP_PREFIX}probe-", dir=folder)
    try:
        os.write(fd, b"resnet_viz")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.remove(path)


class Ahead:
    """Trainings of a store started ahead, side by side, in threads of their own (`RunStore.prefetch` in-process):
    each waits for a slot of the store's job gate, in the order given. `close()` (or dropping it) stops those not
    finished at their next step; a caller that asked for one of them meanwhile trains it itself."""

    def __init__(self, store: RunStore, pairs: list[tuple[NetConfig, TrainConfig]]) -> None:
        self.keys = [run_key(n, c) for n, c in pairs]
        self._gone = threading.Event()
        self._store = store
        store._ahead.update(self.keys)
        self.threads = [threading.Thread(target=self._train, args=(store, n, c), daemon=True,
                                         name=f"resnet-viz-ahead-{run_key(n, c)}") for n, c in pairs]
        for t in self.threads:
            t.start()

    def _train(self, store: RunStore, net: NetConfig, cfg: TrainConfig) -> None:
        gone = self._gone

        def report(fraction: float, message: str) -> None:
            if gone.is_set():
                raise _Abandoned

        try:
            if not gone.is_set():
                store.get_or_train(net, cfg, progress=report)
        except BaseException as e:  # the caller asking for this run trains it itself and sees the error
            if not isinstance(e, _Abandoned):
                log.info(f"training {net.name} ahead failed ({type(e).__name__}: {e})")
        finally:
            store._ahead.discard(run_key(net, cfg))

    def close(self) -> None:
        """Stop the trainings not finished (at their next step)."""
        self._gone.set()

    def __del__(self) -> None:
        self._gone.set()


class _Abandoned(BaseException):
    """Raised in a training's progress callback once its caller has stopped waiting (`get_or_train_all`), to stop
    that training at its next step."""


def _remove_stale_temporaries(folder: str, older_than_s: float = 3600) -> None:
    # A save cut off by a restart leaves a temporary folder of the store: never read, removed after an hour
    # (a younger one may belong to another server process still writing it). Only the store's own
    # (`_own_temporary`): any other hidden folder (.git, .ssh, ...) is left as it is.
    now = time.time()
    for e in os.scandir(folder):
        try:
            if _own_temporary(e.path) and now - e.stat(follow_symlinks=False).st_mtime > older_than_s:
                shutil.rmtree(e.path, ignore_errors=True)
        except OSError:
            pass
