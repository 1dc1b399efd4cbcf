"""Validity variants of ``sliding_window_vs_fcn``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

VARIANTS = [
    Variant("patches-with-loops", "patches", code='''
def extract_patches(page, patch_size, stride):
    page = np.asarray(page, dtype=np.float32)
    page = page[..., None] if page.ndim == 2 else page
    h, w, c = page.shape
    top = patch_size // 2
    padded = np.zeros((h + patch_size, w + patch_size, c), np.float32)
    padded[top:top + h, top:top + w] = page
    patches, centers = [], []
    for r in range(0, h, stride):
        for col in range(0, w, stride):
            patches.append(padded[r:r + patch_size, col:col + patch_size])
            centers.append([r, col])
    return np.stack(patches).astype(np.float32), np.array(centers)
'''),
    Variant("patches-without-padding", "patches", {"test_patches_visible": "should have shape (9, 3, 3, 1)",
                                                  "test_patches_hidden": "wrong shape"},
            edits=[("padded = np.pad(page, ((before, after), (before, after), (0, 0)))", "padded = page")],
            also_fails={"test_sliding_window_visible", "test_sliding_window_hidden"}),
    Variant("patches-even-size-centre", "patches", {"test_patches_hidden": "which pixel is the centre"},
            edits=[("before = patch_size // 2", "before = (patch_size - 1) // 2")],
            also_fails={"test_sliding_window_hidden"}),
    Variant("sliding-window-loops", "sliding_window", code='''
def predict_sliding_window(classify, page, patch_size, stride, batch_size=256):
    page = np.asarray(page, dtype=np.float32)
    patches, centers = extract_patches(page, patch_size, stride)
    out = np.zeros(page.shape[:2], dtype=np.uint8)
    labels = []
    for i in range(0, len(patches), batch_size):
        labels.extend(np.argmax(np.asarray(classify(patches[i:i + batch_size])), axis=1))
    for (r, c), label in zip(centers, labels):
        out[r:r + stride, c:c + stride] = label
    return out
'''),
    Variant("sliding-window-one-batch", "sliding_window",
            {"test_sliding_window_visible": "[6, 6, 6, 2]",
             "test_sliding_window_hidden": "in batches of at most batch_size"},
            edits=[("scores = np.asarray(classify(patches[start:start + batch_size]))",
                    "scores = np.asarray(classify(patches))[start:start + batch_size]")]),
    Variant("sliding-window-no-crop", "sliding_window", {"test_sliding_window_visible": "2x2 cell",
                                                        "test_sliding_window_hidden": "returned the wrong shape"},
            edits=[("return full[:height, :width]", "return full")]),
    Variant("windows-stride-tricks", "traffic_windows", code='''
def sliding_windows(image, window_size, stride):
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    if stride <= 0 or window_size > min(image.shape[:2]):
        raise ValueError(f"window {window_size} with stride {stride} does not fit an image of shape {image.shape}")
    views = np.lib.stride_tricks.sliding_window_view(image, (window_size, window_size), axis=(0, 1))[::stride, ::stride]
    rows, cols = views.shape[:2]
    tops, lefts = np.meshgrid(np.arange(rows) * stride, np.arange(cols) * stride, indexing="ij")
    boxes = np.stack([tops.ravel(), lefts.ravel(), tops.ravel() + window_size, lefts.ravel() + window_size], axis=1)
    crops = views.reshape(rows * cols, image.shape[2], window_size, window_size).transpose(0, 2, 3, 1)
    return boxes, crops
'''),
    Variant("windows-misses-last", "traffic_windows", {"test_traffic_windows_visible": "should have shape (15, 4)",
                                                       "test_traffic_windows_hidden": "number of windows is wrong"},
            edits=[(" - window_size + 1, stride)", " - window_size, stride)")]),
    Variant("windows-inclusive-end", "traffic_windows", {"test_traffic_windows_visible": "bottom/right exclusive",
                                                         "test_traffic_windows_hidden": "the boxes are wrong"},
            edits=[("(top, left, top + window_size, left + window_size)",
                    "(top, left, top + window_size - 1, left + window_size - 1)")]),
    Variant("windows-no-fit-error", "traffic_windows", {"test_traffic_windows_visible": "should raise ValueError",
                                                        "test_traffic_windows_hidden": "should raise ValueError"},
            code='''
def sliding_windows(image, window_size, stride):
    image = np.asarray(image)
    image = image[..., None] if image.ndim == 2 else image
    h, w, c = image.shape
    boxes = [[t, l, t + window_size, l + window_size]
             for t in range(0, h - window_size + 1, stride) for l in range(0, w - window_size + 1, stride)]
    crops = np.zeros((len(boxes), window_size, window_size, c), image.dtype)
    for k, (t, l, b, r) in enumerate(boxes):
        crops[k] = image[t:b, l:r]
    return np.array(boxes, dtype=int).reshape(-1, 4), crops
'''),
    Variant("windows-assert-not-valueerror", "traffic_windows",
            {"test_traffic_windows_visible": "not AssertionError", "test_traffic_windows_hidden": "not AssertionError"},
            edits=[("if window_size > height or window_size > width:\n        raise ValueError(",
                    "if window_size > height or window_size > width:\n        raise AssertionError(")]),
    Variant("predict-fcn-manual-zeros", "predict_fcn", code='''
def predict_fcn(predict, page, multiple=8):
    page = np.asarray(page, dtype=np.float32)
    if page.ndim == 2:
        page = page[..., None]
    h, w, c = page.shape
    H, W = int(np.ceil(h / multiple)) * multiple, int(np.ceil(w / multiple)) * multiple
    padded = np.zeros((1, H, W, c), np.float32)
    padded[0, :h, :w] = page
    return np.argmax(np.asarray(predict(padded))[0, :h, :w], axis=-1).astype("uint8")
'''),
    Variant("predict-fcn-pads-both-sides", "predict_fcn",
            {"test_predict_fcn_visible": "pad at the bottom/right only",
             "test_predict_fcn_hidden": "the page must stay at the top-left"},
            edits=[("padded = np.pad(page, ((0, -height % multiple), (0, -width % multiple), (0, 0)))",
                    "ph, pw = -height % multiple, -width % multiple\n"
                    "    padded = np.pad(page, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))")]),
    Variant("predict-fcn-full-extra-block", "predict_fcn", {"test_predict_fcn_visible": "must not be padded",
                                                           "test_predict_fcn_hidden": "zero-padded page"},
            edits=[("(0, -height % multiple), (0, -width % multiple)",
                    "(0, multiple - height % multiple), (0, multiple - width % multiple)")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
    "alt-correct": ["patches-with-loops", "sliding-window-loops", "windows-stride-tricks", "predict-fcn-manual-zeros"],
    "wrong-a": ["sliding-window-one-batch", "windows-misses-last", "predict-fcn-pads-both-sides"],
    "wrong-b": ["patches-even-size-centre", "windows-no-fit-error", "predict-fcn-full-extra-block"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "patches": "from course_utils.sliding_window import extract_patches\n",
    "sliding_window": '''
from types import SimpleNamespace
from course_utils import sliding_window

def predict_sliding_window(classify, page, patch_size, stride, batch_size=256):
    model = SimpleNamespace(predict_on_batch=classify)
    return sliding_window.predict_sliding_window(model, page, patch_size, stride, batch_size)
''',
    "traffic_windows": ("from course_utils.selfcheck.sliding_window import "
                        "_sliding_windows_reference as sliding_windows\n"),
    "predict_fcn": '''
from types import SimpleNamespace
import course_utils.sliding_window

def predict_fcn(predict, page, multiple=8):
    return course_utils.sliding_window.predict_fcn(SimpleNamespace(predict_on_batch=predict), page, multiple)
''',
}

