"""Computed results of the views, kept on disk like trained runs, so that a preset, a report and a page open at once.

A view's study (`registry.View.compute`) can take tens of seconds: a 21×21 loss landscape, the lesion sweeps of
two 15-block nets, the identity study's gradients. Its result depends only on what its key names
(`result_key`): the view and its result version, the settings that change a number (`computation`), and its
inputs: the weights of a trained pair (a digest of every tensor, so a pair trained elsewhere never borrows
another's result), or the pair's configs for a view that trains nets of its own from them. `ResultStore` keeps
results under their key in a folder (the server's, beside its runs; `prepare` fills it before class) and reads
the lab's shipped ones (`assets/results`, made by `python -m resnet_viz.shipping`, one for every preset and every
view's default), and `study` is the one way in: kept, or computed now and kept. The pages (`ui/results.py`),
the command line's view subcommands, the reports (`slides.sections`) and `prepare` all call it.

A result is written as JSON (its dataclasses, lists, numbers and strings) and one safetensors file (its arrays
and tensors): no pickle is written or read. Only dataclasses of this package are rebuilt, field by field, and a
trained run inside a result (the identity study's nets) is written as its configs and read back from the run
store or the shipped runs (`resolve`); a result that cannot be read back exactly that way is computed again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .assets import load_shipped
from .captions import Caption
from .config import active
from .models import NetConfig
from .store import default_folder as runs_folder
from .train import Run, TrainConfig

RESULTS_FORMAT = 1  # the layout of a stored result; a change makes every stored and shipped result a miss
MARKER = ".resnet-viz-result"
FILES = frozenset({"result.json", "arrays.safetensors", MARKER})
KEY_CHARS = 24  # longer than a run key (16), so that neither store ever takes the other's entries
TMP_PREFIX = ".resnet-viz-tmp-result-"

log = logging.getLogger(__name__)


class UnstorableResult(TypeError):
    """A result holds something `encode` cannot write (a model, a function): it is computed, not stored."""


# --- keys ------------------------------------------------------------------------------------------------------


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def computation(settings) -> dict:
    """The fields of `settings` that determine the numbers (a cache key): its own `computation()` where it has one
    (fields that change no number left out), else every field."""
    if hasattr(settings, "computation"):
        return settings.computation()
    return {f.name: _jsonable(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


def shared_settings(settings):
    """The settings a kept result is computed from: the fields of `computation` only (display fields at their
    defaults), so that one result serves every display choice."""
    return type(settings)(**computation(settings)) if hasattr(settings, "computation") else settings


def weights_digest(run) -> str:
    """SHA-256 of a trained run's weights (every parameter and buffer of its model, by name, with dtype and shape):
    the identity of a trained net, whatever machine or store it came from. Kept per model (a trained run is never
    changed), so a page's reruns do not hash the same weights again."""
    digest = _digests.get(run.model)
    if digest is None:
        h = hashlib.sha256()
        for name, t in run.model.state_dict().items():
            t = t.detach().cpu().contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        digest = _digests[run.model] = h.hexdigest()
    return digest


_digests: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> `weights_digest`


def array_key(x) -> str:
    """The key of one input array (the features view's image): a hash of its float32 values."""
    return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def result_key(view, settings, *, net=None, train=None, runs: dict | None = None, extra_key: str = "") -> str:
    """The key of `view`'s result for `settings`: a hash of the result format, the view (`slug`, `result_version`),
    `computation(settings)`, `extra_key` (an input of the view's own, e.g. the features view's image, `array_key`)
    and what the view computes from (`View.inputs`): a "pair" view the trained `runs` ({"plain", "residual"}: their
    configs and `weights_digest`), a "config" view (it trains nets of its own) the pair's `net` and `train`
    configs, a "none" view nothing more."""
    parts: dict = {"format": RESULTS_FORMAT, "view": view.slug, "version": view.result_version,
                   "settings": computation(settings), "extra": extra_key}
    if view.inputs == "pair":
        parts["runs"] = {label: [r.net.to_dict(), r.train.to_dict(), weights_digest(r)]
                         for label, r in (runs or {}).items()}
    elif view.inputs == "config":
        parts["pair"] = [net.to_dict() if net is not None else None, train.to_dict() if train is not None else None]
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_CHARS]


