"""Issue 16: what a student or a link can make one shared server do.

Links may not choose the data folder; pairs that differ never share a picker label; text
echoed from a link or a user into a message box is plain text; the dataset cache holds one
copy per real folder and a bounded number of datasets; run folders are read with limits
(size, regular files, shapes checked before building); outputs are checked before computing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import struct
import threading

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from resnet_viz import data as data_mod
from resnet_viz.models import NetConfig
from resnet_viz.train import TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [pytest.mark.timeout(1500), pytest.mark.usefixtures("one_thread")]
EVIL = "**B**[click me](http://x) ![i](http://y)"


def _write_idx(path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def fake_mnist(folder) -> str:
    """A tiny MNIST folder (40 training, 12 test images) under `folder`."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 256, (40, 28, 28)))
    _write_idx(raw / "train-labels-idx1-ubyte", np.arange(40) % 10)
    _write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (12, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(12) % 10)
    return str(folder)


# --- what a link may set ----------------------------------------------------------------------


def test_a_link_never_sets_the_data_folder(tmp_path, monkeypatch):
    from ui import urlstate
    from ui.common import default_pair

    monkeypatch.setenv("RESNET_VIZ_DATA", fake_mnist(tmp_path / "server"))
    elsewhere = fake_mnist(tmp_path / "student")
    assert urlstate.pair_from_params({"root": elsewhere}, default_pair()) is None  # root alone names no pair
    net, train = urlstate.pair_from_params({"root": elsewhere, "data": "mnist", "depth": "3"}, default_pair())
    assert train.dataset == "mnist" and train.data_root is None  # the server's folder
    assert "root" not in urlstate.pair_params(net, train.replace(data_root=elsewhere), default_pair())


def test_a_link_with_a_data_folder_reads_the_servers_folder_and_says_so(seeded_store, tmp_path, monkeypatch):
    server = tmp_path / "server-data"  # empty: mnist is not there
    monkeypatch.setenv("RESNET_VIZ_DATA", str(server))
    student = fake_mnist(tmp_path / "student-data")  # a folder the link names, which holds mnist
    at = AppTest.from_file(os.path.join(ROOT, "pages", "build_train.py"), default_timeout=300)
    at.query_params.update({"data": "mnist", "root": student})
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "mnist" in errors and str(server) in errors.replace("\\", "") and student not in errors
    assert any("ignored" in i.value and "data folder" in i.value for i in at.info)
    assert "root" not in at.query_params  # the link written back no longer names a folder
    assert len(at.get("plotly_chart")) == 6  # the default pair is shown (architecture, curves, its shipped study)


def test_the_form_offers_no_data_folder_to_type(seeded_store, monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "server-data"))
    from ui.common import Pair

    pair = Pair(NetConfig(arch="cnn", depth=3, width=4, input_shape=(1, 28, 28), classes=10),
                TrainConfig(dataset="mnist", data_limit=10_000, epochs=1))
    at = AppTest.from_file(os.path.join(ROOT, "pages", "build_train.py"), default_timeout=300)
    at.session_state["current_pair"] = pair  # the form starts from the current pair's dataset
    at.run()
    field = next(e for e in at.sidebar.text_input if e.label == "Data folder")
    assert field.disabled and field.value == str(tmp_path / "server-data")


def _variants():
    """One pair per NetConfig/TrainConfig field, differing from the default pair in that field only."""
    from ui.common import Pair, default_pair

    d = default_pair()
    other = {"arch": "mlp", "depth": 3, "width": 8, "skip": False, "shortcut_scale": 0.5, "norm": "none",
             "order": "pre", "block": "bottleneck", "input_shape": (1, 16, 16), "classes": 5, "seed": 3,
             "dataset": "mnist", "epochs": 2, "lr": 0.01, "batch_size": 32, "optimizer": "adam", "momentum": 0.5,
             "weight_decay": 0.0, "schedule": "constant", "warmup_epochs": 2.0, "data_root": "/srv/data",
             "data_limit": 500, "grad_norm_steps": 5, "checkpoints_per_epoch": 1, "shortcut": "gate",
             "gate_bias": -6.0, "dropout": 0.3, "cardinality": 4, "branch_dropout": 0.3, "se_ratio": 4,
             "activation": "tanh"}
    out = {}
    for f in dataclasses.fields(NetConfig):
        assert f.name in other, f"new NetConfig field {f.name}: add it here"
        out[f"net.{f.name}"] = Pair(dataclasses.replace(d.net, **{f.name: other[f.name]}), d.train)
    for f in dataclasses.fields(TrainConfig):
        assert f.name in other, f"new TrainConfig field {f.name}: add it here"
        out[f"train.{f.name}"] = Pair(d.net, dataclasses.replace(d.train, **{f.name: other[f.name]}))
    return d, out


