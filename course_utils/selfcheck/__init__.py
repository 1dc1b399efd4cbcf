"""Self-checks for students: run your function on test cases and get a hint for your mistake.

Call a check with your function, e.g. in ``exercises/fcn_basics/fcn_basics.ipynb``::

    from course_utils.selfcheck import check_labels_to_one_hot, show_progress
    check_labels_to_one_hot(labels_to_one_hot)
    show_progress()

A check runs your function on cases like the visible tests' and a few more. If it is
wrong, the check compares your outputs with those of *known-wrong* versions of the
function (the mistakes students make most often: IoU instead of Dice, nan for empty
masks, summing over the wrong axes, a softmax applied twice, ...). When one of them
gives exactly your outputs, you get a hint for that mistake. Hints are progressive: run
the same check again with the same mistake and the next hint is more specific; it never
prints the answer. Expected values are printed only for the lecture's worked examples
that the notebook already shows; for the other cases you only see what your function
returned.

Every check returns a :class:`CheckResult` and records it in a small JSON progress file,
``~/.segcourse/progress.json`` (or the path in the environment variable
``SEGCOURSE_PROGRESS_FILE``). :func:`show_progress` prints a table of all exercises of all
assignments (read from the course's release notebooks): passed, not yet, or not attempted.

Which assignment a check counts for: the ``assignment`` argument if given, else the
environment variable ``SEGCOURSE_ASSIGNMENT``, else the folder the notebook runs in
(``exercises/<assignment>/``), else the first assignment that has the exercise.

The self-checks are no grade: the hidden tests check more cases when your work is graded.

The modules, one concept each:

- ``engine``: cases, known mistakes, comparisons, time limit, reports (:class:`CheckResult`).
- ``records``: the progress file (each check's record) and :func:`show_progress`.
- ``assignments``: the course's assignments and exercises, read from the release.
- ``masks``: one-hot and label maps, multi-label masks and their decoding.
- ``sizes``, ``parameters``: output sizes and shapes; parameter counts and the skip FCN's table.
- ``overlap``: Dice, IoU, mean IoU. ``losses``: soft Dice, weighted cross-entropy, class weights.
- ``pooling``: max pooling with argmax, unpooling. ``transposed``: the NumPy transposed convolution.
- ``models``: the FCN and the skip FCNs. ``unet``: the U-Net assignment.
- ``transfer``: the pretrained encoder, the transfer FCN, its parameter report, fine-tuning.
- ``formats``: Cityscapes trainIds, the VOC colour map, colour-coded labels, class frequencies.
- ``instances``: the mask IoU matrix, COCO matching, things over stuff, panoptic quality.
- ``sliding_window``: patches, the sliding window, the traffic-light windows, the whole-page FCN prediction.
- ``practice``: the lectures' "Your turn" cells (``from course_utils.selfcheck import practice``);
  no grade and no progress record, so they are not in ``EXERCISE_CHECKS``.
"""

from .assignments import COURSE_ORDER, assignment_exercises
from .engine import CheckResult
from .formats import (
    check_class_frequencies,
    check_decode_palette,
    check_label_ids_to_train_ids,
    check_voc_palette,
)
from .instances import (
    check_mask_iou_matrix,
    check_match_instances,
    check_merge_panoptic,
    check_panoptic_quality,
)
from .losses import check_class_weights, check_soft_dice, check_weighted_crossentropy
from .masks import (
    check_decode_multi_label,
    check_labels_from_scores,
    check_labels_to_one_hot,
    check_multi_label_mask,
)
from .models import check_fcn_skip_upscaling, check_fcn_transposed_skip, check_fcn_upscaling
from .overlap import check_dice, check_iou, check_mean_iou
from .parameters import (
    check_conv2d_params,
    check_conv2d_transpose_params,
    check_dense_params,
    check_skip_fcn_table,
)
from .pooling import check_max_pool_with_argmax, check_max_unpool
from .records import load_progress, progress_file, show_progress
from .sizes import (
    check_bottleneck_shape,
    check_conv_output_size,
    check_conv_transpose_output_size,
    check_decoded_shape,
    check_fcn_upscaling_shapes,
    check_padded_size,
    check_pool_output_size,
    check_upscaling_output_size,
)
from .sliding_window import (
    check_extract_patches,
    check_predict_fcn,
    check_predict_sliding_window,
    check_sliding_windows,
)
from .transfer import check_build_encoder, check_build_transfer_fcn, check_fine_tune, check_parameter_report
from .transposed import check_conv2d_transpose_numpy
from .unet import (
    check_build_unet,
    check_double_conv,
    check_train_unet,
    check_unet_bottleneck_size,
)

