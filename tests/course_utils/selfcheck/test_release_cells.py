"""dataset_formats, instance_panoptic and transfer_learning in the student's notebook: the
release's self-check cells run on the stubs, and a passed check shows in show_progress."""

import pytest

from course_utils import selfcheck
from tests.course_utils.selfcheck import test_package
from tests.course_utils.selfcheck.notebook_answers import variant_namespace

ASSIGNMENTS = ["dataset_formats", "instance_panoptic", "transfer_learning"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_answer_cell_has_a_self_check_cell_that_runs_on_the_stub(assignment, capsys):
    import nbformat

    from tests import REPO_ROOT

    notebook = nbformat.read(REPO_ROOT / f"exercises/{assignment}/{assignment}.ipynb", as_version=4)
    cells = notebook.cells
    answers = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) == 4
    assert all(cells[i + 1].id.startswith("selfcheck-") for i in answers), assignment
    assert sum(c.id == "selfcheck-progress" for c in cells) == 1
    test_package.test_self_check_cells_of_the_release_say_not_implemented_yet(assignment, capsys)


def test_a_passed_check_counts_in_show_progress(capsys):
    namespace, _ = variant_namespace("dataset_formats")
    before = {(a, e): s for a, e, s in selfcheck.show_progress()}
    assert before[("dataset_formats", "voc_palette")] == "not attempted"
    assert selfcheck.check_voc_palette(namespace["voc_palette"], quiet=True).passed
    selfcheck.check_decode_palette(lambda rgb, palette: rgb[..., 0], quiet=True)
    after = {(a, e): s for a, e, s in selfcheck.show_progress()}
    assert after[("dataset_formats", "voc_palette")] == "passed"
    assert after[("dataset_formats", "decode_palette")].startswith("not yet")
    exercises = {e for a, e in after if a in ASSIGNMENTS}
    assert len(exercises) == 12 and all(e in selfcheck.EXERCISE_CHECKS for e in exercises)
