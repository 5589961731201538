"""The command line's outputs are checked before any work (issue 36): never a run's or the store's own files, never
a path that cannot be written; replacing an earlier output is allowed and said in --help."""

from __future__ import annotations

import json

import pytest

import resnet_viz.executor as executor_mod
from resnet_viz.cli import build_parser, main
from resnet_viz.train import TrainConfig, net_config_for, save_run, train

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--arch", "mlp", "--depth", "2", "--width", "4", "--epochs", "1", "--quiet"]


@pytest.fixture
def no_work(monkeypatch):
    """Any training or study fails the test: the refusal must come first."""
    import dataclasses

    import resnet_viz.commands.views as views_cmd

    def fail(*a, **k):
        pytest.fail("computed before refusing")

    monkeypatch.setattr(executor_mod, "train", lambda *a, **k: pytest.fail("trained before refusing"))
    monkeypatch.setattr(views_cmd, "VIEWS", [dataclasses.replace(v, study=fail) for v in views_cmd.VIEWS])


@pytest.fixture
def run_dir(tmp_path):
    net = net_config_for("digits", arch="mlp", depth=2, width=4)
    return save_run(train(net, TrainConfig(epochs=1)), str(tmp_path / "R"))


def _refused(capsys, *words):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


def test_json_into_a_run_folders_config_is_refused_before_any_work(run_dir, no_work, capsys):
    config = f"{run_dir}/config.json"
    before = open(config).read()
    assert main(["lesion", "--run", run_dir, "--json", config]) == 2
    _refused(capsys, "error: cannot write --json", "config.json of the run folder")
    assert open(config).read() == before


def test_html_into_a_run_folders_weights_is_refused(run_dir, no_work, capsys):
    assert main(["landscape", "--run", run_dir, "--html", f"{run_dir}/weights.safetensors"]) == 2
    _refused(capsys, "weights.safetensors of the run folder")


def test_out_into_an_uncreatable_folder_is_refused_before_training(tmp_path, no_work, capsys):
    assert main(["train", *TINY, "--out", str(tmp_path / ("x" * 300) / "run")]) == 2
    _refused(capsys, "error: cannot write --out", "File name too long")
    assert list(tmp_path.iterdir()) == []  # the probe left nothing behind


def test_out_into_a_folder_under_a_file_is_refused_before_training(tmp_path, no_work, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert main(["train", *TINY, "--out", str(tmp_path / "notes.txt" / "run")]) == 2
    _refused(capsys, "--out")


def test_out_into_a_folder_with_a_config_of_its_own_is_refused(tmp_path, no_work, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text('{"mine": true}')
    assert main(["train", *TINY, "--out", str(project)]) == 2
    _refused(capsys, "holds config.json, which is not a run's")
    assert json.loads((project / "config.json").read_text()) == {"mine": True}


@pytest.fixture
def store_entry(tmp_path):
    from resnet_viz.store import RunStore

    store = tmp_path / "store"
    key, _ = RunStore(folder=str(store)).get_or_train(net_config_for("digits", arch="mlp", depth=2, width=4),
                                                        TrainConfig(epochs=1))
    return store, key


def test_outputs_inside_the_run_store_are_refused(store_entry, no_work, capsys):
    store, key = store_entry
    assert main(["lesion", "--run", str(store / key), "--json", str(store / key / "summary.json")]) == 2
    _refused(capsys, "inside the run store's entry")
    assert main(["train", *TINY, "--out", str(store / key)]) == 2
    _refused(capsys, "inside the run store's entry")


def test_family_html_is_refused_before_computing(tmp_path, no_work, capsys):
    assert main(["family", "--html", str(tmp_path / "f.html")]) == 2
    _refused(capsys, "no offline page")


def test_two_flags_naming_one_file_are_refused(run_dir, tmp_path, no_work, capsys):
    assert main(["lesion", "--run", run_dir, "--json", str(tmp_path / "x"), "--html", str(tmp_path / "x")]) == 2
    _refused(capsys, "writes the same file")


def test_an_earlier_output_is_replaced_and_help_says_so(tmp_path, capsys):
    out, js = tmp_path / "run", tmp_path / "s.json"
    for _ in range(2):  # the second time over the first one's run folder and summary
        assert main(["train", *TINY, "--out", str(out), "--json", str(js)]) == 0
    assert json.loads(js.read_text())["config"]["depth"] == 2
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub.choices["train"]._actions}
    assert "replaced" in helps["json"] and "replaced" in helps["out"]
    assert "replaced" in {a.dest: a.help for a in sub.choices["lesion"]._actions}["html"]


# --- advice that matches the failure (issue 36) ---------------------------------------------------------------


def test_a_run_that_made_no_step_says_so_not_the_divergence_advice(tmp_path, monkeypatch, capsys):
    from resnet_viz.train import failure_advice
    from resnet_viz.views.degradation import pair_findings

    net = net_config_for("digits", arch="mlp", depth=2, width=4)  # BatchNorm, the default
    run = train(net, TrainConfig(epochs=1, batch_size=1))  # every batch of one is skipped: no step
    assert run.history.step_loss == []
    assert run.failure.startswith("made no training step: the batch size is 1") and "at least 2" in run.failure
    assert failure_advice(run.failure) == ""
    assert not any("learning rate" in line for line in pair_findings(run, run))
    monkeypatch.setattr(executor_mod, "train", lambda *a, **k: run)
    assert main(["train", *TINY, "--json", str(tmp_path / "s.json")]) == 0
    err = capsys.readouterr().err
    assert "failed to train: made no training step" in err and "learning rate" not in err
    assert json.loads((tmp_path / "s.json").read_text())["failed_to_train"] is True


def test_a_diverged_run_keeps_its_advice():
    from resnet_viz.train import failure_advice

    assert "lower the learning rate" in failure_advice("diverged at step 3: the loss became NaN or infinite")


@pytest.mark.parametrize("error", [
    Exception('ModuleNotFoundError("No module named \'resnet_viz\'")'),  # what Dask answered (issue 36)
    ModuleNotFoundError("No module named 'resnet_viz'", name="resnet_viz"),
])
def test_workers_without_the_package_are_told_what_to_do(error):
    from resnet_viz.executor import ClusterError, DaskExecutor

    class Future:
        def result(self, timeout=None):
            raise error

    with pytest.raises(ClusterError, match=r"cannot import resnet_viz: install this checkout on every worker "
                                           r"\(pip install -e '\.\[cluster\]'"):
        DaskExecutor._wait(None, Future(), None, lambda: (0.0, ""))


def test_other_worker_errors_pass_through():
    from resnet_viz.executor import missing_module

    assert missing_module(ValueError("bad value")) is None
    assert "torch (which resnet_viz needs)" in str(missing_module(ModuleNotFoundError("No module named 'torch'")))