def test_pairs_that_differ_never_share_a_label():
    default, variants = _variants()
    labels = {name: p.label for name, p in variants.items()}
    for name, label in labels.items():
        assert label != default.label, f"{name} differs but the label does not say so: {label}"
    assert len(set(labels.values())) == len(labels), labels
    assert "λ=0.5" in labels["net.shortcut_scale"] and "lr 0.01" in labels["train.lr"]
    assert "/srv/data" in labels["train.data_root"]
    from ui.common import Pair

    seeded = Pair(variants["net.seed"].net, dataclasses.replace(default.train, seed=3))  # as the form makes it
    assert seeded.label.count("seed 3") == 1


def test_plain_text_escapes_markup_and_shortens():
    from ui.common import plain_text

    safe = plain_text(f"the link holds a bad value: {EVIL}")
    assert "\\[click me\\]" in safe and "!\\[i\\]" in safe and "\\*\\*B\\*\\*" in safe
    assert "http://" not in safe  # no bare URL left to be linkified
    assert safe.replace("\\", "").replace("\u200b", "") == f"the link holds a bad value: {EVIL}"
    assert plain_text("a\n\n# heading\n- item") == "a # heading - item"  # one line: no heading, no list
    assert plain_text("# x").startswith("\\#") and plain_text("1. x").startswith("1\\.")
    assert plain_text("$x$ <b> a@b.c snake_case _em_").startswith("\\$x\\$ \\<b> a\u200b@b.c snake_case \\_em\\_")
    long = plain_text("x" * 5000)
    assert len(long) <= 400 and long.endswith("…")


def test_text_from_a_link_shows_as_plain_text_in_the_error_box(seeded_store):
    at = AppTest.from_file(os.path.join(ROOT, "pages", "build_train.py"), default_timeout=300)
    at.query_params["lr"] = EVIL
    at.run()
    assert not at.exception, at.exception
    shown = [e.value for e in at.error]
    assert len(shown) == 1 and "bad value" in shown[0], shown
    assert "[click me](" not in shown[0] and "![i](" not in shown[0] and "**B**" not in shown[0]
    assert "\\[click me\\]" in shown[0]  # still readable, as typed
    assert len(at.get("plotly_chart")) == 6  # architecture, loss, accuracy, gradients, the default study


# --- the dataset cache ---------------------------------------------------------------------------


@pytest.fixture
def empty_cache(monkeypatch):
    """An empty dataset cache for the test; yields the list of real local loads made."""
    monkeypatch.setattr(data_mod, "_loaded", data_mod._memo(4))  # a fresh memo; the one as it was back after the test
    calls = []
    real = data_mod.load_local

    def counting(name, root=None, limit=None):
        calls.append((name, root, limit))
        return real(name, root, limit)

    monkeypatch.setattr(data_mod, "load_local", counting)
    return calls


