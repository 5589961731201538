"""Datasets: embedded ones (no files needed) and local torchvision folders.

Nothing here ever downloads. Embedded: scikit-learn's handwritten digits (1,797
real 8x8 images shipped inside scikit-learn) and 2-D synthetic sets for MLPs, among them
TensorFlow Playground's (`make_plane_set`, for the Playground view).
Local: CIFAR-10, MNIST and Fashion-MNIST through torchvision with
``download=False`` from a root folder the user already has.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from .config import active, configured

EMBEDDED = ("digits", "spirals", "moons", "circles")
LOCAL = ("mnist", "fashion-mnist", "cifar10")
DATASETS = EMBEDDED + LOCAL
SPLIT_SEED = 0  # the fixed train/test split
TEST_FRACTION = 0.2

# Where each torchvision dataset expects its files under the root folder.
_EXPECTED = {
    "mnist": "MNIST/raw/ (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)",
    "fashion-mnist": "FashionMNIST/raw/ (the same four idx files as MNIST, from Fashion-MNIST)",
    "cifar10": "cifar-10-batches-py/ (data_batch_1 … data_batch_5, test_batch, batches.meta: the 'python version' archive, extracted)",
}


class DatasetError(ValueError):
    """A dataset that cannot be loaded; the message says what to put where."""


@dataclass
class Dataset:
    """Tensors of one dataset, already normalised (float32 inputs, int64 labels)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per-channel mean subtracted (for showing raw images)
    std: tuple[float, ...]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input: (C, H, W) for images, (2,) for 2-D sets."""
        return tuple(self.x_train.shape[1:])

    @property
    def classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def is_image(self) -> bool:
        """True for image data (C, H, W)."""
        return self.x_train.dim() == 4

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: inputs back to their original value range."""
        if not self.is_image:
            return x
        mean = torch.tensor(self.mean).view(-1, 1, 1)
        std = torch.tensor(self.std).view(-1, 1, 1)
        return x * std + mean


def _split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)


def _normalise_images(x_train: np.ndarray, x_test: np.ndarray):
    # Per-channel statistics of the training split only.
    axes = (0, 2, 3)
    mean = x_train.mean(axis=axes, keepdims=True)
    std = x_train.std(axis=axes, keepdims=True) + 1e-8
    return (x_train - mean) / std, (x_test - mean) / std, tuple(mean.ravel().tolist()), tuple(std.ravel().tolist())


def _to_dataset(name, x_train, y_train, x_test, y_test, class_names, mean, std) -> Dataset:
    return Dataset(
        name=name,
        x_train=torch.as_tensor(np.ascontiguousarray(x_train), dtype=torch.float32),
        y_train=torch.as_tensor(y_train, dtype=torch.int64),
        x_test=torch.as_tensor(np.ascontiguousarray(x_test), dtype=torch.float32),
        y_test=torch.as_tensor(y_test, dtype=torch.int64),
        class_names=tuple(class_names),
        mean=mean,
        std=std,
    )


