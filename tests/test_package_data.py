"""The shipped runs and results are package data (issue 34): a non-editable install (`pip install .`, Colab's
`pip install git+…`) carries every shipped file, and the installed lab finds them with importlib.resources."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

from resnet_viz import assets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "resnet_viz")


def _shipped_files() -> set[str]:
    """Every file under resnet_viz/shipped, relative to the package folder."""
    out = set()
    for folder, _, names in os.walk(os.path.join(PACKAGE, "shipped")):
        out |= {os.path.relpath(os.path.join(folder, n), PACKAGE) for n in names}
    return out


def test_the_shipped_folders_are_the_package_data():
    assert os.path.realpath(assets.SHIPPED_DIR) == os.path.join(os.path.realpath(PACKAGE), "shipped", "runs")
    assert os.path.realpath(assets.RESULTS_DIR) == os.path.join(os.path.realpath(PACKAGE), "shipped", "results")
    assert not os.path.exists(os.path.join(ROOT, "assets", "runs"))  # moved, not copied


def test_package_data_patterns_cover_every_shipped_file():
    """pyproject's patterns, globbed as setuptools globs them (from the package folder), match every shipped file
    (dot files, such as a result's marker, included) and nothing else."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["resnet_viz"]
    matched = {os.path.relpath(p, PACKAGE) for pattern in patterns
               for p in glob.glob(os.path.join(PACKAGE, pattern), recursive=True) if os.path.isfile(p)}
    shipped = _shipped_files()
    assert len(shipped) > 100 and any(name.endswith(".safetensors") for name in shipped)
    assert shipped - matched == set(), "shipped files a wheel would leave out: add a pattern to pyproject.toml"
    assert matched <= shipped


@pytest.mark.timeout(300)
def test_a_built_wheel_carries_the_shipped_runs_and_the_installed_lab_loads_them(tmp_path):
    """Build the wheel (what `pip install .` installs) from a copy of the project, unpack it as pip does, and load
    the default pair's shipped run and a shipped result from the installed copy, run from another folder."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    shutil.copytree(PACKAGE, src / "resnet_viz", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "wheel"), str(src)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    wheel = glob.glob(str(tmp_path / "wheel" / "*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        carried = {n for n in z.namelist() if n.startswith("resnet_viz/shipped/")}
        assert carried == {"resnet_viz/" + n.replace(os.sep, "/") for n in _shipped_files()}
        z.extractall(tmp_path / "site")
    code = ("import os, resnet_viz, resnet_viz.assets as a\n"
            "from resnet_viz.registry import view\n"
            "from resnet_viz.results import ResultStore, result_key\n"
            "assert resnet_viz.__file__.startswith(os.environ['SITE']), resnet_viz.__file__\n"
            "assert a.SHIPPED_DIR.startswith(os.environ['SITE']) and a.RESULTS_DIR.startswith(os.environ['SITE'])\n"
            "net, cfg = a.default_pair_configs()[1]\n"
            "run = a.load_shipped(net, cfg)\n"
            "assert run is not None and run.trajectory is not None\n"
            "v = view('shattering')\n"
            "assert ResultStore(None, a.RESULTS_DIR).get(result_key(v, v.settings())) is not None\n"
            "print(run.history.test_accuracy)\n")
    env = {k: v for k, v in os.environ.items()  # the installed copy's own folders, not an override
           if k not in ("RESNET_VIZ_SHIPPED_RUNS", "RESNET_VIZ_SHIPPED_RESULTS")}
    env.update(PYTHONPATH=str(tmp_path / "site"), SITE=str(tmp_path / "site"))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) > 0.95
