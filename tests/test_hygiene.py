"""Hygiene: `ruff check` (the rules in pyproject.toml's [tool.ruff]) finds nothing in the tree."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed (pip install -r requirements-dev.txt)")
def test_ruff_finds_nothing():
    cmd = [sys.executable, "-m", "ruff", "check", ".", "--no-cache", "--output-format", "concise"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"