# --- writing a result as JSON and tensors ----------------------------------------------------------------------


def encode(obj, arrays: dict[str, torch.Tensor]):
    """A JSON tree of `obj`, its arrays and tensors moved into `arrays` (named by their order). Dataclasses of
    this package, lists, tuples, dicts, sets, numbers (NaN and ±inf too), strings, captions, numpy arrays and
    scalars, tensors and trained runs (as their configs); UnstorableResult for anything else."""

    if obj is None or isinstance(obj, (bool, int, float)) and type(obj) in (bool, int, float):
        return obj
    if type(obj) is str:
        return obj
    if isinstance(obj, Caption):
        return {"t": "caption", "takeaway": obj.takeaway, "details": obj.details}
    if isinstance(obj, np.generic):
        return {"t": "scalar", "dtype": obj.dtype.str, "v": obj.item()}
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        name = str(len(arrays))
        is_array = isinstance(obj, np.ndarray)
        if is_array and obj.dtype.kind not in "biuf":
            raise UnstorableResult(f"an array of {obj.dtype} cannot be stored")
        t = torch.from_numpy(np.ascontiguousarray(obj)) if is_array else obj.detach().cpu().contiguous()
        arrays[name] = t.clone()
        return {"t": "array" if is_array else "tensor", "name": name}
    if isinstance(obj, Run):
        return {"t": "run", "net": obj.net.to_dict(), "train": obj.train.to_dict()}
    if isinstance(obj, list):
        return [encode(v, arrays) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return {"t": "tuple", "items": [encode(v, arrays) for v in obj]}
    if isinstance(obj, (set, frozenset)):
        return {"t": type(obj).__name__, "items": [encode(v, arrays) for v in sorted(obj, key=repr)]}
    if type(obj) is dict:
        return {"t": "dict", "items": [[encode(k, arrays), encode(v, arrays)] for k, v in obj.items()]}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        if not cls.__module__.startswith(f"{__package__}.") or "<locals>" in cls.__qualname__:
            raise UnstorableResult(f"{cls.__module__}.{cls.__qualname__} is not a dataclass of {__package__}")
        return {"t": "dataclass", "class": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(obj)}}
    raise UnstorableResult(f"a {type(obj).__module__}.{type(obj).__qualname__} cannot be stored")


class _Missing(LookupError):
    """A stored result names a run that is not available any more: it is computed again."""


def decode(tree, arrays: dict[str, torch.Tensor], resolve: Callable | None):
    """The object `encode` wrote: dataclasses of this package only (rebuilt field by field, without running their
    `__init__`), runs from `resolve(net, cfg) -> Run | None` (LookupError when it gives none); ValueError for
    anything `encode` does not write."""
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if isinstance(tree, list):
        return [decode(v, arrays, resolve) for v in tree]
    if not isinstance(tree, dict):
        raise ValueError(f"unexpected {type(tree).__name__} in a stored result")
    kind = tree.get("t")
    if kind == "caption":
        return Caption(str(tree["takeaway"]), str(tree["details"]))
    if kind == "scalar":
        return np.array(tree["v"], dtype=np.dtype(str(tree["dtype"])))[()]
    if kind in ("array", "tensor"):
        t = arrays[str(tree["name"])]
        return t.numpy() if kind == "array" else t
    if kind == "run":
        net, cfg = NetConfig.from_dict(tree["net"]), TrainConfig.from_dict(tree["train"])
        run = resolve(net, cfg) if resolve is not None else None
        if run is None or run.net != net or run.train != cfg:
            raise _Missing(f"the stored result needs the run {net.name}, which is not available")
        return run
    if kind == "tuple":
        return tuple(decode(v, arrays, resolve) for v in tree["items"])
    if kind in ("set", "frozenset"):
        return (set if kind == "set" else frozenset)(decode(v, arrays, resolve) for v in tree["items"])
    if kind == "dict":
        return {_hashable(decode(k, arrays, resolve)): decode(v, arrays, resolve) for k, v in tree["items"]}
    if kind == "dataclass":
        module, _, qualname = str(tree["class"]).partition(":")
        if not module.startswith(f"{__package__}.") or not qualname.isidentifier():
            raise ValueError(f"a stored result names {tree['class']!r}, which is not a dataclass of {__package__}")
        cls = getattr(importlib.import_module(module), qualname, None)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ValueError(f"{tree['class']!r} is not a dataclass")
        obj = cls.__new__(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        if set(tree["fields"]) != names:
            raise ValueError(f"the stored {qualname} has other fields than this version's")
        for name, value in tree["fields"].items():
            object.__setattr__(obj, name, decode(value, arrays, resolve))
        return obj
    raise ValueError(f"unexpected {kind!r} in a stored result")


def _hashable(k):
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k


def write_result(result, folder: str) -> None:
    """Write `result` into `folder` (created): result.json and arrays.safetensors. UnstorableResult when it holds
    what `encode` cannot write."""

    arrays: dict[str, torch.Tensor] = {}
    tree = encode(result, arrays)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "result.json"), "w") as f:
        json.dump({"format": RESULTS_FORMAT, "result": tree}, f)
    save_file(arrays, os.path.join(folder, "arrays.safetensors"))