def load_digits() -> Dataset:
    """scikit-learn's 1,797 handwritten digits as (1, 8, 8) images, 80/20 stratified split.

    Pixel values 0..16 are standardised with the training split's mean and std.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = bunch.images.astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = _split(x, y)
    x_tr, x_te, mean, std = _normalise_images(x_tr, x_te)
    return _to_dataset("digits", x_tr, y_tr, x_te, y_te, [str(i) for i in range(10)], mean, std)


def make_spirals(n: int = 1000, classes: int = 2, noise: float = 0.04, seed: int = SPLIT_SEED):
    """Interleaved 2-D spirals, `classes` arms, `n` points in all; returns (x, y)."""
    rng = np.random.default_rng(seed)
    per = n // classes
    xs, ys = [], []
    for k in range(classes):
        t = np.sqrt(rng.uniform(0, 1, per)) * 3 * math.pi  # radius grows with angle
        angle = t + 2 * math.pi * k / classes
        pts = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) / (3 * math.pi)
        xs.append(pts + rng.normal(0, noise, pts.shape))
        ys.append(np.full(per, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def load_synthetic(name: str, n: int = 1000) -> Dataset:
    """A 2-D synthetic set (spirals, moons, circles), standardised, 80/20 split."""
    from sklearn.datasets import make_circles, make_moons

    if name == "spirals":
        x, y = make_spirals(n)
    elif name == "moons":
        x, y = make_moons(n, noise=0.15, random_state=SPLIT_SEED)
    elif name == "circles":
        x, y = make_circles(n, noise=0.08, factor=0.5, random_state=SPLIT_SEED)
    else:
        raise DatasetError(f"unknown synthetic dataset {name!r}")
    x = x.astype(np.float32)
    x_tr, x_te, y_tr, y_te = _split(x, y.astype(np.int64))
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-8
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    return _to_dataset(name, x_tr, y_tr, x_te, y_te, ["class 0", "class 1"], (0.0,), (1.0,))


# --- the 2-D sets of the Playground view, in TensorFlow Playground's input plane ----------------------

# The Playground view's sets (Smilkov et al. 2017, "Direct-manipulation visualization of deep networks",
# TensorFlow Playground): the lab's spirals, moons and circles, and Playground's XOR and two Gaussians.
PLANE_SETS = ("spirals", "moons", "circles", "xor", "gaussians")
PLANE = 6.0  # the input plane shown is [-PLANE, PLANE]², as in Playground
MAX_NOISE = 0.5  # Playground's noise slider runs from 0 to 50 %


def make_xor(n: int, noise: float = 0.0, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Playground's XOR set (classifyXORData in its dataset.ts): x, y uniform on [-5, 5] pushed 0.3 away
    from the axes, label 1 where x·y ≥ 0. Noise moves the point at which the label is read by
    U(-5, 5)·noise in each coordinate, so points near the axes get the other quadrant's label."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-5, 5, (n, 2))
    xy += np.where(xy > 0, 0.3, -0.3)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    label = ((xy[:, 0] + jitter[:, 0]) * (xy[:, 1] + jitter[:, 1]) >= 0).astype(np.int64)
    return xy.astype(np.float32), label


def make_gaussians(n: int, noise: float = 0.0, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Playground's two Gaussians (classifyTwoGaussData): n/2 points around (2, 2) of class 1 and n/2 around
    (-2, -2) of class 0, each coordinate with variance 0.5 (noise 0) growing linearly to 4 (noise 0.5)."""
    rng = np.random.default_rng(seed)
    std = math.sqrt(0.5 + (4 - 0.5) * noise / MAX_NOISE)
    half = n // 2
    xy = np.concatenate([rng.normal(2, std, (half, 2)), rng.normal(-2, std, (n - half, 2))])
    label = np.concatenate([np.ones(half, np.int64), np.zeros(n - half, np.int64)])
    return xy.astype(np.float32), label


