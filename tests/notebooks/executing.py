"""Execute notebooks on a fresh kernel and collect their errors (used by the notebook tests)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute_notebook(path: Path, timeout_s: int = 300, env: dict | None = None):
    """Execute a notebook top to bottom on a fresh kernel, in its own folder.

    Errors do not stop execution: every cell runs and the executed notebook is returned
    for the caller to inspect (``cell.outputs`` of type ``error``).
    """
    notebook = nbformat.read(path, as_version=4)
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    try:
        NotebookClient(
            notebook, timeout=timeout_s, kernel_name="python3", allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def cell_errors(notebook) -> list[tuple[str, str, str]]:
    """(cell id, exception name, message) of every error output in an executed notebook."""
    return [
        (cell.get("id", "?"), output.ename, output.evalue)
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.output_type == "error"
    ]
