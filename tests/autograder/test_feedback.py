"""autograder.feedback.CourseLinksAsText: links to course files become text in feedback."""

from __future__ import annotations

import nbformat

from autograder.feedback import CourseLinksAsText


def _feedback_markdown(source: str, cell_type: str = "markdown") -> str:
    make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
    cell, _ = CourseLinksAsText().preprocess_cell(make(source), {}, 0)
    return cell.source


def test_a_link_to_a_course_file_becomes_text_naming_it():
    intro = ("**Lecture notebook:** [`lectures/03_fully_convolutional_networks.ipynb`]"
             "(../../lectures/03_fully_convolutional_networks.ipynb) (work through it first).")
    assert _feedback_markdown(intro) == ("**Lecture notebook:** `lectures/03_fully_convolutional_networks.ipynb` "
                                         "(in the course folder) (work through it first).")
    assert _feedback_markdown("See [the U-Net](../../lectures/05_upsampling_alternatives.ipynb#U-Net).") == (
        "See the U-Net (`lectures/05_upsampling_alternatives.ipynb`, in the course folder).")


def test_web_links_anchors_and_code_stay_as_they_are():
    kept = "[Keras](https://keras.io/api/) and [part 1](#Part-1) and [mail](mailto:tutor@example.org)"
    assert _feedback_markdown(kept) == kept
    code = "x = '[a](../../lectures/01_overview.ipynb)'"
    assert _feedback_markdown(code, cell_type="code") == code
