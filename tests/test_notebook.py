"""examples/lecture.ipynb (issue 34): committed without outputs, and run top to bottom in a fresh Jupyter kernel on
the CPU with one PyTorch thread, as a lecturer's Colab or Jupyter would run it; every view cell shows its figures
(plotly, with plotly.js embedded: offline) and its captions, and the training cell its progress."""

from __future__ import annotations

import os
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install -r requirements-dev.txt (nbformat, nbclient, ipykernel)")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "lecture.ipynb")
VIEWS = ("degradation", "playground", "landscape", "shattering", "ensemble")  # the lecture's five, at least


def _read():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_committed_without_outputs():
    nb = _read()
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in VIEWS:
        assert f"rv.{name}(" in sources, name
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert '"google.colab" in sys.modules' in first.source and "pip" in first.source  # Colab's install, guarded


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs
                   if o.output_type in ("execute_result", "display_data", "update_display_data"))


@pytest.mark.timeout(600)
def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel inherits the environment: one PyTorch thread
    monkeypatch.setenv("RESNET_VIZ_RUN_STORE", str(tmp_path / "runs"))  # what it trains, kept in this test's folder
    nb = _read()
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                            ).execute()  # raises CellExecutionError on the first cell that fails
    seconds = time.perf_counter() - start
    assert seconds < 600
    views = [c for c in nb.cells if "view" in c.metadata.get("tags", [])]
    assert len(views) >= len(VIEWS)
    for cell in views:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        html = _html(cell)
        assert "Plotly.newPlot" in html, f"no figure shown by {cell.source!r}"
        assert "<p class='caption'" in html, f"no caption shown by {cell.source!r}"
        assert html.count("window.PlotlyConfig") == 1, "plotly.js embedded once per output"
    training = next(c for c in nb.cells if c.cell_type == "code" and "rv.train_pair(" in c.source)
    assert any(o.output_type == "display_data" and "<progress" in o.get("data", {}).get("text/html", "")
               for o in training.outputs), "no progress shown while training"
    assert "Pair(" in "".join(o.get("data", {}).get("text/plain", "") for o in training.outputs
                              if o.output_type == "execute_result")