def read_result(folder: str, resolve: Callable | None = None):
    """The result `write_result` wrote into `folder`; runs inside it from `resolve(net, cfg)`. OSError, ValueError
    or LookupError when it cannot be read back (missing, corrupt, another format, a run no longer available)."""

    with open(os.path.join(folder, "result.json")) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{folder} holds a result of another format")
    try:
        arrays = load_file(os.path.join(folder, "arrays.safetensors"))
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"{folder}: unreadable arrays ({e})") from e
    return decode(doc["result"], arrays, resolve)


# --- the store -------------------------------------------------------------------------------------------------


def default_folder() -> str | None:
    """Where a server keeps computed results: `results` in its run store's folder (`store.default_folder`); None
    when runs are kept in memory only."""

    folder = runs_folder()
    return os.path.join(folder, "results") if folder else None


def shipped_dir() -> str | None:
    """The folder of shipped results: the active configuration's (`config.LabConfig.shipped_results`)."""

    return active().shipped_results


class ResultStore:
    """Computed results by key (`result_key`): written to `folder` (at most `max_entries` of them, the least
    recently used removed first; only folders this store wrote, marked with `MARKER`, are ever removed), read
    from there or from the `shipped` folder. A failed write is logged and kept in `last_write_error`; the result
    is still returned."""

    def __init__(self, folder: str | None = None, shipped: str | None = None, max_entries: int = 64) -> None:
        self.folder, self.shipped, self.max_entries = folder, shipped, max_entries
        self.last_write_error: str | None = None
        self._lock = threading.Lock()

    def get(self, key: str, resolve: Callable | None = None):
        """The result kept under `key` (this store's folder first, then the shipped one), or None. An entry of
        this store that does not read back is removed."""
        for folder, own in ((self.folder, True), (self.shipped, False)):
            path = os.path.join(folder, key) if folder else None
            if path is None or not os.path.isfile(os.path.join(path, "result.json")):
                continue
            try:
                result = read_result(path, resolve)
            except _Missing as e:
                log.info(f"{path}: {e}; computed again")
                continue
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning(f"{path} could not be read ({e}); computed again")
                if own and _own_entry(path):
                    shutil.rmtree(path, ignore_errors=True)
                continue
            if own:
                try:
                    os.utime(path)  # recently used: removed last
                except OSError:
                    pass
            return result
        return None

    def has(self, key: str) -> bool:
        """True when a result is kept under `key` (in this store's folder or the shipped one); it is not read."""
        return any(folder and os.path.isfile(os.path.join(folder, key, "result.json"))
                   for folder in (self.folder, self.shipped))

    def put(self, key: str, result) -> bool:
        """Write `result` under `key` (atomically: a marked temporary folder renamed into place); False when it
        was not written (no folder, a result `encode` cannot write, a failed write: logged)."""
        if not self.folder:
            return False
        tmp = None
        try:
            os.makedirs(self.folder, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.folder)
            open(os.path.join(tmp, MARKER), "w").close()
            write_result(result, tmp)
            target = os.path.join(self.folder, key)
            with self._lock:
                if _own_entry(target):
                    shutil.rmtree(target, ignore_errors=True)
                os.replace(tmp, target)
                tmp = None
                self._evict()
            self.last_write_error = None
            return True
        except UnstorableResult as e:
            log.info(f"result {key} is not stored: {e}")
            return False
        except OSError as e:
            self.last_write_error = f"cannot save a result in {self.folder}: {e.strerror or e}"
            log.warning(self.last_write_error)
            return False
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)

    def _evict(self, stale_s: float = 3600) -> None:
        """Remove this store's least recently used entries past `max_entries`, and its temporaries older than
        `stale_s` (a write cut off by a restart); nothing else in the folder."""
        entries, now = [], time.time()
        for e in os.scandir(self.folder):
            try:
                if _own_entry(e.path):
                    entries.append((e.stat(follow_symlinks=False).st_mtime, e.path))
                elif (e.name.startswith(TMP_PREFIX) and e.is_dir(follow_symlinks=False)
                      and os.path.isfile(os.path.join(e.path, MARKER))
                      and now - e.stat(follow_symlinks=False).st_mtime > stale_s):
                    shutil.rmtree(e.path, ignore_errors=True)
            except OSError:
                pass
        for _, path in sorted(entries)[:max(len(entries) - self.max_entries, 0)]:
            shutil.rmtree(path, ignore_errors=True)


