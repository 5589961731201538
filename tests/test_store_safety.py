"""Nothing lost (issue 36): the run store deletes only what it wrote itself, and says every write that fails."""

from __future__ import annotations

import errno
import os
import time

import pytest

import resnet_viz.executor as executor_mod
import resnet_viz.store as store_mod
from conftest import tiny_preset
from resnet_viz import presets as PR
from resnet_viz.cli import main
from resnet_viz.prepare import prepare
from resnet_viz.store import RunStore, StoreWriteError, run_key
from resnet_viz.train import TrainConfig, net_config_for

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(seed: int = 0):
    return net_config_for("digits", arch="mlp", depth=2, width=8, seed=seed), TrainConfig(epochs=1, seed=seed)


def _foreign(folder) -> dict[str, str]:
    """A store folder that is also someone's home: hidden folders, students' work, a loose file; every one old."""
    files = {".ssh/id_ed25519": "key", ".git/HEAD": "ref: refs/heads/main", "student_01/notes.txt": "mine",
             "student_07/config.json": "{}", ".cache-old/x": "x", "0123456789abcdef/essay.txt": "not a run",
             "README.txt": "hello"}
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    old = time.time() - 30 * 86400
    for p in sorted(folder.rglob("*"), reverse=True):
        os.utime(p, (old, old))
    return files


def _intact(folder, files) -> None:
    for rel, text in files.items():
        assert (folder / rel).read_text() == text, f"{rel} was touched"


def test_foreign_files_survive_start_up_trainings_and_eviction(tmp_path):
    files = _foreign(tmp_path)
    # A stale temporary of the store's own (its naming and its marker) is removed; a look-alike without the marker is not.
    own_tmp = tmp_path / f"{store_mod.TMP_PREFIX}{'a' * 16}-abc123"
    own_tmp.mkdir()
    (own_tmp / store_mod.MARKER).write_text("{}")
    fake_tmp = tmp_path / f"{store_mod.TMP_PREFIX}{'b' * 16}-abc123"
    fake_tmp.mkdir()
    old = time.time() - 7200
    for p in (own_tmp, own_tmp / store_mod.MARKER, fake_tmp):
        os.utime(p, (old, old))

    store = RunStore(folder=str(tmp_path), max_disk_runs=2)
    assert not own_tmp.exists() and fake_tmp.is_dir()
    keys = [store.get_or_train(*_tiny(seed))[0] for seed in range(4)]  # four runs, a cap of two: two evicted
    _intact(tmp_path, files)
    assert fake_tmp.is_dir()
    assert [k for k in keys if (tmp_path / k).is_dir()] == keys[2:]
    assert all((tmp_path / k / store_mod.MARKER).is_file() for k in keys[2:])
    assert store.last_write_error is None
    RunStore(folder=str(tmp_path))  # a restart: still nothing foreign touched
    _intact(tmp_path, files)


def test_a_legacy_entry_counts_as_the_stores_own(tmp_path):
    """An entry saved before markers (a key's name, only run files) is counted and evicted like the others."""
    from resnet_viz.train import save_run

    net, cfg = _tiny(9)
    run = RunStore().get_or_train(net, cfg)[1]
    legacy = tmp_path / run_key(net, cfg)
    save_run(run, str(legacy))
    old = time.time() - 86400
    os.utime(legacy, (old, old))
    RunStore(folder=str(tmp_path), max_disk_runs=1).get_or_train(*_tiny(1))
    assert not legacy.exists()


def test_an_entry_in_the_way_that_is_not_the_stores_is_kept_and_said(tmp_path, monkeypatch):
    net, cfg = _tiny()
    theirs = tmp_path / run_key(net, cfg)
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("\\section{}")
    store = RunStore(folder=str(tmp_path))
    store.get_or_train(net, cfg)
    assert (theirs / "thesis.tex").read_text() == "\\section{}"
    assert "not a run of this store" in store.last_write_error
    assert store.unsaved([(net, cfg)]) == [run_key(net, cfg)]


