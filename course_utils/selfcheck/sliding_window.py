"""Self-checks of the sliding window and of the whole-page FCN prediction: patches centred
on the pixels, dense prediction with a classifier, the traffic-light windows (count, boxes,
crops), padding a page to a multiple of 8.
The checks hand the student's function fakes (a classifier, a network) whose answer
depends on the pixels, so wrong positions show.

Assignment ``sliding_window_vs_fcn``.
"""

import numpy as np

from .engine import (
    _Case,
    _Mistake,
    _Raised,
    _run_check,
    _run_model_check,
    _to_numpy,
    _variant_check,
)

__all__ = ["check_extract_patches", "check_predict_sliding_window", "check_sliding_windows", "check_predict_fcn"]


def _patches_reference(page, patch_size, stride, before=None):
    """Patches centred on every stride-th pixel; ``before``: zero rows/columns before the
    centre (patch_size // 2; other values reproduce mistakes)."""
    page = np.asarray(page, dtype=np.float32)
    page = page[:, :, None] if page.ndim == 2 else page
    height, width = page.shape[:2]
    before = patch_size // 2 if before is None else before
    padded = np.pad(page, ((before, patch_size), (before, patch_size), (0, 0)))
    centers = [(r, c) for r in range(0, height, stride) for c in range(0, width, stride)]
    patches = np.stack([padded[r:r + patch_size, c:c + patch_size] for r, c in centers])
    return patches, np.array(centers)


def _patch_cases():
    rng = np.random.default_rng(11)
    return [
        _Case("a 5x5 page, 3x3 patches, stride 2", (np.arange(25, dtype=np.float32).reshape(5, 5), 3, 2)),
        _Case("a random 7x9 page with 3 channels, 4x4 patches (even), stride 3",
              (rng.random((7, 9, 3)).astype(np.float32), 4, 3)),
        _Case("a random 6x5 page, 5x5 patches, stride 1", (rng.random((6, 5)).astype(np.float32), 5, 1)),
    ]


