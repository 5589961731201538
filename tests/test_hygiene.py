"""Hygiene: `ruff check` (the rules in pyproject.toml's [tool.ruff]) finds nothing in the tree."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Files that were being rewritten elsewhere when this check was added (issue 11), some with
# findings then; they are left out for now. Once `ruff check .` passes on the whole tree,
# empty this tuple: the test then checks every file.
NOT_YET_CHECKED = (
    "pages",
    "resnet_viz/presets.py",
    "resnet_viz/shattering.py",
    "resnet_viz/ensemble.py",
    "resnet_viz/landscape.py",
    "resnet_viz/features.py",
    "resnet_viz/degradation.py",
    "resnet_viz/report.py",
    "resnet_viz/slides.py",
    "ui/common.py",
    "ui/urlstate.py",
    "tests/test_presets.py",
)


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed (pip install -r requirements-dev.txt)")
def test_ruff_finds_nothing():
    cmd = [sys.executable, "-m", "ruff", "check", ".", "--no-cache", "--output-format", "concise"]
    if NOT_YET_CHECKED:
        cmd += ["--extend-exclude", ",".join(NOT_YET_CHECKED)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"