@pytest.fixture
def not_a_folder(tmp_path):
    path = tmp_path / "runs"
    path.write_text("a file where the store's folder should be")
    return path


def test_a_store_that_is_a_file_is_said_not_raised(not_a_folder):
    store = RunStore(folder=str(not_a_folder))
    assert "is a file, not a folder" in store.last_write_error
    key, run = store.get_or_train(*_tiny())  # the server goes on, in memory
    assert run is not None and store.last_write_error
    assert not_a_folder.read_text().startswith("a file")


def test_a_failing_write_is_said(tmp_path, monkeypatch):
    def read_only(run, folder):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(store_mod, "save_run", read_only)
    store = RunStore(folder=str(tmp_path))
    assert store.last_write_error is None
    net, cfg = _tiny()
    store.get_or_train(net, cfg)
    assert "Read-only file system" in store.last_write_error
    assert store.unsaved([(net, cfg)]) == [run_key(net, cfg)]
    assert [p.name for p in tmp_path.iterdir() if p.name != store_mod.LOCKS] == []  # no temporary left


def test_prepare_fails_when_its_nets_are_not_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "save_run", lambda run, folder: (_ for _ in ()).throw(OSError(errno.ENOSPC,
                                                                                                  "No space left")))
    presets = [tiny_preset(PR.get_preset("deletion"), depth=3)]
    with pytest.raises(StoreWriteError, match="not saved in the run store.*No space left"):
        prepare(presets, RunStore(folder=str(tmp_path)))


def test_prepare_cli_refuses_a_store_that_cannot_be_written_before_training(not_a_folder, monkeypatch, capsys):
    monkeypatch.setattr(executor_mod, "train", lambda *a, **k: pytest.fail("trained into a store that keeps nothing"))
    assert main(["prepare", "--presets", "deletion", "--store", str(not_a_folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot save") and "is a file, not a folder" in err and len(err.splitlines()) == 1


def test_prepare_cli_exits_non_zero_when_a_write_fails(tmp_path, monkeypatch, capsys):
    import resnet_viz.commands.prepare as cmd

    tiny = tiny_preset(PR.get_preset("deletion"), depth=3)
    monkeypatch.setattr(cmd, "get_preset", lambda slug: tiny)
    monkeypatch.setattr(store_mod, "save_run", lambda run, folder: (_ for _ in ()).throw(OSError(errno.EROFS,
                                                                                                  "Read-only file system")))
    assert main(["prepare", "--presets", "deletion", "--store", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not saved" in err and "Read-only file system" in err and "every preset" not in err


def test_prepare_cli_says_it_read_the_nets_back(tmp_path, monkeypatch, capsys):
    import resnet_viz.commands.prepare as cmd

    tiny = tiny_preset(PR.get_preset("deletion"), depth=3)
    monkeypatch.setattr(cmd, "get_preset", lambda slug: tiny)
    assert main(["prepare", "--presets", "deletion", "--store", str(tmp_path)]) == 0
    assert "(read back)" in capsys.readouterr().err


def test_the_page_warns_once_when_the_store_cannot_save(monkeypatch):
    import types

    from streamlit.testing.v1 import AppTest

    from ui import common

    error = "cannot save run 0123456789abcdef in the run store /srv/runs: Read-only file system"
    monkeypatch.setattr(common, "run_store", lambda: types.SimpleNamespace(last_write_error=error))

    def script():
        from ui import common

        common.store_notice()
        common.store_notice()

    at = AppTest.from_function(script).run()
    assert len(at.warning) == 1 and "Read-only file system" in at.warning[0].value
    assert not at.run().warning  # once a session


def test_prepare_fails_when_the_store_cannot_hold_every_net(tmp_path):
    presets = [tiny_preset(PR.get_preset("preactivation"), depth=3)]  # three nets
    with pytest.raises(StoreWriteError, match="keeps at most 1 runs"):
        prepare(presets, RunStore(folder=str(tmp_path), max_disk_runs=1))