__all__ = [
    "CheckResult",
    "check_conv_output_size",
    "check_conv_transpose_output_size",
    "check_labels_to_one_hot",
    "check_labels_from_scores",
    "check_multi_label_mask",
    "check_decode_multi_label",
    "check_fcn_upscaling_shapes",
    "check_dice",
    "check_iou",
    "check_soft_dice",
    "check_weighted_crossentropy",
    "check_fcn_upscaling",
    "check_max_pool_with_argmax",
    "check_max_unpool",
    "check_pool_output_size",
    "check_upscaling_output_size",
    "check_bottleneck_shape",
    "check_decoded_shape",
    "check_padded_size",
    "check_conv2d_params",
    "check_conv2d_transpose_params",
    "check_dense_params",
    "check_skip_fcn_table",
    "check_extract_patches",
    "check_predict_sliding_window",
    "check_sliding_windows",
    "check_predict_fcn",
    "check_conv2d_transpose_numpy",
    "check_fcn_skip_upscaling",
    "check_fcn_transposed_skip",
    "check_unet_bottleneck_size",
    "check_double_conv",
    "check_build_unet",
    "check_train_unet",
    "check_mean_iou",
    "check_class_weights",
    "check_build_encoder",
    "check_build_transfer_fcn",
    "check_parameter_report",
    "check_fine_tune",
    "check_label_ids_to_train_ids",
    "check_voc_palette",
    "check_decode_palette",
    "check_class_frequencies",
    "check_mask_iou_matrix",
    "check_match_instances",
    "check_merge_panoptic",
    "check_panoptic_quality",
    "EXERCISE_CHECKS",
    "COURSE_ORDER",
    "assignment_exercises",
    "progress_file",
    "load_progress",
    "show_progress",
]

# The self-check of every exercise that has one (exercise function -> its check above).
EXERCISE_CHECKS = {
    "conv_output_size": "check_conv_output_size",
    "conv_transpose_output_size": "check_conv_transpose_output_size",
    "labels_to_one_hot": "check_labels_to_one_hot",
    "labels_from_scores": "check_labels_from_scores",
    "multi_label_mask": "check_multi_label_mask",
    "decode_multi_label": "check_decode_multi_label",
    "fcn_upscaling_shapes": "check_fcn_upscaling_shapes",
    "dice_coefficient": "check_dice",
    "iou_score": "check_iou",
    "soft_dice_loss": "check_soft_dice",
    "weighted_crossentropy": "check_weighted_crossentropy",
    "build_fcn_upscaling": "check_fcn_upscaling",
    "max_pool_with_argmax": "check_max_pool_with_argmax",
    "max_unpool": "check_max_unpool",
    "pool_output_size": "check_pool_output_size",
    "upscaling_output_size": "check_upscaling_output_size",
    "bottleneck_shape": "check_bottleneck_shape",
    "decoded_shape": "check_decoded_shape",
    "padded_size": "check_padded_size",
    "conv2d_params": "check_conv2d_params",
    "conv2d_transpose_params": "check_conv2d_transpose_params",
    "dense_params": "check_dense_params",
    "skip_fcn_table": "check_skip_fcn_table",
    "extract_patches": "check_extract_patches",
    "predict_sliding_window": "check_predict_sliding_window",
    "sliding_windows": "check_sliding_windows",
    "predict_fcn": "check_predict_fcn",
    "conv2d_transpose_numpy": "check_conv2d_transpose_numpy",
    "build_fcn_skip_upscaling": "check_fcn_skip_upscaling",
    "build_fcn_transposed_skip": "check_fcn_transposed_skip",
    "unet_bottleneck_size": "check_unet_bottleneck_size",
    "double_conv": "check_double_conv",
    "build_unet": "check_build_unet",
    "train_unet": "check_train_unet",
    "mean_iou": "check_mean_iou",
    "class_weights_from_frequencies": "check_class_weights",
    "build_encoder": "check_build_encoder",
    "build_transfer_fcn": "check_build_transfer_fcn",
    "parameter_report": "check_parameter_report",
    "fine_tune": "check_fine_tune",
    "label_ids_to_train_ids": "check_label_ids_to_train_ids",
    "voc_palette": "check_voc_palette",
    "decode_palette": "check_decode_palette",
    "class_frequencies": "check_class_frequencies",
    "mask_iou_matrix": "check_mask_iou_matrix",
    "match_instances": "check_match_instances",
    "merge_panoptic": "check_merge_panoptic",
    "panoptic_quality": "check_panoptic_quality",
}

# Names an earlier release's notebooks call, and what replaced them: a clear message instead
# of a bare AttributeError in a student's self-check cell.
_RENAMED = {"progress": "show_progress"}


def __getattr__(name):
    if name in _RENAMED:
        raise AttributeError(f"selfcheck.{name}() is now selfcheck.{_RENAMED[name]}(): "
                             f"call selfcheck.{_RENAMED[name]}() instead")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