_PATCHES_CHECK = _variant_check(
    "extract_patches", _patch_cases(), _patches_reference,
    [("no_padding", "the patches start at the pixel instead of being centred on it", (
        "Look at the first patch: its centre must be pixel (0, 0), so it sticks out of the page.",
        "Pad patch_size // 2 zeros before the page (and enough after), then cut the patch "
        "starting at (r, c) of the padded page.",
    ), lambda page, ps, s: _patches_reference(page, ps, s, before=0)),
     ("even_size_centre", "the centre of an even-sized patch is off by one", (
         "For an even patch size the centre is the pixel just right of / below the middle.",
         "Pad patch_size // 2 zeros before the page, not (patch_size - 1) // 2.",
     ), lambda page, ps, s: _patches_reference(page, ps, s, before=(ps - 1) // 2)),
     ("centers_swapped", "the centres are (col, row) instead of (row, col)", (
         "centers[i] = (row, col) of patch i, rows first.",
     ), lambda page, ps, s: (lambda p, c: (p, c[:, ::-1]))(*_patches_reference(page, ps, s)))],
    ("Centres: every stride-th row and column, row-major; each patch is zero-padded at the "
     "borders and always patch_size x patch_size x C.",))


def check_extract_patches(extract_patches, assignment=None, quiet=False):
    """Check ``extract_patches(page, patch_size, stride)`` -> ``(patches, centers)``.

    Diagnoses: patches anchored at their top-left pixel (no centring), an off-by-one
    centre for even patch sizes, (col, row) centres.
    """
    return _run_check(_PATCHES_CHECK, extract_patches, assignment, quiet)


class _CentreClassifier:
    """A fake classifier: the class of a patch is int(its centre pixel) % 4; records the batch sizes."""

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, patches):
        patches = np.asarray(patches)
        self.batch_sizes.append(len(patches))
        centre = patches[:, patches.shape[1] // 2, patches.shape[2] // 2, 0].astype(int) % 4
        return np.eye(4, dtype=np.float32)[centre]


def _sliding_reference(page, patch_size, stride, upsample=True):
    page = np.asarray(page, dtype=np.float32)
    patches, centers = _patches_reference(page, patch_size, stride)
    labels = _CentreClassifier()(patches).argmax(-1).astype(np.uint8)
    coarse = labels.reshape(-(-page.shape[0] // stride), -(-page.shape[1] // stride))
    if not upsample:
        return coarse
    return np.repeat(np.repeat(coarse, stride, 0), stride, 1)[:page.shape[0], :page.shape[1]]


def _sliding_cases():
    rng = np.random.default_rng(12)
    return [(rng.integers(0, 4, size=(9, 13)).astype(np.float32), 5, 4),
            (rng.integers(0, 4, size=(8, 8)).astype(np.float32), 3, 2),
            (rng.integers(0, 4, size=(5, 11)).astype(np.float32), 4, 3)]


def check_predict_sliding_window(predict_sliding_window, assignment=None, quiet=False):
    """Check ``predict_sliding_window(classify, page, patch_size, stride, batch_size=256)``
    with a fake classifier (the class of a patch is its centre pixel's value).

    Diagnoses: the coarse grid returned without up-sampling, a wrong shape, batches larger
    than batch_size, labels that are not integers.
    """
    return _run_model_check("predict_sliding_window", _sliding_window_problem, predict_sliding_window,
                            _SLIDING_WINDOW_MISTAKES, assignment, quiet)


def _sliding_window_problem(predict_sliding_window):
    problem = None
    if True:
        for page, patch_size, stride in _sliding_cases():
            described = f"a {page.shape[0]}x{page.shape[1]} page, {patch_size}x{patch_size} patches, stride {stride}"
            classify = _CentreClassifier()
            try:
                got = _to_numpy(predict_sliding_window(classify, page, patch_size, stride, batch_size=5))
            except NotImplementedError:
                raise
            except Exception as error:
                problem = (described, "raises", str(_Raised(error)))
                break
            if got.shape == _sliding_reference(page, patch_size, stride, upsample=False).shape != page.shape:
                problem = (described, "coarse_grid", f"shape {got.shape}")
            elif got.shape != page.shape:
                problem = (described, "wrong_shape", f"shape {got.shape}")
            elif classify.batch_sizes and max(classify.batch_sizes) > 5:
                problem = (described + " with batch_size=5", "batch_size_ignored",
                           f"batches of {max(classify.batch_sizes)} patches")
            elif not np.array_equal(got, _sliding_reference(page, patch_size, stride)):
                problem = (described, "wrong_labels", "other labels")
            elif got.dtype.kind not in "iu":
                problem = (described, "not_integer", f"dtype {got.dtype}")
            if problem:
                break
    return problem


_SLIDING_WINDOW_MISTAKES = {
        "raises": ("the function raises an error", (
            "Read the error: which line raises it? Call classify on batches of patches, "
            "shape (B, patch_size, patch_size, C).",)),
        "coarse_grid": ("the coarse grid of patch labels is returned, not a full-size map", (
            "One label per stride x stride cell: repeat each label stride times along both axes.",
            "np.repeat(np.repeat(coarse, stride, axis=0), stride, axis=1), then crop to (H, W).",
        )),
        "wrong_shape": ("the output does not have the page's shape (H, W)", (
            "After repeating the labels, crop to the page's height and width.",)),
        "batch_size_ignored": ("classify gets more than batch_size patches at once", (
            "Loop over the patches in slices of batch_size: patches[start:start + batch_size].",)),
        "wrong_labels": ("the labels are at the wrong places", (
            "The label of the patch centred on (r, c) covers rows r .. r + stride - 1 and "
            "columns c .. c + stride - 1.",
            "Take the argmax of the scores per patch, reshape to (ceil(H / s), ceil(W / s)) "
            "in row-major order, then repeat.",
        )),
        "not_integer": ("the labels are not integers", ("Return a uint8 array: .astype(np.uint8).",)),
}


def _sliding_windows_reference(image, window_size, stride, last=1, inclusive_end=False, check_fit=True):
    """(boxes, crops) of the windows lying inside the image, row-major. The keywords
    reproduce mistakes: ``last=0`` loses the window ending at the border, ``inclusive_end``
    gives bottom/right one less, ``check_fit=False`` returns no windows instead of raising."""
    image = np.asarray(image)
    image = image[:, :, None] if image.ndim == 2 else image
    height, width = image.shape[:2]
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if check_fit and (window_size > height or window_size > width):
        raise ValueError(f"a {window_size}x{window_size} window does not fit on a {height}x{width} image")
    starts = [(t, s) for t in range(0, height - window_size + last, stride)
              for s in range(0, width - window_size + last, stride)]
    end = window_size - 1 if inclusive_end else window_size   # the crops follow the boxes
    boxes = np.array([(t, s, t + end, s + end) for t, s in starts], dtype=int).reshape(-1, 4)
    crops = np.zeros((len(starts), end, end, image.shape[2]), dtype=image.dtype)
    for k, (t, s) in enumerate(starts):
        crops[k] = image[t:t + end, s:s + end]
    return boxes, crops


def _window_cases():
    rng = np.random.default_rng(14)
    street = np.zeros((40, 60, 3), dtype=np.uint8)
    street[12:18, 25:29] = (255, 0, 0)
    return [
        _Case("the traffic light scaled down 10x: a 40x60 photo, 20x20 windows, stride 10", (street, 20, 10)),
        _Case("a random 9x13 image, 4x4 windows, stride 3", (rng.integers(0, 9, size=(9, 13)), 4, 3)),
        _Case("a random 7x7x2 image, 7x7 window (as large as the image), stride 2",
              (rng.integers(0, 9, size=(7, 7, 2)), 7, 2)),
        _Case("a 5x30 image and a 6x6 window (it does not fit)", (np.zeros((5, 30)), 6, 2)),
    ]


_WINDOWS_CHECK = _variant_check(
    "sliding_windows", _window_cases(), _sliding_windows_reference,
    [("misses_last_window", "the window that ends exactly at the border is missing", (
        "Count the windows of a 40-pixel side with 20-pixel windows and stride 10 by hand: tops 0, 10 and 20.",
        "range(0, H - window_size + 1, stride): the + 1 keeps the top H - window_size.",
    ), lambda image, size, stride: _sliding_windows_reference(image, size, stride, last=0)),
     ("inclusive_end", "bottom and right are one pixel short (inclusive instead of exclusive)", (
         "The box is used as image[top:bottom, left:right], like a Python slice.",
         "bottom = top + window_size, right = left + window_size.",
     ), lambda image, size, stride: _sliding_windows_reference(image, size, stride, inclusive_end=True)),
     ("no_fit_error", "a window larger than the image gives no error", (
         "A 6x6 window cannot be placed on a 5-row image: say so instead of returning nothing.",
         "Compare window_size with the height and the width first and raise ValueError naming both sizes.",
     ), lambda image, size, stride: _sliding_windows_reference(image, size, stride, check_fit=False))],
    ("The windows lie inside the image: tops 0, stride, ... while top + window_size <= H (likewise the "
     "lefts); boxes (top, left, bottom, right) with bottom/right exclusive, row-major; crops "
     "(N, window_size, window_size, C).",),
    extra_mistakes=[_Mistake("not_value_error", "a window that does not fit raises another error than ValueError", (
        "Bad arguments raise ValueError: the caller catches that one (an assert can be switched off).",
        "if window_size > H or window_size > W: raise ValueError(f\"... {window_size} ... {H}x{W} ...\").",
    ), lambda cases, outputs, expected: any(isinstance(o, _Raised) and isinstance(e, _Raised)
                                           and not isinstance(o.error, ValueError)
                                           for o, e in zip(outputs, expected)))])


def check_sliding_windows(sliding_windows, assignment=None, quiet=False):
    """Check ``sliding_windows(image, window_size, stride)`` -> ``(boxes, crops)``.

    Diagnoses: the last window (ending at the border) lost, boxes with an inclusive end,
    no error for a window larger than the image.
    """
    return _run_check(_WINDOWS_CHECK, sliding_windows, assignment, quiet)


class _PositionalNetwork:
    """A fake FCN: class of a pixel = (int(value) + row + 2 * col) % 5; it refuses sizes that
    are not multiples of 8 (the real FCN would crop them) and, when ``page_shape`` is set,
    more padding than needed."""

    page_shape = None

    def __call__(self, batch):
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape[1] % 8 or batch.shape[2] % 8:
            raise ValueError(f"the FCN needs multiples of 8, got {batch.shape[1:3]}")
        if self.page_shape is not None:
            needed = tuple(-(-size // 8) * 8 for size in self.page_shape[:2])
            if tuple(batch.shape[1:3]) != needed:
                raise ValueError(f"padded to {batch.shape[1:3]}, larger than needed {needed}")
        rows = np.arange(batch.shape[1])[:, None]
        cols = np.arange(batch.shape[2])[None, :]
        return np.eye(5, dtype=np.float32)[(batch[..., 0].astype(int) + rows + 2 * cols) % 5]


def _predict_fcn_reference(page, multiple=8, pad_before=False):
    page = np.asarray(page, dtype=np.float32)
    page = page[:, :, None] if page.ndim == 2 else page
    h, w = page.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    padding = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)) if pad_before else ((0, ph), (0, pw), (0, 0))
    scores = _PositionalNetwork()(np.pad(page, padding)[None])[0]
    top, left = (ph // 2, pw // 2) if pad_before else (0, 0)
    return scores[top:top + h, left:left + w].argmax(-1).astype(np.uint8)


def _predict_fcn_cases():
    rng = np.random.default_rng(13)
    return [
        _Case("a 13x21 page of labels", (rng.integers(0, 5, size=(13, 21)).astype(np.float32),)),
        _Case("a 16x24 page (already multiples of 8)", (rng.integers(0, 5, size=(16, 24)).astype(np.float32),)),
        _Case("a 10x7x2 page", (rng.integers(0, 5, size=(10, 7, 2)).astype(np.float32),)),
    ]


def check_predict_fcn(predict_fcn, assignment=None, quiet=False):
    """Check ``predict_fcn(predict, page, multiple=8)`` with a fake FCN that needs multiples
    of 8 and whose answer depends on the pixel position.

    Diagnoses: no padding, a whole extra block of padding, padding split over both sides,
    scores returned instead of labels, the padded size returned.
    """
    network = _PositionalNetwork()
    check = _variant_check(
        "predict_fcn", _predict_fcn_cases(), lambda page: _predict_fcn_reference(page),
        [("pads_both_sides", "the padding is split over both sides of the page", (
            "The positions of the pixels must not move: pad at the bottom and the right only.",
            "np.pad(page, ((0, -H % m), (0, -W % m), (0, 0))).",
        ), lambda page: _predict_fcn_reference(page, pad_before=True)),
         ("not_cropped", "the result keeps the padded size", (
             "Crop the prediction back to the page's height and width.",
         ), lambda page: network(np.pad(np.asarray(page, np.float32).reshape(*np.shape(page)[:2], -1),
                                        ((0, -np.shape(page)[0] % 8), (0, -np.shape(page)[1] % 8), (0, 0)))[None])
             [0].argmax(-1).astype(np.uint8))],
        ("Pad the page with zeros at the bottom and right to multiples of `multiple`, run the "
         "network once on a batch of one page, crop back to (H, W) and take the argmax.",),
        extra_mistakes=[_Mistake("no_padding", "the page is not padded to a multiple of 8", (
            "The network refuses sizes that are not multiples of 8: read the error.",
            "-H % multiple rows and -W % multiple columns of zeros make the size a multiple.",
        ), lambda cases, outputs, expected: any(isinstance(o, _Raised) and "multiples of 8" in str(o)
                                               for o in outputs)),
            _Mistake("full_extra_block", "a page that already fits gets a whole block of padding", (
                "A 16 x 24 page needs no padding: -H % multiple is 0 then.",
                "Pad -H % multiple rows, not multiple - H % multiple.",
            ), lambda cases, outputs, expected: any(isinstance(o, _Raised) and "larger than needed" in str(o)
                                                   for o in outputs)),
            _Mistake("scores_not_labels", "the scores are returned, not the class labels", (
                "Return one class per pixel, shape (H, W): argmax over the last axis.",
            ), lambda cases, outputs, expected: any(not isinstance(o, _Raised) and _to_numpy(o).ndim == 3
                                                   for o in outputs))])
    def run(page):
        network.page_shape = np.shape(page)
        try:
            return predict_fcn(network, page)
        finally:
            network.page_shape = None

    return _run_check(check, run, assignment, quiet)
