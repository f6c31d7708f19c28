"""examples/notebooks/quickstart.ipynb: committed without outputs, and it runs as written."""

import json
import pathlib

import pytest
from drifa_testing import ONCE_ON_TORCH

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "quickstart.ipynb"
FULL_SIZE = "SAMPLES, EPOCHS, CLASSES = 1200, 5, 4"
SHORT_SIZE = "SAMPLES, EPOCHS, CLASSES = 320, 1, 4"


def test_is_committed_without_outputs():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


@ONCE_ON_TORCH
def test_runs_as_written(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")
    # Figures inline, as in Jupyter, even where MPLBACKEND=Agg is set for the other tests.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # The notebook as written trains 1,200 pairs for 5 epochs (a few minutes); here a
    # shorter run of the same cells: every cell still executes and draws.
    sizes = [c for c in notebook.cells if c.source.startswith(FULL_SIZE)]
    assert len(sizes) == 1, f"no cell starts with {FULL_SIZE!r}: update this test"
    sizes[0].source = sizes[0].source.replace(FULL_SIZE, SHORT_SIZE, 1)
    client = nbclient.NotebookClient(
        notebook, timeout=900, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "backend torch" in text
    # Every figure cell drew an image; the pair-class table and the Grad-CAM scores printed.
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    assert "pair_class (chance 0.25)" in text and "peak on the evidence" in text
