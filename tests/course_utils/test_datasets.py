"""Dataset loaders on tiny fake datasets written in the exact on-disk formats."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from course_utils import datasets
from course_utils.datasets import apolloscape, camvid, cityscapes, coco_stuff, pets, voc
from course_utils.datasets.common import DatasetError, colorize, decode_palette, resize_labels
from tests import REPO_ROOT


def _save_grey(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, dtype=np.uint8), mode="L").save(path)


def _save_rgb(path, height, width):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 90, dtype=np.uint8)).save(path)


@pytest.mark.parametrize("kind", datasets.KINDS)
def test_every_fake_dataset_loads_and_validates(kind, tmp_path):
    root = datasets.write_fake_dataset(kind, tmp_path / kind, num_images=2, size=(6, 8))
    fmt = datasets.get_format(kind, root)
    images, labels = fmt.load(root, fmt.splits[0])
    assert images.shape == (2, 6, 8, 3) and images.dtype == np.uint8
    assert labels.shape == (2, 6, 8) and labels.dtype == np.int32
    trained = labels[labels != fmt.ignore_index]
    assert trained.min() >= 0 and trained.max() < fmt.num_classes
    assert len(fmt.palette) >= fmt.num_classes and len(fmt.class_names) == fmt.num_classes
    report = datasets.validate_dataset(kind, root)
    assert report.ok and report.pairs_checked >= 2, str(report)


def test_cityscapes_label_ids_become_train_ids_of_the_table(tmp_path):
    # the official table: 19 trained ids, everything else 255
    expected = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    for label_id in range(34):
        assert cityscapes.LABEL_TO_TRAIN[label_id] == expected.get(label_id, 255), label_id
    assert cityscapes.CLASS_NAMES[0] == "road" and cityscapes.CLASS_NAMES[18] == "bicycle"
    label_ids = np.array([[7, 26, 1], [9, 23, 33]], dtype=np.uint8)
    _save_grey(tmp_path / "gtFine/train/ulm/ulm_000000_000019_gtFine_labelIds.png", label_ids)
    _save_rgb(tmp_path / "leftImg8bit/train/ulm/ulm_000000_000019_leftImg8bit.png", 2, 3)
    images, labels = datasets.load("cityscapes", tmp_path, "train")
    assert labels.tolist() == [[[0, 13, 255], [255, 10, 18]]]
    assert images.shape == (1, 2, 3, 3)
    with pytest.raises(ValueError, match="0-255"):
        cityscapes.label_ids_to_train_ids(np.array([-1, 3]))


def test_voc_palette_round_trip(tmp_path):
    palette = voc.voc_palette()
    assert palette[0].tolist() == [0, 0, 0] and palette[1].tolist() == [128, 0, 0]
    assert palette[15].tolist() == [192, 128, 128] and palette[255].tolist() == [224, 224, 192]
    labels = np.array([[0, 15, 15, 255], [12, 12, 0, 20]], dtype=np.uint8)
    # stored as a palette PNG, read back as indices ...
    image = Image.fromarray(labels, mode="L").convert("P")
    image.putpalette(palette.ravel().tolist())
    image.save(tmp_path / "x.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), labels)
    # ... and through colours: colorize then decode gives the indices back, 255 included
    rgb = np.asarray(Image.open(tmp_path / "x.png").convert("RGB"))
    assert np.array_equal(rgb, colorize(labels, palette))
    assert np.array_equal(decode_palette(rgb, palette), labels)
    assert decode_palette(np.array([[[1, 2, 3]]]), palette).tolist() == [[255]]
    with pytest.raises(ValueError, match=r"colour \(1, 2, 3\) is not in the palette"):
        decode_palette(np.array([[[1, 2, 3]]]), palette, unknown=None)


def test_ignore_values_of_each_format(tmp_path):
    root = datasets.write_fake_dataset("camvid", tmp_path / "c", size=(4, 4))
    _save_grey(root / "trainannot" / "0001TP_train0000.png", [[11, 0, 10, 3]] * 4)
    _, labels = camvid.FORMAT.load(root, "train", limit=1)
    assert labels[0, 0].tolist() == [11, 0, 10, 3] and camvid.IGNORE_INDEX == 11
    root = datasets.write_fake_dataset("pets", tmp_path / "p", size=(2, 3))
    _save_grey(root / "annotations/trimaps/Abyssinian_trainval0000.png", [[1, 2, 3], [3, 2, 1]])
    assert pets.load_pets(root, limit=1)[1][0].tolist() == [[1, 0, 255], [255, 0, 1]]
    assert pets.load_pets(root, limit=1, border_as_class=True)[1][0].tolist() == [[0, 1, 2], [2, 1, 0]]
    assert apolloscape.LABEL_TO_TRAIN[[17, 161, 33, 98, 255, 113]].tolist() == [0, 1, 1, 255, 255, 21]
    assert len(apolloscape.CLASS_NAMES) == 22 and apolloscape.CLASS_NAMES[1] == "car"
    assert len(coco_stuff.CLASS_NAMES) == 182 and coco_stuff.CLASS_NAMES[181] == "wood"


def test_mapillary_reads_classes_from_config_and_decodes_rgb(tmp_path):
    root = datasets.write_fake_dataset("mapillary", tmp_path, size=(3, 4))
    fmt = datasets.get_format("mapillary", root)
    assert fmt.class_names[-1] == "Unlabeled" and fmt.ignore_index == 5
    _, ids = fmt.load(root, "training", limit=1)
    label_path = sorted((root / "training/labels").glob("*.png"))[0]
    # the same labels saved colour-coded (RGB) load to the same ids
    Image.open(label_path).convert("RGB").save(label_path)
    assert np.array_equal(fmt.load(root, "training", limit=1)[1], ids)
    (root / "config.json").write_text(json.dumps({"labels": [{"name": "x"}]}))
    with pytest.raises(DatasetError, match="config.json"):
        datasets.get_format("mapillary", root)


def test_resizing_keeps_labels_as_labels(tmp_path):
    root = datasets.write_fake_dataset("bdd100k", tmp_path, size=(8, 8))
    images, labels = datasets.load("bdd100k", root, "train", size=(5, 12))
    assert images.shape == (2, 5, 12, 3) and labels.shape == (2, 5, 12)
    allowed = set(range(19)) | {255}
    assert set(np.unique(labels).tolist()) <= allowed       # no interpolated ids
    assert resize_labels(np.array([[1, 2], [3, 4]]), (4, 4)).tolist() == [[1, 1, 2, 2]] * 2 + [[3, 3, 4, 4]] * 2
    with pytest.raises(ValueError, match="size must be"):
        datasets.load("bdd100k", root, "train", size=(0, 4))


def test_sequence_feeds_the_pipeline(tmp_path):
    pytest.importorskip("keras")
    root = datasets.write_fake_dataset("voc", tmp_path, size=(8, 8))
    sequence = datasets.get_format("voc").sequence(root, "train", batch_size=2, shuffle=False)
    images, labels = sequence[0]
    assert images.shape == (2, 8, 8, 3) and images.dtype == np.float32 and images.max() <= 1.0
    assert labels.shape == (2, 8, 8) and set(np.unique(labels).tolist()) <= {0, 12, 15, 255}


def test_corrupt_file_raises_an_error_naming_it(tmp_path):
    root = datasets.write_fake_dataset("cityscapes", tmp_path, size=(4, 4))
    broken = root / "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png"
    broken.write_bytes(broken.read_bytes()[:30])           # truncated PNG
    with pytest.raises(DatasetError, match=r"aachen_000001_000019_gtFine_labelIds\.png: cannot be read"):
        datasets.load("cityscapes", root, "train")
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load("cityscapes", root, "training")
    with pytest.raises(ValueError, match="kind must be one of"):
        datasets.get_format("kitti")


def test_validator_names_every_broken_file(tmp_path):
    root = datasets.write_fake_dataset("voc", tmp_path, size=(4, 6))
    labels = root / "SegmentationClass"
    # 1. wrong mode: RGB where VOC needs a palette image
    Image.open(labels / "2007_train0000.png").convert("RGB").save(labels / "2007_train0000.png")
    # 2. corrupt file
    (labels / "2007_train0001.png").write_bytes(b"not a png")
    # 3. value outside 0-20 and 255
    bad = Image.fromarray(np.full((4, 6), 42, dtype=np.uint8), mode="L").convert("P")
    bad.putpalette(voc.voc_palette().ravel().tolist())
    bad.save(labels / "2007_val0000.png")
    # 4. size mismatch
    small = Image.fromarray(np.zeros((3, 6), dtype=np.uint8), mode="L").convert("P")
    small.putpalette(voc.voc_palette().ravel().tolist())
    small.save(labels / "2007_val0001.png")
    report = datasets.validate_dataset("voc", root)
    text = str(report)
    assert not report.ok and len(report.problems) == 4, text
    by_file = {p.path.split("/")[-1]: p.message for p in report.problems}
    assert "mode 'RGB'" in by_file["2007_train0000.png"] and "'P'" in by_file["2007_train0000.png"]
    assert "cannot be read" in by_file["2007_train0001.png"]
    assert "label values 42 are not allowed" in by_file["2007_val0000.png"]
    assert "6x3" in by_file["2007_val0001.png"] and "6x4" in by_file["2007_val0001.png"]


def test_validator_reports_unmatched_files_and_missing_folders(tmp_path):
    root = datasets.write_fake_dataset("camvid", tmp_path, size=(4, 4))
    (root / "valannot" / "0001TP_val0000.png").unlink()
    _save_grey(root / "testannot" / "orphan.png", np.zeros((4, 4)))
    report = datasets.validate_dataset("camvid", root)
    messages = [str(p) for p in report.problems]
    assert any("val/0001TP_val0000.png: image has no label file" in m for m in messages), messages
    assert any("testannot/orphan.png: label file has no image" in m for m in messages), messages
    assert len(messages) == 2
    import shutil
    shutil.rmtree(root / "train")
    assert any("train: folder not found" in str(p) for p in datasets.validate_dataset("camvid", root).problems)
    assert not datasets.validate_dataset("camvid", tmp_path / "nothing").ok


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_validate_dataset(tmp_path):
    root = datasets.write_fake_dataset("pets", tmp_path, size=(4, 4))
    ok = run_cli("validate-dataset", "pets", root)
    assert ok.returncode == 0 and "no problems found" in ok.stdout, ok.stderr
    (root / "annotations/trimaps/Abyssinian_test0001.png").write_bytes(b"\x89PNG broken")
    bad = run_cli("validate-dataset", "pets", root)
    assert bad.returncode == 1 and "Abyssinian_test0001.png: cannot be read" in bad.stdout
    for args, message in [(["validate-dataset", "kitti", root], "invalid choice: 'kitti'"),
                          (["validate-dataset", "pets", tmp_path / "missing"], "dataset folder not found"),
                          (["validate-dataset", "pets", root, "--split", "train"], "split must be one of"),
                          (["validate-dataset", "pets"], "required")]:
        result = run_cli(*args)
        assert result.returncode == 2 and message in result.stderr and "usage:" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