def make_plane_set(name: str, n: int, noise: float = 0.1, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """`n` points (x [n, 2] in Playground's plane, about [-6, 6]², labels y [n] of 0 and 1) of one of
    PLANE_SETS, seeded, never downloaded.

    `noise` is Playground's slider as a fraction (0 to 0.5). XOR and two Gaussians are Playground's own
    generators. Spirals, moons and circles are the lab's (`make_spirals`, scikit-learn's make_moons and
    make_circles) scaled into the plane (outer radius 5, as Playground's spiral and circle); their
    Gaussian noise grows in proportion to `noise`, 10 % giving the lab's own noise of each set
    (`load_synthetic`: 0.04, 0.15 and 0.08 of the set's unit radius).
    """
    from sklearn.datasets import make_circles, make_moons

    if name not in PLANE_SETS:
        raise DatasetError(f"unknown 2-D set {name!r}; choose one of: {', '.join(PLANE_SETS)}")
    if not (isinstance(noise, (int, float)) and 0 <= noise <= MAX_NOISE):
        raise DatasetError(f"noise must be from 0 to {MAX_NOISE:g} (Playground's 0–50 %), got {noise!r}")
    if name == "xor":
        return make_xor(n, noise, seed)
    if name == "gaussians":
        return make_gaussians(n, noise, seed)
    if name == "spirals":
        x, y = make_spirals(n + n % 2, noise=0.4 * noise, seed=seed)  # two arms of (n + 1) // 2 points
        x, y = x[:n] * 5, y[:n]
    elif name == "moons":
        x, y = make_moons(n, noise=1.5 * noise, random_state=seed)
        x = (x - np.array([0.5, 0.25])) * 3  # centred: [-1, 2] × [-0.5, 1] -> [-4.5, 4.5] × [-2.25, 2.25]
    else:
        x, y = make_circles(n, noise=0.8 * noise, factor=0.5, random_state=seed)
        x = x * 5
    return x.astype(np.float32), y.astype(np.int64)


def split_plane_set(x: np.ndarray, y: np.ndarray, train_fraction: float, seed: int = SPLIT_SEED):
    """(x_train, y_train, x_test, y_test): the points shuffled with `seed`, the first `train_fraction` of
    them for training, as Playground splits by its "ratio of training to test data"; at least one point
    each side."""
    order = np.random.default_rng(seed).permutation(len(x))
    cut = min(max(int(round(train_fraction * len(x))), 1), len(x) - 1)
    tr, te = order[:cut], order[cut:]
    return x[tr], y[tr], x[te], y[te]


def default_root() -> str:
    """Root folder for local datasets: the active configuration's (`config.LabConfig.data_root`: $RESNET_VIZ_DATA
    or ~/.cache/resnet_viz/data)."""

    return active().data_root


def load_local(name: str, root: str | None = None, limit: int | None = None) -> Dataset:
    """CIFAR-10, MNIST or Fashion-MNIST from `root` with ``download=False``.

    `limit` keeps the first `limit` training and `limit // 5` test images, for quick
    lab runs. A missing or broken folder raises DatasetError saying what goes where.
    """
    import torchvision

    root = root or default_root()
    cls = {"mnist": torchvision.datasets.MNIST, "fashion-mnist": torchvision.datasets.FashionMNIST,
           "cifar10": torchvision.datasets.CIFAR10}[name]
    try:
        train = cls(root, train=True, download=False)
        test = cls(root, train=False, download=False)
    except Exception as e:  # torchvision raises RuntimeError for missing files, others for broken ones
        raise DatasetError(
            f"{name} is not available under {root!r} ({(str(e).split('.')[0] or type(e).__name__).strip()}). "
            f"Put {_EXPECTED[name]} inside that folder, or choose another root; nothing is downloaded."
        ) from None

    def arrays(ds, n):
        data = ds.data if isinstance(ds.data, np.ndarray) else ds.data.numpy()
        targets = np.asarray(ds.targets)
        if n is not None:
            data, targets = data[:n], targets[:n]
        data = data.astype(np.float32) / 255.0
        data = data.transpose(0, 3, 1, 2) if data.ndim == 4 else data[:, None]
        return data, targets.astype(np.int64)

    x_tr, y_tr = arrays(train, limit)
    x_te, y_te = arrays(test, None if limit is None else max(limit // 5, 1))
    x_tr, x_te, mean, std = _normalise_images(x_tr, x_te)
    return _to_dataset(name, x_tr, y_tr, x_te, y_te, list(train.classes), mean, std)


def _memo(size: int):
    # Datasets kept in memory by one process (least recently used dropped first): a local dataset can take
    # hundreds of MB, so the memo is bounded by count, and keyed by the folder's real path (`cache_key`) so that
    # different spellings of one folder share one copy. A plain cache: `functools.lru_cache` (thread-safe; two
    # sessions asking at the same moment may both load, and one copy is kept).
    return functools.lru_cache(maxsize=max(int(size), 1))(_load)


def set_cache_size(size: int) -> None:
    """Keep at most `size` datasets in memory from now on (the server's `LabConfig.max_datasets`); a new size
    empties the memo."""
    global _loaded
    if _loaded.cache_info().maxsize != max(int(size), 1):
        _loaded = _memo(size)


def cache_key(name: str, root: str | None = None, limit: int | None = None) -> tuple:
    """The memo key of `load_dataset(name, root, limit)`: one key per dataset actually loaded.

    Embedded datasets ignore root and limit; a local dataset's root is resolved
    (default root, ``~``, relative parts, symbolic links) to its real path.
    """
    if name not in LOCAL:
        return (name, None, None)
    return (name, os.path.realpath(os.path.expanduser(root or default_root())), limit)


def load_dataset(name: str = "digits", root: str | None = None, limit: int | None = None) -> Dataset:
    """Load a dataset by name (see DATASETS). Results are memoised per process.

    The memo is keyed by `cache_key` and holds at most 4 datasets (the active `LabConfig.max_datasets`,
    $RESNET_VIZ_MAX_DATASETS, once `config.use` is given one: read here at each call), least recently used
    dropped first. The returned tensors are shared: callers must not modify them in place.
    """
    config = configured()
    if config is not None:  # a server's or a command line's configuration sizes the memo
        set_cache_size(config.max_datasets)
    return _loaded(*cache_key(name, root, limit))


def _load(name: str, root: str | None, limit: int | None) -> Dataset:
    if name == "digits":
        return load_digits()
    if name in ("spirals", "moons", "circles"):
        return load_synthetic(name)
    if name in LOCAL:
        return load_local(name, root, limit)
    raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")


_loaded = _memo(4)  # a server's or a command line's `LabConfig.max_datasets` replaces it (`load_dataset`)
