"""resnet_viz.data: embedded data is the real data, local folders load without network."""

import socket
import struct

import numpy as np
import pytest
import torch

from resnet_viz import data as data_mod
from resnet_viz.data import DatasetError, load_dataset, load_local


def test_digits_are_sklearn_digits_with_a_fixed_stratified_split():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    raw = load_digits()
    assert len(ds.x_train) + len(ds.x_test) == 1797
    assert ds.input_shape == (1, 8, 8) and ds.classes == 10
    # Standardised with the training split's statistics.
    assert abs(ds.x_train.mean().item()) < 1e-4 and ds.x_train.std().item() == pytest.approx(1, abs=1e-3)
    # Every image, un-normalised, is one of scikit-learn's images with the same label.
    lookup = {img.astype(np.float32).tobytes(): int(t) for img, t in zip(raw.images, raw.target)}
    restored = ds.denormalize(ds.x_test).round().numpy()[:, 0]
    for img, label in zip(restored[:50], ds.y_test[:50]):
        assert lookup[img.astype(np.float32).tobytes()] == int(label)
    # Stratified: each class has 20% of its images in the test split (±1).
    counts = np.bincount(raw.target)
    test_counts = np.bincount(ds.y_test.numpy(), minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * counts) <= 1)
    # Fixed: loading again (without the memo) gives the same split.
    again = data_mod.load_digits()
    assert torch.equal(again.x_test, ds.x_test)


@pytest.mark.parametrize("name", ["spirals", "moons", "circles"])
def test_synthetic_sets(name):
    ds = load_dataset(name)
    assert ds.input_shape == (2,) and ds.classes == 2 and not ds.is_image
    assert len(ds.x_train) == 800 and len(ds.x_test) == 200
    assert set(ds.y_train.tolist()) == {0, 1}


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="choose one of"):
        load_dataset("imagenet")


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name, expected", [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py"),
                                            ("fashion-mnist", "FashionMNIST/raw")])
def test_missing_local_folder_says_what_to_put_where(tmp_path, no_network, name, expected):
    with pytest.raises(DatasetError) as info:
        load_local(name, str(tmp_path))
    msg = str(info.value)
    assert str(tmp_path) in msg and expected in msg and "download" not in msg.replace("downloaded", "")


def _write_idx(path, array: np.ndarray) -> None:
    # The MNIST idx format: magic (0x08 = ubyte, ndim), big-endian sizes, raw bytes.
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_local_mnist_folder_loads_offline(tmp_path, no_network):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_x, test_x = rng.integers(0, 256, (40, 28, 28)), rng.integers(0, 256, (12, 28, 28))
    train_y, test_y = np.arange(40) % 10, np.arange(12) % 10
    _write_idx(raw / "train-images-idx3-ubyte", train_x)
    _write_idx(raw / "train-labels-idx1-ubyte", train_y)
    _write_idx(raw / "t10k-images-idx3-ubyte", test_x)
    _write_idx(raw / "t10k-labels-idx1-ubyte", test_y)
    ds = load_local("mnist", str(tmp_path), limit=30)
    assert ds.input_shape == (1, 28, 28) and ds.classes == 10
    assert len(ds.x_train) == 30 and len(ds.x_test) == 6
    assert ds.y_train.tolist() == (np.arange(30) % 10).tolist()
    back = ds.denormalize(ds.x_train[:1])[0, 0].numpy() * 255
    assert np.allclose(back, train_x[0], atol=1e-2)


def test_broken_local_folder_is_a_clear_error(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
        (raw / name).write_bytes(b"not an idx file")
    with pytest.raises(DatasetError, match="MNIST/raw"):
        load_local("mnist", str(tmp_path))
