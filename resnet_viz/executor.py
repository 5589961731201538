"""Where heavy work runs: in this process (the default), or on a Dask cluster (issue 27).

Trainings (the run store's and every study's, `store.RunStore`), landscape planes and curvature maps
(`landscape.surface`, `landscape.curvature_map`) are submitted through one interface, `Executor`:

- `InProcess` (the embedded default): the work runs in the calling thread, as it always has, bounded by the
  server's job queue (`jobs.JobGate`). Nothing changes for a laptop.
- `DaskExecutor`: with `RESNET_VIZ_DASK=tcp://HOST:PORT` (the server's setting, `config.LabConfig.dask`, never a
  link's) or the command line's `--scheduler ADDRESS`, the same work goes to the Dask scheduler at that address
  (Dask's `distributed`: a `LocalCluster`, `dask scheduler` + `dask worker`, Kubernetes, or SLURM through
  `dask-jobqueue`). A training is one task; a landscape plane is split into chunks of grid points computed on
  different workers, as Li et al. 2018 split theirs over MPI ranks. Every task runs with the lab's thread policy
  (`jobs.thread_policy`), so its result equals the in-process one (bit for bit on the CPU with one thread a
  worker; `tests/test_cluster.py`).

Tasks have deterministic keys (a training's: its run key and thread count), so two app servers asking for the
same training at once share one task (the scheduler's own deduplication). Progress reaches the caller: a worker
logs its training's progress as Dask events (`Worker.log_event`), and the caller's thread polls them, so the
page's bar moves as in-process; a grid reports the chunks done. A worker lost mid-training: the scheduler runs
the task again on another worker (Dask's `allowed-failures`, 3 by default) and the progress says "a worker was
lost; retrying on another". The scheduler unreachable: one warning, in the log and on the lecturer's Home page
(`notice`), and the work runs in-process; the connection is retried in the background.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import warnings
from typing import Callable, Sequence

from .config import active
from .jobs import thread_policy, torch_threads
from .models import NetConfig, build_model
from .progress import Progress, notify
from .train import History, Run, TrainConfig, run_key, train

log = logging.getLogger("resnet_viz")
PROGRESS_TOPIC = "resnet-viz-progress"  # the Dask event topic of training progress
CONNECT_TIMEOUT_S = 5.0  # how long connecting to a scheduler may take before the server falls back
RETRY_S = 30.0  # how often an unreachable scheduler is tried again
POLL_S = 0.4  # how often a caller waiting for the cluster reports progress (in the app: draws)
SCHEMES = ("tcp://", "tls://")
RETRYING = "a worker was lost; retrying on another"


class ClusterError(RuntimeError):
    """Work that the cluster could not do (its workers died running it, or the cluster went away)."""


def missing_module(e: BaseException) -> ClusterError | None:
    """What to do when a worker could not import a module of the job (a ModuleNotFoundError, or Dask's plain
    `Exception: ModuleNotFoundError("No module named 'resnet_viz'")` for a task it could not unpickle); else None."""
    text = f"{type(e).__name__}: {e}"
    found = re.search(r"No module named '([^']+)'", text)
    if found is None or not (isinstance(e, ImportError) or "ModuleNotFoundError" in text):
        return None
    module = found.group(1).split(".")[0]
    what = "resnet_viz" if module == "resnet_viz" else f"{module} (which resnet_viz needs)"
    return ClusterError(f"the cluster's workers cannot import {what}: install this checkout on every worker "
                        "(pip install -e '.[cluster]' in the same environment as dask-worker), then restart them")


def check_address(address: str) -> str:
    """`address` if it is a Dask scheduler address this lab connects to (tcp://HOST:PORT or tls://HOST:PORT);
    ValueError otherwise."""
    text = (address or "").strip()
    if not text.startswith(SCHEMES) or len(text) <= len("tcp://") or ":" not in text[len("tcp://"):]:
        raise ValueError(f"a Dask scheduler address is tcp://HOST:PORT or tls://HOST:PORT, not {address!r}")
    return text


class Executor:
    """Runs the lab's heavy work. `remote` is True when the work leaves this process."""

    remote = False

    def train(self, net, cfg, *, progress: Progress | None = None, time_limit_s: float | None = None,
              data=None, threads: int | None = None):
        """`train.train(net, cfg)` with the lab's thread policy: a `train.Run`."""
        raise NotImplementedError

    def prefetch(self, pairs, *, time_limit_s: float | None = None, threads: int | None = None):
        """Start training every (net, cfg) of `pairs` at once where that runs them side by side (a cluster), so a
        study's later `train` calls, one after another, find their runs trained or training. Returns what must be
        kept while they are wanted (None here: in-process work is not started ahead)."""
        return None

    def map_points(self, job, levels: Sequence[Sequence[tuple[float, ...]]], *, progress: Progress | None = None,
                   on_level: Callable[[int, list], None] | None = None) -> list[list[tuple]]:
        """`job.evaluate(points)` for every level of grid points (a list of coefficient tuples each), returning
        the results in the same shape. `on_level(i, results)` when level i and all before it are done (a
        coarse-to-fine preview); `progress(fraction, "k/n grid points")` as points complete."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the lecturer: where heavy work runs."""
        raise NotImplementedError


class InProcess(Executor):
    """The embedded default: work runs in the calling thread, bounded by the server's job queue."""

    def train(self, net, cfg, *, progress=None, time_limit_s=None, data=None, threads=None):
        return train(net, cfg, data=data, progress=progress, time_limit_s=time_limit_s, threads=threads)

    def map_points(self, job, levels, *, progress=None, on_level=None):
        total = sum(len(level) for level in levels)
        every = getattr(job, "report_every", None) or max(int(round(total ** 0.5)), 1)
        done, out = 0, []
        for i, level in enumerate(levels):
            results = []
            for point in level:
                results.append(job.evaluate([point])[0])
                done += 1
                if done % every == 0 or done == total:
                    notify(progress, done / total, f"{done}/{total} grid points")
            out.append(results)
            if on_level is not None:
                on_level(i, results)
        return out

    def describe(self) -> str:
        return f"Heavy work runs in this server process ({active().max_jobs} jobs at once)."


# --- the tasks a worker runs (module-level functions: workers import them by name) ---------------------------


def _run_state(run) -> dict:
    """A Run as plain parts (configs, weights, history, snapshots) to send between processes."""
    return {"net": run.net.to_dict(), "train": run.train.to_dict(),
            "state": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
            "history": run.history.to_dict(), "trajectory": run.trajectory}


def _run_from_state(state: dict):
    net = NetConfig.from_dict(state["net"])
    model = build_model(net)
    model.load_state_dict(state["state"], strict=True)
    return Run(net, TrainConfig.from_dict(state["train"]), model.eval(), History.from_dict(state["history"]),
               state["trajectory"])


def train_task(key: str, net: dict, cfg: dict, time_limit_s: float | None, threads: int) -> dict:
    """On a worker: train (net, cfg) with `threads` PyTorch threads, logging progress events under
    `PROGRESS_TOPIC` (at most about three a second) tagged with `key` and the worker's address."""
    from distributed import get_worker

    worker = get_worker()
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.3 or fraction >= 1:
            last[0] = now
            worker.log_event(PROGRESS_TOPIC, {"key": key, "worker": worker.address,
                                              "fraction": float(fraction), "message": str(message)})

    report(0.0, "started")
    run = train(NetConfig.from_dict(net), TrainConfig.from_dict(cfg), progress=report, time_limit_s=time_limit_s,
                threads=threads)
    return _run_state(run)


def points_task(job, points: list, threads: int) -> list:
    """On a worker: `job.evaluate(points)` with `threads` PyTorch threads."""

    with thread_policy(threads):
        return job.evaluate(points)


def _threads(threads: int | None) -> int:
    """PyTorch threads of a task: `threads`, else the lab's thread policy (`jobs.torch_threads`)."""

    return torch_threads() if threads is None else max(int(threads), 1)


def _train_key(net, cfg, threads: int | None) -> str:
    """The cluster's task key of a training: its run key and PyTorch thread count, the same in every process."""

    return f"train-{run_key(net, cfg)}-t{_threads(threads)}"


class DaskExecutor(Executor):
    """Heavy work on the Dask scheduler at `address` (tcp:// or tls://; TLS certificates from Dask's own
    configuration, `distributed.comm.tls`). `client` may be given (tests); otherwise one is connected on first
    use. If connecting fails, `fallback` (in-process) does the work until a retry, at most every `retry_s`
    seconds, connects."""

    def __init__(self, address: str, client=None, fallback: Executor | None = None,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S, retry_s: float = RETRY_S) -> None:
        self.address = check_address(address) if client is None else address
        self.fallback = fallback or InProcess()
        self.connect_timeout_s, self.retry_s = connect_timeout_s, retry_s
        self._client = client
        self._lock = threading.Lock()
        self._tried = client is not None
        self._retrying: threading.Thread | None = None
        self._closed = threading.Event()
        self.warning: str | None = None  # why work runs in-process now (shown once to the lecturer)
        self._waiting: dict[str, int] = {}  # training keys this process waits for -> callers waiting
        self._events: dict[str, dict] = {}  # key waited for -> its last progress event
        self._seen: dict[str, list[str]] = {}  # key waited for -> the workers that started it, in order
        if client is not None:
            self._subscribe(client)

    @property
    def remote(self) -> bool:
        """True while connected: work leaves this process (else the in-process fallback does it)."""
        return self.client() is not None

    # -- connection ------------------------------------------------------------------------------------------

    def client(self):
        """The connected `distributed.Client`, or None while the scheduler cannot be reached. The first call
        connects (at most `connect_timeout_s`); after a failure a background thread tries again every
        `retry_s` seconds, so no caller waits for an unreachable scheduler twice."""
        with self._lock:
            client = self._client
            if client is not None and client.status == "running":
                return client
            if client is not None and client.status == "closed":  # gave up reconnecting: start over
                self._client = None
                self._fail(RuntimeError("the connection was closed"))
            if self._tried:
                return None
            self._tried = True
            try:
                self._connect()
            except Exception as e:  # OSError, TimeoutError, a TLS error: the same fallback
                self._fail(e)
                return None
            return self._client

    def _connect(self) -> None:
        self._client, self.warning = self._new_client(), None

    def _new_client(self):
        """A `distributed.Client` of the scheduler, listening to the trainings' progress events."""
        from distributed import Client

        client = Client(self.address, timeout=self.connect_timeout_s, set_as_default=False)
        self._subscribe(client)
        return client

    def _fail(self, e: Exception) -> None:
        """Say once that the scheduler cannot be reached, and retry in the background (called with the lock)."""
        if self.warning is None:
            why = ("Dask's distributed is not installed here: pip install -e '.[cluster]'"
                   if isinstance(e, ImportError) else f"{type(e).__name__}: {str(e)[:120]}")
            self.warning = (f"The Dask scheduler at {self.address} cannot be reached ({why}); heavy work runs in "
                            "this server process until it can be.")
            log.warning(self.warning)
            warnings.warn(self.warning, RuntimeWarning, stacklevel=3)
        if self._retrying is None or not self._retrying.is_alive():
            self._retrying = threading.Thread(target=self._retry, name="resnet-viz-dask-retry", daemon=True)
            self._retrying.start()

    def _retry(self) -> None:
        while not self._closed.wait(self.retry_s):
            try:
                client = self._new_client()
            except Exception:
                continue
            with self._lock:
                self._client, self.warning = client, None
            log.warning(f"connected to the Dask scheduler at {self.address}: heavy work goes there again")
            return

    def _subscribe(self, client) -> None:
        def on_event(event) -> None:
            msg = event[1]
            key = msg.get("key")
            if key not in self._waiting:  # another server's training (every client hears every event)
                return
            workers = self._seen.setdefault(key, [])
            if msg.get("message") == "started":
                workers.append(msg.get("worker", "?"))
            self._events[key] = msg

        client.subscribe_topic(PROGRESS_TOPIC, on_event)

    def workers(self) -> dict[str, int]:
        """The cluster's workers now, address → threads (empty when not connected)."""
        client = self.client()
        if client is None:
            return {}
        return {a: int(w.get("nthreads", 1)) for a, w in sorted(client.scheduler_info(n_workers=-1)["workers"].items())}

    def describe(self) -> str:
        client = self.client()
        if client is None:
            return self.warning or f"The Dask scheduler at {self.address} cannot be reached."
        workers = self.workers()
        link = client.dashboard_link
        return (f"Heavy work goes to the Dask cluster at {self.address}: {len(workers)} workers, "
                f"{sum(workers.values())} threads" + (f"; its dashboard: {link}" if link else "") + ".")

    def close(self) -> None:
        """Stop retrying and close the connection."""
        self._closed.set()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                pass

    # -- work ------------------------------------------------------------------------------------------------

    def train(self, net, cfg, *, progress=None, time_limit_s=None, data=None, threads=None):
        client = self.client()
        if client is None:
            return self.fallback.train(net, cfg, progress=progress, time_limit_s=time_limit_s, data=data,
                                       threads=threads)
        key = _train_key(net, cfg, threads)
        with self._lock:
            self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            future = self._submit_training(client, net, cfg, time_limit_s, threads)
            state = self._wait(future, progress, lambda: self._train_message(key))
        finally:
            with self._lock:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]
                    self._events.pop(key, None)
                    self._seen.pop(key, None)
        return _run_from_state(state)

    def prefetch(self, pairs, *, time_limit_s=None, threads=None):
        """Submit every training of `pairs` now (the same task keys as `train`, so `train` later joins its task);
        returns their futures, to be kept while the study runs (dropped, unfinished tasks nobody else wants are
        cancelled by the scheduler)."""
        client = self.client()
        if client is None or not pairs:
            return None
        return [self._submit_training(client, net, cfg, time_limit_s, threads) for net, cfg in pairs]

    @staticmethod
    def _submit_training(client, net, cfg, time_limit_s, threads):
        """The future of (net, cfg)'s training task, under its deterministic key (`_train_key`): a task with that
        key already on the scheduler (another caller's, another server's) is joined, not started again."""
        key = _train_key(net, cfg, threads)
        return client.submit(train_task, key, net.to_dict(), cfg.to_dict(), time_limit_s, _threads(threads), key=key,
                             pure=False)

    def _train_message(self, key: str) -> tuple[float, str]:
        msg, workers = self._events.get(key), self._seen.get(key, [])
        if msg is None:
            return 0.0, "waiting for a worker of the cluster"
        text = msg["message"] if msg["message"] != "started" else "started"
        where = f"on the cluster's worker {msg['worker']}"
        if len(workers) > 1:
            where = f"{RETRYING} ({msg['worker']}, attempt {len(workers)})"
        return msg["fraction"], f"{text} · {where}"

    def _wait(self, future, progress, message: Callable[[], tuple[float, str]]):
        """The result of `future`; `progress(*message())` every `POLL_S` seconds while it runs."""
        from distributed import TimeoutError as DaskTimeout
        from distributed.client import FutureCancelledError

        try:
            while True:
                try:
                    return future.result(timeout=POLL_S)
                except (DaskTimeout, TimeoutError):
                    notify(progress, *message())
        except FutureCancelledError as e:
            raise ClusterError(f"the cluster dropped this job ({e}); try again") from None
        except Exception as e:
            if type(e).__name__ == "KilledWorker":
                raise ClusterError(f"this job killed {type(e).__name__} workers of the cluster one after another "
                                   "(out of memory?); it was given up") from None
            missing = missing_module(e)
            if missing is not None:
                raise missing from None
            raise

    def map_points(self, job, levels, *, progress=None, on_level=None):
        client = self.client()
        if client is None:
            return self.fallback.map_points(job, levels, progress=progress, on_level=on_level)
        threads, token = _threads(None), job.token()
        n_workers = max(len(self.workers()), 1)
        shared = client.scatter(job, broadcast=False, hash=False)
        futures, where = [], []  # one future a chunk; where[i] = (level, start, end)
        for li, level in enumerate(levels):
            pieces = min(len(level), 2 * n_workers)
            bounds = [round(k * len(level) / pieces) for k in range(pieces + 1)] if pieces else []
            for a, b in zip(bounds, bounds[1:]):
                futures.append(client.submit(points_task, shared, list(level[a:b]), threads,
                                             key=f"grid-{token}-{li}-{a}", pure=False))
                where.append((li, a, b))
        total = sum(len(level) for level in levels)
        out = [[None] * len(level) for level in levels]
        pending_by_level = [sum(1 for w in where if w[0] == li) for li in range(len(levels))]
        previewed, done_points, pending = 0, 0, set(range(len(futures)))
        try:
            last_report = time.monotonic()
            while pending:
                finished = [i for i in pending if futures[i].done()]
                if not finished and time.monotonic() - last_report < POLL_S:
                    time.sleep(0.02)
                    continue
                last_report = time.monotonic()
                for i in finished:
                    li, a, b = where[i]
                    try:
                        out[li][a:b] = futures[i].result()
                    except Exception as e:
                        if type(e).__name__ == "KilledWorker":
                            raise ClusterError("grid points of this plane killed workers of the cluster one after "
                                               "another; it was given up") from None
                        missing = missing_module(e)
                        if missing is not None:
                            raise missing from None
                        raise
                    pending.discard(i)
                    pending_by_level[li] -= 1
                    done_points += b - a
                if finished:
                    notify(progress, done_points / total, f"{done_points}/{total} grid points on the cluster")
                else:
                    notify(progress, done_points / total,
                           f"{done_points}/{total} grid points on the cluster ({n_workers} workers)")
                while previewed < len(levels) and pending_by_level[previewed] == 0:
                    if on_level is not None:
                        on_level(previewed, out[previewed])
                    previewed += 1
        finally:
            del futures, shared  # an abandoned grid (its session gone) is released: the scheduler drops it
        return out


_current: Executor | None = None
_current_for: str | None = None
_current_lock = threading.Lock()


def current() -> Executor:
    """This process's executor: a `DaskExecutor` for the active configuration's scheduler address
    (`config.LabConfig.dask`), else `InProcess`. Made once per address."""

    global _current, _current_for
    address = active().dask
    with _current_lock:
        if _current is None or _current_for != address:
            if isinstance(_current, DaskExecutor):
                _current.close()
            try:
                _current = DaskExecutor(address) if address else InProcess()
            except ValueError as e:  # a malformed address in the server's own settings: said once, in-process
                log.warning(f"RESNET_VIZ_DASK: {e}; heavy work runs in this server process")
                _current = InProcess()
                _current.warning = str(e)  # type: ignore[attr-defined]
            _current_for = address
        return _current


def notice() -> str | None:
    """Why heavy work runs in-process although a cluster was configured (None: nothing to say)."""
    ex = current()
    if isinstance(ex, DaskExecutor):
        ex.client()
    return getattr(ex, "warning", None)


def close() -> None:
    """Close this process's executor's connection, if any, and forget it."""
    global _current, _current_for
    with _current_lock:
        if isinstance(_current, DaskExecutor):
            _current.close()
        _current, _current_for = None, None