def _own_entry(path: str) -> bool:
    """True for a folder a ResultStore wrote: named by a result key, a real folder, holding only its files and
    the marker."""
    name = os.path.basename(path)
    if len(name) != KEY_CHARS or any(c not in "0123456789abcdef" for c in name):
        return False
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    return MARKER in names and names <= FILES


_default_store: ResultStore | None = None
_default_lock = threading.Lock()


def default_store() -> ResultStore:
    """The process's result store: the active configuration's folder (`default_folder`) and shipped results; made
    again when the configuration names other folders."""
    global _default_store
    folder, shipped = default_folder(), shipped_dir()
    with _default_lock:
        if _default_store is None or (_default_store.folder, _default_store.shipped) != (folder, shipped):
            _default_store = ResultStore(folder, shipped)
        return _default_store


def study(view, settings, inputs, *, store: ResultStore | None = None, resolve: Callable | None = None,
          extra_key: str = "", key: str | None = None):
    """`view`'s result for `settings` and `inputs` (`registry.Inputs`): read from `store` (default `default_store()`)
    when kept, else computed by the view's study (`View.compute`, from the settings that change a number,
    `shared_settings`) and kept; its `settings` are the caller's (display fields included). A view that is not
    `stored` is computed, as `View.compute` does. `resolve(net, cfg) -> Run | None` finds the runs a kept result names (default: the
    shipped runs); `key` when the caller has it already (`result_key`)."""
    if not view.stored:
        return view.compute(settings, inputs)
    settings.validate()  # refused before a kept result is looked for, as before any work
    store = store if store is not None else default_store()
    key = key or result_key(view, settings, net=inputs.net, train=inputs.train, runs=inputs.runs,
                            extra_key=extra_key)
    result = store.get(key, resolve or shipped_resolver())
    if result is None:
        result = view.compute(shared_settings(settings), inputs)
        store.put(key, result)
    elif inputs.progress is not None:
        inputs.progress(1.0, "read the result kept on disk (computed before for exactly these settings and inputs)")
    if getattr(result, "settings", settings) != settings and dataclasses.is_dataclass(result):
        result = dataclasses.replace(result, settings=settings)  # the caller's display fields, on a shallow copy
    return result


def shipped_resolver(store=None) -> Callable:
    """resolve(net, cfg) -> Run | None for `read_result`: the run kept by `store` (a RunStore: in memory or on
    its disk, never trained) or shipped with the lab."""

    def resolve(net, cfg):
        if store is not None:
            run = store.stored(net, cfg)
            if run is not None:
                return run
        return load_shipped(net, cfg)
    return resolve