def test_one_folder_spelled_six_ways_is_loaded_once(tmp_path, monkeypatch, empty_cache):
    folder = fake_mnist(tmp_path / "data")
    (tmp_path / "link").symlink_to(folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RESNET_VIZ_DATA", folder)
    spellings = [folder, folder + "/", f"{tmp_path}/data/MNIST/..", "data", "~/data", str(tmp_path / "link"), None]
    first = data_mod.load_dataset("mnist", spellings[0], 20)
    for s in spellings[1:]:
        assert data_mod.load_dataset("mnist", s, 20) is first, s
    assert len(empty_cache) == 1 and data_mod._loaded.cache_info().currsize == 1
    # Embedded sets ignore root and limit: one copy however they are asked for.
    digits = data_mod.load_dataset("digits")
    assert data_mod.load_dataset("digits", "/anything", 5) is digits


def test_the_dataset_cache_is_bounded_least_recently_used_first(tmp_path, monkeypatch, empty_cache):
    data_mod.set_cache_size(2)
    folder = fake_mnist(tmp_path / "data")
    a = data_mod.load_dataset("mnist", folder, 10)
    b = data_mod.load_dataset("mnist", folder, 20)
    assert data_mod.load_dataset("mnist", folder, 10) is a  # a used last: b is the one to go
    data_mod.load_dataset("mnist", folder, 30)
    assert data_mod._loaded.cache_info().currsize == 2
    assert data_mod.load_dataset("mnist", folder, 10) is a
    assert data_mod.load_dataset("mnist", folder, 20) is not b  # dropped, loaded again
    assert len(empty_cache) == 4


# --- CLI reads of run folders, outputs checked first ---------------------------------------------


def cli(*args) -> tuple[int, str]:
    """Run the CLI in this process; (exit status, standard error)."""
    from resnet_viz.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main([str(a) for a in args])
    return status, err.getvalue()


def assert_one_line_exit_2(args, *words) -> str:
    """The CLI exits 2 with one line on stderr holding every word; returns that line."""
    status, err = cli(*args)
    assert status == 2, (args, status, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny trained run folder (3 blocks, width 4, one epoch), written by the CLI."""
    folder = tmp_path_factory.mktemp("runs") / "tiny"
    status, err = cli("train", "--depth", "3", "--width", "4", "--epochs", "1", "--quiet", "--out", folder,
                      "--json", folder.parent / "tiny.json")
    assert status == 0, err
    return folder


def copy_run(tiny_run, tmp_path, name="run"):
    """A copy of the tiny run folder to damage."""
    target = tmp_path / name
    shutil.copytree(tiny_run, target)
    return target


def finishes(fn, seconds=60.0, fifo=None):
    """Run fn() in a thread; True when it returned (or raised) within `seconds`.

    If it is still blocked (e.g. opening a FIFO for reading), a writer is opened on `fifo`
    so that the thread can end."""
    done = threading.Event()

    def target():
        try:
            fn()
        except BaseException:
            pass
        finally:
            done.set()

    threading.Thread(target=target, daemon=True).start()
    ok = done.wait(seconds)
    if not ok and fifo is not None:
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        os.close(fd)
        done.wait(5)
    return ok


def test_a_deeply_nested_config_is_one_line(tiny_run, tmp_path):
    from resnet_viz.train import RunLoadError, load_run

    run = copy_run(tiny_run, tmp_path)
    (run / "config.json").write_text("[" * 20_000 + "]" * 20_000)  # 40 KB: under the size limit
    assert_one_line_exit_2(["lesion", "--run", run, "--quiet"], "config.json", "nested too deeply")
    (run / "config.json").write_text('{"n":' * 5_000 + "1" + "}" * 5_000)
    with pytest.raises(RunLoadError, match="nested too deeply"):
        load_run(str(run))
    history = copy_run(tiny_run, tmp_path, "history")
    (history / "history.json").write_text("[" * 200_000 + "]" * 200_000)  # deep, under its size limit
    assert_one_line_exit_2(["features", "--run", history], "history.json", "nested too deeply")


@pytest.mark.parametrize("name", ["config.json", "history.json", "weights.safetensors"])
def test_a_run_file_linked_to_a_device_is_refused_unread(tiny_run, tmp_path, name):
    run = copy_run(tiny_run, tmp_path)
    (run / name).unlink()
    (run / name).symlink_to("/dev/zero")
    status = {}
    assert finishes(lambda: status.update(r=cli("lesion", "--run", run, "--quiet")), 60), "read /dev/zero without end"
    code, err = status["r"]
    assert code == 2 and len(err.strip().splitlines()) == 1 and name in err and "not a regular file" in err, err


@pytest.mark.parametrize("name", ["config.json", "history.json", "weights.safetensors", "trajectory.safetensors"])
def test_a_fifo_in_a_run_folder_never_blocks(tiny_run, tmp_path, name):
    from resnet_viz.train import RunLoadError, load_run

    run = copy_run(tiny_run, tmp_path)
    (run / name).unlink()
    os.mkfifo(run / name)
    outcome = {}

    def load():
        try:
            outcome["run"] = load_run(str(run))
        except RunLoadError as e:
            outcome["error"] = str(e)

    assert finishes(load, 30, fifo=run / name), f"a FIFO named {name} blocked the load"
    if name == "trajectory.safetensors":  # optional: dropped, the run loads
        assert outcome["run"].trajectory is None
    else:
        assert name in outcome["error"] and "not a regular file" in outcome["error"]


def test_run_files_over_their_size_limit_are_refused(tiny_run, tmp_path):
    from resnet_viz.train import MAX_CONFIG_BYTES

    run = copy_run(tiny_run, tmp_path)
    meta = (run / "config.json").read_text()
    (run / "config.json").write_text(meta + " " * MAX_CONFIG_BYTES)  # valid JSON, too big
    assert_one_line_exit_2(["lesion", "--run", run, "--quiet"], "config.json", "over the limit")
    weights = copy_run(tiny_run, tmp_path, "weights")
    with open(weights / "weights.safetensors", "ab") as f:
        f.write(b"\0" * 2 * 1024**2)  # far more than a 3-block net of width 4 needs
    assert_one_line_exit_2(["lesion", "--run", weights, "--quiet"], "weights.safetensors", "more than its config needs")


@pytest.fixture
def no_real_build(monkeypatch):
    """Fail the test if load_run builds a net anywhere but on the meta device."""
    import resnet_viz.train as T

    real = T.build_model

    def guarded(config, device=None):
        if device is None or torch.device(device).type != "meta":
            pytest.fail(f"built a real net of {config.classes} classes before checking the weights' shapes")
        return real(config, device)

    monkeypatch.setattr(T, "build_model", guarded)


@pytest.mark.parametrize("classes, words", [
    (100_000, ["does not match its config", "head"]),  # fits in memory: the shapes say no
    (50_000_000, ["memory limit", "not built"]),  # would be GBs: refused from the config alone
])
def test_weights_are_checked_against_the_config_before_building(tiny_run, tmp_path, no_real_build, classes, words):
    run = copy_run(tiny_run, tmp_path)
    meta = json.loads((run / "config.json").read_text())
    meta["net"]["classes"] = classes
    (run / "config.json").write_text(json.dumps(meta))
    assert_one_line_exit_2(["lesion", "--run", run, "--quiet"], "config.json" if classes > 10**6 else "weights", *words)


def test_outputs_are_checked_before_anything_is_computed(tiny_run, tmp_path, monkeypatch):
    import resnet_viz.executor as executor_mod
    import resnet_viz.train as train_mod

    monkeypatch.setattr(executor_mod, "train", lambda *a, **k: pytest.fail("trained before checking --out"))
    monkeypatch.setattr(train_mod, "load_run", lambda *a, **k: pytest.fail("computed before checking --png"))
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    tiny = ["--depth", "3", "--width", "4", "--epochs", "1", "--quiet"]
    assert_one_line_exit_2(["train", *tiny, "--out", a_file / "run"], "--out", "Not a directory")
    assert_one_line_exit_2(["train", *tiny, "--out", a_file], "--out", "File exists")
    assert_one_line_exit_2(["train", *tiny, "--json", tmp_path / "missing" / "s.json"], "--json", "does not exist")
    assert_one_line_exit_2(["features", "--run", tiny_run, "--png", tmp_path], "--png", "Is a directory")
    os.mkfifo(tmp_path / "fifo.json")
    assert_one_line_exit_2(["features", "--run", tiny_run, "--json", tmp_path / "fifo.json"], "FIFO")
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o500)
    if not os.access(ro, os.W_OK):  # root ignores permissions: then only the cases above apply
        assert_one_line_exit_2(["train", *tiny, "--out", ro / "run"], "permission denied")
    # A run folder still to be made inside a writable folder passes the check (and is not made by it).
    from resnet_viz.cli import check_writable

    check_writable(str(tmp_path / "new" / "run"), "--out", folder=True)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "too-big"])
def test_features_image_flag_reads_regular_files_with_a_limit(tiny_run, tmp_path, kind):
    image = tmp_path / "image.png"
    if kind == "fifo":
        os.mkfifo(image)
    elif kind == "dev-zero":
        image.symlink_to("/dev/zero")
    else:
        image.write_bytes(b"\x89PNG" + b"\0" * (21 * 1024**2))
    status = {}
    assert finishes(lambda: status.update(r=cli("features", "--run", tiny_run, "--image", image)), 60,
                    fifo=image if kind == "fifo" else None), "the image read blocked or never ended"
    code, err = status["r"]
    assert code == 2 and len(err.strip().splitlines()) == 1 and "image.png" in err, err
    assert ("not a regular file" if kind != "too-big" else "over the limit") in err


# --- large uploads are downscaled while decoding ---------------------------------------------------


def _encoded(img, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("crop", [False, True])
def test_a_large_upload_is_downscaled_while_decoding_and_converts_alike(monkeypatch, fmt, crop):
    from PIL import Image

    from resnet_viz.views import features as FT

    digits = data_mod.load_dataset("digits")
    small = Image.new("L", (32, 32))
    small.paste(255, (14, 4, 19, 28))  # a white "1" on black
    big = _encoded(small.resize((3840, 3840), Image.Resampling.NEAREST), fmt,  # the same picture, 14.7 MP
                   **({"quality": 95} if fmt == "JPEG" else {}))
    up = FT.image_from_bytes(big, digits, crop=crop)
    shrunk = next(s for s in up.steps if s.startswith("downscaled while decoding"))
    side = max(int(v) for v in shrunk.split(" to ")[1].split(" ")[0].split("×"))
    assert side <= FT.WORK_SIDE and up.steps[0].startswith(f"{fmt} 3840×3840")
    # The same conversion at full resolution (the old path), and from the 32×32 original.
    monkeypatch.setattr(FT, "WORK_SIDE", 10**6)
    full = FT.image_from_bytes(big, digits, crop=crop)
    assert not any(s.startswith("downscaled") for s in full.steps)
    assert up.raw.shape == full.raw.shape == (1, 8, 8)
    assert np.abs(up.raw - full.raw).max() < 0.5  # of 16 (ink counts)
    if not crop:  # (cropping centres the strokes, to the pixel of each resolution)
        ref = FT.image_from_bytes(_encoded(small, "PNG"), digits)
        assert np.abs(up.raw - ref.raw).max() < 0.5


def test_a_downscaled_jpeg_keeps_its_exif_orientation():
    from PIL import Image

    from resnet_viz.views.features import image_from_bytes

    digits = data_mod.load_dataset("digits")
    img = Image.new("RGB", (3000, 2000), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    up = image_from_bytes(_encoded(img, "JPEG", exif=exif.tobytes()), digits)
    h, w = up.original.shape[:2]
    assert h > w  # portrait after the EXIF rotation, as a viewer shows it


def test_a_palette_upload_with_transparency_is_downscaled():
    from PIL import Image

    from resnet_viz.views.features import image_from_bytes

    digits = data_mod.load_dataset("digits")
    img = Image.new("P", (2048, 2048), 0)
    img.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)  # 0: (transparent) ground, 1: black ink
    img.paste(1, (900, 300, 1150, 1750))
    up = image_from_bytes(_encoded(img, "PNG", transparency=0), digits, invert=True, crop=True)
    assert any(s.startswith("downscaled while decoding") for s in up.steps)
    assert up.raw.max() > 8  # the stroke survives: black ink on a transparent (white) ground, inverted
