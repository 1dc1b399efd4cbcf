"""Tests of course_utils.selfcheck.records: the progress file and the table of every exercise."""

import json

from course_utils import selfcheck
from tests.course_utils.selfcheck.students import decode_by_argmax, iou_score, labels_to_one_hot, wrong_conv


def test_progress_round_trip(progress_path):
    selfcheck.check_labels_to_one_hot(labels_to_one_hot, quiet=True)
    selfcheck.check_conv_output_size(wrong_conv(lambda n, k, s: (n - k) // s,
                                                lambda n, k, s: -(-n // s)), quiet=True)
    stored = json.loads(progress_path.read_text())
    assert stored["version"] == 1
    assert stored["exercises"]["fcn_basics/labels_to_one_hot"]["status"] == "passed"
    conv = stored["exercises"]["dimensions/conv_output_size"]
    assert conv["status"] == "not yet" and conv["hint_level"] == 1 and conv["attempts"] == 1
    assert conv["last_mistake"] == "missing_plus_one"
    assert selfcheck.load_progress() == stored["exercises"]


def test_damaged_progress_file_is_treated_as_empty(progress_path):
    progress_path.parent.mkdir(parents=True)
    progress_path.write_text("{not json")
    assert selfcheck.load_progress() == {}
    assert selfcheck.check_iou(iou_score, quiet=True).passed
    assert selfcheck.load_progress()["losses_metrics/iou_score"]["status"] == "passed"


def test_default_progress_file_is_in_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SEGCOURSE_PROGRESS_FILE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert selfcheck.progress_file() == tmp_path / ".segcourse" / "progress.json"


def test_show_progress_lists_every_exercise_of_every_assignment(capsys):
    selfcheck.check_labels_to_one_hot(labels_to_one_hot, quiet=True)
    selfcheck.check_decode_multi_label(decode_by_argmax, quiet=True)
    selfcheck.check_decode_multi_label(decode_by_argmax, quiet=True)
    rows = selfcheck.show_progress()
    out = capsys.readouterr().out
    status = {(a, e): s for a, e, s in rows}
    assert status[("fcn_basics", "labels_to_one_hot")] == "passed"
    assert status[("fcn_basics", "decode_multi_label")] == "not yet (hint 2)"
    assert status[("fcn_basics", "labels_from_scores")] == "not attempted"
    assert status[("dimensions", "conv_output_size")] == "not attempted"
    for assignment in ("fcn_basics", "sliding_window_vs_fcn", "dimensions", "skip_fcns"):
        assert assignment in out
    for exercise in ("extract_patches", "skip_fcn_table", "max_unpool", "build_fcn_upscaling"):
        assert exercise in out
    assert "1 of" in out and "exercises pass their self-check" in out
