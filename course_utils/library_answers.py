"""Which course-library functions compute a graded answer, per assignment (names only).

The rule: while an assignment is graded, a graded answer must be the student's own code.
A solution cell that imports, aliases or wraps a library function that computes that
cell's answer (``course_utils.metrics.dice_coefficient`` for ``dice_coefficient``, the
model builders of ``course_utils.models``, the self-checks' private references, ...)
scores 0 for that part.

This module holds:

- ``LIBRARY_ANSWERS``: ``{assignment: {solution-cell grade_id: ["course_utils.module:qualname", ...]}}``,
  the registry, declared once. It is only names, so it ships to students. The grader
  builds a *grading edition* of ``course_utils`` from it (``autograder/library_edition.py``),
  in which every registered function of the assignment is a stub that raises
  ``LibraryAnswerError``; the self-checks use it to warn before a student submits.
- ``LibraryAnswerError``: what a stub raises.
- ``rule_message(entry, assignment)``: the one text of the rule, naming the function.
- ``resolve(entry)``: the registered object itself (imports its module).
- ``LibraryAnswerWatch``: tells whether a student function *is* a registered function
  of an assignment, or calls one while it runs.

Left out on purpose: functions that the release notebooks' own (non-answer) cells need,
e.g. ``course_utils.data.make_page_dataset``, ``course_utils.training.fit_for`` and
``course_utils.transfer.load_weights_by_name``; generic helpers such as
``transfer.freeze``; module-level constants (e.g. the Cityscapes lookup table).
This module never imports ``autograder`` and imports nothing heavy at import time.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from pathlib import Path

__all__ = ["LIBRARY_ANSWERS", "LibraryAnswerError", "LibraryAnswerWatch", "registered_entries",
           "resolve", "rule_message", "split_entry"]


class LibraryAnswerError(RuntimeError):
    """A function of the course library that computes a graded answer was called while
    the assignment is graded (the grading edition's stubs raise it)."""


# Shared by several assignments: each name computes (or directly returns) the answer.
_CONV_SIZE = ["course_utils.shapes:conv_output_size", "course_utils.shapes:_sliding_window_output_size",
              "course_utils.shapes:pool_output_size", "course_utils.shapes:conv2d_output_shape",
              "course_utils.shapes:pool2d_output_shape",
              "course_utils.widgets.transposed_conv_explorers:compute_conv_and_transposed",
              "course_utils.selfcheck.sizes:_conv_size_reference", "course_utils.selfcheck.sizes:_pool_size_reference"]
_TRANSPOSE_SIZE = ["course_utils.shapes:conv_transpose_output_size",
                   "course_utils.shapes:conv2d_transpose_output_shape",
                   "course_utils.transposed_conv:_transpose_geometry",
                   "course_utils.widgets.transposed_conv_explorers:compute_transposed_conv",
                   "course_utils.widgets.transposed_conv_explorers:compute_conv_and_transposed",
                   "course_utils.selfcheck.sizes:_transpose_reference"]
_DICE = ["course_utils.metrics:dice_coefficient", "course_utils.metrics:per_class_dice",
         "course_utils.widgets.metric_explorers:compute_overlap", "course_utils.selfcheck.overlap:_dice_reference"]
_SOFT_DICE = ["course_utils.losses:soft_dice_loss", "course_utils.losses:_sparse_soft_dice_loss",
              "course_utils.losses:SoftDiceLoss", "course_utils.selfcheck.losses:_soft_dice_numpy"]
_FCN_UPSCALING = ["course_utils.models:build_fcn_upscaling"]

LIBRARY_ANSWERS: dict[str, dict[str, list[str]]] = {
    "fcn_basics": {
        # conv_output_size is given (the notebook imports it for Part 3): not an answer here.
        "encoding": ["course_utils.selfcheck.masks:_one_hot_reference",
                     "course_utils.selfcheck.masks:_labels_from_scores_reference"],
        "multi_label": ["course_utils.selfcheck.masks:_multi_label_reference",
                        "course_utils.selfcheck.masks:_decode_multi_label_reference"],
        # the library's FCN has these shapes: model.layers[i].output.shape answers Part 3
        "layer_shapes": ["course_utils.selfcheck.sizes:_fcn_shapes_reference", *_FCN_UPSCALING],
        "fcn_model": _FCN_UPSCALING,
    },
    "sliding_window_vs_fcn": {
        "patches": ["course_utils.sliding_window:extract_patches", "course_utils.sliding_window:_patch_grid",
                    "course_utils.selfcheck.sliding_window:_patches_reference"],
        "sliding_window": ["course_utils.sliding_window:predict_sliding_window",
                           "course_utils.sliding_window:predict_sliding_window_dense"],
        # lecture 02's figure computes the same boxes (draw_sliding_windows returns them)
        "traffic_windows": ["course_utils.selfcheck.sliding_window:_sliding_windows_reference",
                            "course_utils.lecture_figures:_window_boxes",
                            "course_utils.lecture_figures:draw_sliding_windows"],
        "predict_fcn": ["course_utils.sliding_window:predict_fcn"],
    },
    "dimensions": {
        "sizes": [*_CONV_SIZE, "course_utils.layers:_times"],
        "transpose_size": _TRANSPOSE_SIZE,
        "bottleneck": ["course_utils.selfcheck.sizes:_bottleneck_reference",
                       "course_utils.selfcheck.sizes:_decoded_reference",
                       "course_utils.selfcheck.sizes:_padded_reference"],
        "params": ["course_utils.selfcheck.parameters:_conv_params_reference",
                   "course_utils.selfcheck.parameters:_kernel_area"],
        "table": ["course_utils.selfcheck.parameters:_skip_table_reference"],
    },
    "skip_fcns": {
        "skip_upscaling": ["course_utils.models:build_fcn_skip_upscaling", "course_utils.models:_slide_encoder",
                           "course_utils.models:_skip_fcn"],
        "transposed_skip": ["course_utils.models:build_fcn_transposed_skip", "course_utils.models:_slide_encoder",
                            "course_utils.models:_skip_fcn"],
        "conv_transpose": ["course_utils.transposed_conv:conv2d_transpose_scatter",
                           "course_utils.transposed_conv:conv2d_transpose_matrix",
                           "course_utils.selfcheck.transposed:_transpose_numpy_reference",
                           # lecture 05's figure returns a one-channel transposed convolution, and
                           # the practice check's gradient of a convolution is one
                           "course_utils.lecture_figures:draw_transposed_conv_spread",
                           "course_utils.selfcheck.practice:_numerical_gradient"],
        "max_pool": ["course_utils.layers:MaxPoolingWithArgmax2D",
                     "course_utils.widgets.unpooling_explorer:compute_unpooling",
                     "course_utils.selfcheck.pooling:_pool_reference"],
        "max_unpool": ["course_utils.layers:MaxUnpooling2D",
                       "course_utils.widgets.unpooling_explorer:compute_unpooling",
                       "course_utils.selfcheck.pooling:_unpool_reference"],
    },
    "unet": {
        "bottleneck_size": ["course_utils.selfcheck.unet:_unet_bottleneck_reference"],
        "double_conv": ["course_utils.models:_conv_block"],
        "build_unet": ["course_utils.models:build_unet", "course_utils.models:_conv_block",
                       "course_utils.selfcheck.unet:_reference_unet"],
        # train_unet = build_unet + compile + fit_for: its library part is the U-Net
        # (fit_for is the notebook's own training helper, not an answer).
        "train_unet": ["course_utils.models:build_unet", "course_utils.selfcheck.unet:_reference_unet"],
    },
    "losses_metrics": {
        "dice": _DICE,
        "iou": ["course_utils.metrics:iou_score", "course_utils.metrics:per_class_iou",
                "course_utils.keras_metrics:PerClassIoU", "course_utils.widgets.metric_explorers:compute_overlap",
                "course_utils.selfcheck.overlap:_iou_reference"],
        # per_class_iou: np.nanmean of it is the mean IoU
        "mean_iou": ["course_utils.metrics:mean_iou", "course_utils.metrics:per_class_iou",
                     "course_utils.keras_metrics:MeanIoU", "course_utils.selfcheck.overlap:_mean_iou_reference"],
        "soft_dice": _SOFT_DICE,
        "class_weights": ["course_utils.selfcheck.losses:_class_weights_reference"],
        "weighted_ce": ["course_utils.losses:pixelwise_crossentropy", "course_utils.losses:PixelwiseCrossEntropy",
                        "course_utils.selfcheck.losses:_weighted_ce_numpy"],
    },
    "transfer_learning": {
        "encoder": ["course_utils.transfer:page_encoder", "course_utils.transfer:build_page_fcn"],
        "transfer_fcn": ["course_utils.transfer:build_page_fcn", "course_utils.transfer:page_encoder",
                         "course_utils.transfer:skip_decoder"],
        "parameter_report": ["course_utils.transfer:count_params", "course_utils.transfer:trainable_report",
                             "course_utils.selfcheck.transfer:_report_variant"],
        "fine_tune": ["course_utils.transfer:fine_tune_in_two_phases", "course_utils.transfer:build_page_fcn"],
    },
    "dataset_formats": {
        # the self-checks' factories (selfcheck.formats: *_variant) with no flag set make a
        # correct answer: registered like the other self-check references
        "label_ids": ["course_utils.datasets.cityscapes:label_ids_to_train_ids",
                      "course_utils.datasets.cityscapes:CityscapesFormat.to_train_ids",
                      "course_utils.selfcheck.formats:_train_ids_variant"],
        # bit_palette also makes course_utils.datasets.voc's palette at import: in this
        # assignment's grading edition the package course_utils.datasets cannot be imported.
        "palette": ["course_utils.datasets.voc:voc_palette", "course_utils.datasets.common:bit_palette",
                    "course_utils.selfcheck.formats:_palette_variant"],
        "decode": ["course_utils.datasets.common:decode_palette", "course_utils.selfcheck.formats:_decode_variant"],
        "frequencies": ["course_utils.data:class_frequencies", "course_utils.selfcheck.formats:_frequencies_variant"],
    },
    "instance_panoptic": {
        # selfcheck.instances' factories with no flag set make a correct answer
        "iou_matrix": ["course_utils.instance:mask_iou_matrix", "course_utils.selfcheck.instances:_iou_matrix_variant"],
        "matching": ["course_utils.instance:match_instances", "course_utils.selfcheck.instances:_matching_variant"],
        "merge": ["course_utils.panoptic:merge_panoptic", "course_utils.selfcheck.instances:_merge_variant"],
        "pq": ["course_utils.panoptic:panoptic_quality", "course_utils.panoptic:_accumulate",
               "course_utils.selfcheck.instances:_pq_variant"],
    },
}


def split_entry(entry: str) -> tuple[str, str]:
    """``"course_utils.metrics:dice_coefficient"`` -> ``("course_utils.metrics", "dice_coefficient")``.

    Raises ValueError for anything else than ``course_utils[.sub].module:qualified.name``.
    """
    module, sep, qualname = str(entry).partition(":")
    parts = qualname.split(".")
    if (not sep or not (module == "course_utils" or module.startswith("course_utils."))
            or not all(p.isidentifier() for p in module.split(".") + parts)):
        raise ValueError(f"a registry entry is 'course_utils.module:qualified.name', got {entry!r}")
    return module, qualname


def registered_entries(assignment: str) -> list[str]:
    """Every registered name of ``assignment`` once, in registry order.

    Raises KeyError naming the known assignments if ``assignment`` has no registry.
    """
    if assignment not in LIBRARY_ANSWERS:
        raise KeyError(f"no library answers registered for assignment {assignment!r}; "
                       f"known: {', '.join(sorted(LIBRARY_ANSWERS))}")
    return list(dict.fromkeys(e for names in LIBRARY_ANSWERS[assignment].values() for e in names))


def rule_message(entry: str, assignment: str) -> str:
    """The rule, naming the library function: what a stub raises and the self-check prints."""
    module, qualname = split_entry(entry)
    return (f"{module}.{qualname} is not available while {assignment} is graded: graded answers must be "
            "your own code (a part answered through the course library scores 0)")


def resolve(entry: str):
    """The object ``entry`` names in the installed library (imports its module).

    Raises ValueError for a malformed entry, ImportError / AttributeError if it does not exist.
    """
    module, qualname = split_entry(entry)
    target = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


# ----------------------------------------------------------------------------- the watch
_PACKAGE_DIR = Path(__file__).resolve().parent


def _module_file(module: str) -> str:
    relative = Path(*module.split(".")[1:])
    for candidate in (_PACKAGE_DIR / relative.with_suffix(".py"), _PACKAGE_DIR / relative / "__init__.py"):
        if candidate.is_file():
            return os.path.realpath(candidate)
    return os.path.realpath(_PACKAGE_DIR / relative.with_suffix(".py"))


class LibraryAnswerWatch:
    """Tells whether a student function is, or calls, a registered function of an assignment.

    Matching is by source file and qualified name of the running code (``co_qualname``),
    so nothing is imported, and a module the student imports inside the function is
    caught too; a registered class matches its methods, a registered function its
    nested functions.

        watch = LibraryAnswerWatch("fcn_basics")
        watched = watch.wrap(dice_coefficient)    # call it like the original
        ...
        watch.found                                # e.g. "course_utils.metrics:dice_coefficient" or None

    ``assignment``: its registry; None or an assignment without one: every assignment's.
    Calls are recorded only while ``wrap``'s function runs (never in the checks' own
    references, which call the library too).
    """

    def __init__(self, assignment: str | None):
        if assignment in LIBRARY_ANSWERS:
            entries = registered_entries(assignment)
        else:
            entries = list(dict.fromkeys(e for a in LIBRARY_ANSWERS for e in registered_entries(a)))
        self.assignment = assignment if assignment in LIBRARY_ANSWERS else None
        self._by_file: dict[str, list[tuple[str, str]]] = {}
        for entry in entries:
            module, qualname = split_entry(entry)
            self._by_file.setdefault(_module_file(module), []).append((qualname, entry))
        self._real_files: dict[str, str | None] = {}
        self.found: str | None = None

    def entry_of_code(self, code) -> str | None:
        """The registered entry a code object belongs to, else None."""
        filename = code.co_filename
        real = self._real_files.get(filename, "")
        if real == "":
            real = os.path.realpath(filename) if filename and not filename.startswith("<") else None
            self._real_files[filename] = real
        if real not in self._by_file:
            return None
        qualname = getattr(code, "co_qualname", code.co_name)
        for registered, entry in self._by_file[real]:
            if qualname == registered or qualname.startswith(registered + "."):
                return entry
        return None

    def entry_of(self, function) -> str | None:
        """The registered entry ``function`` itself is (an alias, a partial, a bound method,
        a registered class or an instance of one), else None."""
        seen = 0
        while isinstance(function, functools.partial) and seen < 20:
            function, seen = function.func, seen + 1
        candidates = [function, getattr(function, "__func__", None)]
        if not hasattr(function, "__code__") and not isinstance(function, type):
            candidates.append(type(function))             # a callable instance, e.g. SoftDiceLoss()
        for candidate in candidates:
            code = getattr(candidate, "__code__", None)
            if code is not None and (entry := self.entry_of_code(code)):
                return entry
            if isinstance(candidate, type):
                for klass in candidate.__mro__:
                    for member in vars(klass).values():
                        code = getattr(member, "__code__", None)
                        if code is not None and (entry := self.entry_of_code(code)):
                            return entry
        return None

    def _profile(self, frame, event, arg):
        if event == "call" and self.found is None:
            entry = self.entry_of_code(frame.f_code)
            if entry is not None:
                self.found = entry

    def wrap(self, function):
        """``function`` wrapped so that the registered functions it calls are recorded in
        ``found`` (the first one); it is recorded directly if it is one."""
        if self.found is None:
            self.found = self.entry_of(function)

        @functools.wraps(function)
        def watched(*args, **kwargs):
            previous = sys.getprofile()
            sys.setprofile(self._profile)
            try:
                return function(*args, **kwargs)
            finally:
                sys.setprofile(previous)

        return watched

    def message(self) -> str | None:
        """The rule naming the function found (None if none was)."""
        if self.found is None:
            return None
        return rule_message(self.found, self.assignment or "this assignment")
