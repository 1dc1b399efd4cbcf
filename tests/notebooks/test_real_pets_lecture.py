"""lectures/09_unet_on_real_pets.ipynb executes on a fresh kernel, with the Oxford-IIIT Pet
photos where the fetcher puts them (a fake copy written by ``datasets.write_fake_dataset``)
and without them (the synthetic half only, and the command that fetches them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils import datasets
from tests import REPO_ROOT
from tests.notebooks.executing import cell_errors, execute_notebook

LECTURE = REPO_ROOT / "lectures" / "09_unet_on_real_pets.ipynb"


def _printed(notebook) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def _table_rows(printed: str) -> list[str]:
    """The first column of the comparison table's rows (8 columns; the header left out)."""
    return [line.split("|")[0].strip() for line in printed.splitlines()
            if line.count(" | ") == 7 and "IoU per class" not in line]


def _run_with_home(home: Path):
    """Execute the lecture in fast mode with ``home`` as the home folder (where the
    fetcher's default destination lies); Keras and Matplotlib keep their real caches."""
    real_home = Path.home()
    env = {"HOME": str(home), "COURSE_FAST": "1", "KERAS_HOME": str(real_home / ".keras"),
           "MPLCONFIGDIR": str(real_home / ".cache" / "matplotlib")}
    return execute_notebook(LECTURE, timeout_s=600, env=env)


@pytest.mark.slow
def test_lecture_trains_on_the_pets_where_the_fetcher_puts_them(tmp_path):
    destination = tmp_path / ".segcourse" / "data" / "oxford-pets"
    datasets.write_fake_dataset("pets", destination, num_images=6, size=(40, 56), seed=3)
    executed = _run_with_home(tmp_path)
    assert cell_errors(executed) == []
    printed = _printed(executed)
    assert f"Oxford-IIIT Pet found in {destination}" in printed
    assert "read 6 training and 6 test photos" in printed
    assert _table_rows(printed) == ["synthetic pages", "Oxford-IIIT Pet"], printed
    figures = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(figures) >= 2          # a page and at least one pet, image beside masks


@pytest.mark.slow
def test_lecture_without_the_pets_says_how_to_fetch_them(tmp_path):
    executed = _run_with_home(tmp_path)
    assert cell_errors(executed) == []
    printed = _printed(executed)
    assert "segcourse data fetch oxford-pets" in printed and "Oxford-IIIT Pet found" not in printed
    assert _table_rows(printed) == ["synthetic pages"], printed
