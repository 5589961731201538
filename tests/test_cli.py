"""The command line: `python -m resnet_viz train` and its error handling."""

import json
import os
import subprocess
import sys

import pytest

from resnet_viz.cli import build_parser, main
from resnet_viz.train import load_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "resnet_viz", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_train_writes_summary_and_run_folder(tmp_path):
    out, js = tmp_path / "run", tmp_path / "s.json"
    r = run_cli("train", "--depth", "3", "--width", "4", "--epochs", "2", "--no-skip", "--out", str(out),
                "--json", str(js), "--quiet")
    assert r.returncode == 0, r.stderr
    s = json.loads(js.read_text())
    for key in ("train_loss", "test_accuracy", "diverged", "seconds", "device", "config"):
        assert key in s
    assert s["config"]["skip"] is False and s["config"]["depth"] == 3 and s["device"] == "cpu"
    run = load_run(str(out))
    assert run.history.train_loss == pytest.approx(s["train_loss"])
    assert 0.1 < s["test_accuracy"] <= 1


def test_diverging_run_is_reported_not_raised(tmp_path):
    js = tmp_path / "s.json"
    r = run_cli("train", "--arch", "mlp", "--depth", "6", "--width", "64", "--norm", "none",
                "--shortcut-scale", "2", "--lr", "5", "--epochs", "1", "--json", str(js), "--quiet")
    assert r.returncode == 0 and "diverged" in r.stderr and "Traceback" not in r.stderr
    s = json.loads(js.read_text())
    assert s["diverged"] is True and s["train_loss"] is None
    assert s["failed_to_train"] is True and "NaN or infinite" in s["failure"]


@pytest.mark.parametrize("args, words", [
    (["train", "--depth", "0"], "--depth"),
    (["train", "--depth", "x"], "--depth"),
    (["train", "--lr", "100"], "learning rate"),
    (["train", "--shortcut-scale", "-2"], "λ"),
    (["train", "--dataset", "imagenet"], "'imagenet' is not one of"),
    (["train", "--dataset", "cifar10", "--data-root", "/nonexistent"], "cifar-10-batches-py"),
    (["train", "--width", "1024", "--depth", "200"], "GiB"),
    (["train", "--norm", "group"], "--norm"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_clear_line(args, words, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err


def test_bad_arguments_in_a_real_process():
    r = run_cli("train", "--epochs", "-3")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--epochs" in r.stderr


def test_help_documents_every_flag():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["train"]
    text = sub.format_help()
    for flag in ["--arch", "--depth", "--width", "--skip", "--no-skip", "--shortcut-scale", "--norm", "--order",
                 "--block", "--dataset", "--epochs", "--lr", "--batch-size", "--seed", "--out", "--json"]:
        assert flag in text
    for action in sub._actions:
        assert action.help, f"{action.option_strings} has no help"


def test_identity_writes_the_study_the_page_shows(tmp_path):
    # The CLI and the page call the same identity_study: the JSON holds its table, verdict and curves,
    # and training is deterministic on the CPU, so an in-process study gives the same numbers.
    from resnet_viz.train import TrainConfig, net_config_for
    from resnet_viz.views.identity import IdentitySettings, identity_study

    out = tmp_path / "id.json"
    assert main(["identity", "--depth", "3", "--width", "4", "--epochs", "1", "--variants", "scale-1.5,pre-activation",
                 "--random-nets", "--sweep-depths", "1,3", "--json", str(out), "--quiet"]) == 0
    got = json.loads(out.read_text())
    assert [r["net"] for r in got["table"]] == ["plain", "λ = 1.5", "pre-activation"]
    assert set(got["random_nets"]) == {"plain", "residual, λ = 1", "residual, λ = 1.5"}
    net = net_config_for("digits", depth=3, width=4)
    want = identity_study(net, TrainConfig(epochs=1), IdentitySettings(variants=("scale-1.5", "pre-activation")))
    assert [r["train_loss"] for r in got["table"]] == pytest.approx([r["train_loss"] for r in want.table()], rel=1e-6)
    assert got["verdict"] == want.verdict()


def test_identity_refuses_an_unknown_variant(capsys):
    assert main(["identity", "--variants", "gating"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "scale-0.5" in err
