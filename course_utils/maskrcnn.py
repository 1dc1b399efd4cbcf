"""A compact Mask R-CNN (He et al. 2017) in Keras 3, small enough to train on a CPU.

The pieces, in the order an image goes through them::

    image (B, S, S, 3)
      └► backbone: 4 convolutions, stride 4 ─► features (B, S/4, S/4, C)
           ├► region proposal network (RPN): per feature cell and anchor,
           │    an objectness logit and 4 box offsets ─► decode, NMS ─► proposals
           └► RoIAlign(features, each proposal)
                ├► 7x7  ─► box head: class logits (K + 1) and 4 box offsets
                └► 14x14 ─► mask head (small FCN) ─► 28x28 mask logits per class (K)

Boxes are ``(y1, x1, y2, x2)`` **relative to the image** (in [0, 1]); a pixel (r, c)
covers [r, r + 1) x [c, c + 1) in pixel units, so its centre is at
``((r + 0.5) / S, (c + 0.5) / S)``. Class ids are 1..K; 0 is the background.

What runs where: the network (backbone, heads, ``roi_align``) is Keras with ``keras.ops``;
the bookkeeping around it (anchors, box encoding, NMS, choosing training targets, pasting
masks into the image) is NumPy, run between the network's calls, as in most
implementations (no gradient flows through proposals in Mask R-CNN either).

Simplifications against the paper, for size and speed: one feature level (no FPN), no
batch normalisation, class-agnostic box offsets, one image size.

Typical use::

    model = MaskRCNN(num_classes=3, image_size=64)
    history = train_maskrcnn(model, data, seconds=120)     # data: make_shapes_dataset(...)
    detections = model.detect(images)                       # list of dicts per image
"""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import layers, ops
from scipy import ndimage

# Box offsets are divided by these before the network sees them (as in Faster R-CNN),
# so that the four targets have similar ranges.
BOX_STD = np.array([0.1, 0.1, 0.2, 0.2])


# ----------------------------------------------------------------------------- boxes (NumPy)
def _check_boxes(boxes, name):
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must be an array (n, 4) of boxes (y1, x1, y2, x2), got shape {boxes.shape}")
    return boxes


def make_anchors(feature_size, anchor_sizes, image_size, aspect_ratios=(1.0,)):
    """Anchor boxes centred on every feature cell, relative to the image.

    Args:
        feature_size: int, side of the (square) feature map.
        anchor_sizes: box sides in pixels, e.g. (8, 16, 32).
        image_size: int, side of the image in pixels.
        aspect_ratios: height / width ratios, e.g. (0.5, 1, 2); the area stays size^2.

    Returns:
        float64 (feature_size * feature_size * A, 4) boxes (y1, x1, y2, x2) in [0, 1]
        (they may reach outside), A = len(anchor_sizes) * len(aspect_ratios); ordered
        cell by cell (row-major), then anchor by anchor, as the RPN's outputs.
    """
    if feature_size < 1 or image_size < 1 or not len(anchor_sizes) or not len(aspect_ratios):
        raise ValueError("feature_size and image_size must be >= 1, anchor_sizes and aspect_ratios non-empty")
    centres = (np.arange(feature_size) + 0.5) / feature_size
    shapes = np.array([(size * np.sqrt(r), size / np.sqrt(r)) for size in anchor_sizes for r in aspect_ratios])
    shapes = shapes / image_size                                          # (A, 2) heights, widths
    cy, cx = np.meshgrid(centres, centres, indexing="ij")
    centre = np.stack([cy.ravel(), cx.ravel()], axis=1)[:, None, :]       # (cells, 1, 2)
    half = shapes[None, :, :] / 2                                         # (1, A, 2)
    return np.concatenate([centre - half, centre + half], axis=-1).reshape(-1, 4)


def box_iou(boxes_a, boxes_b):
    """IoU of every pair of boxes: (n, 4) and (m, 4) -> (n, m); empty boxes have IoU 0."""
    a, b = _check_boxes(boxes_a, "boxes_a"), _check_boxes(boxes_b, "boxes_b")
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def encode_boxes(boxes, anchors):
    """Offsets that move each anchor onto its box (Faster R-CNN's parametrisation).

    ``dy = (cy_box - cy_anchor) / h_anchor``, ``dx`` likewise, ``dh = log(h_box / h_anchor)``,
    ``dw`` likewise; then divided by ``BOX_STD``.

    Args:
        boxes, anchors: (n, 4) boxes (y1, x1, y2, x2) with positive sides.

    Returns:
        float64 (n, 4) offsets (dy, dx, dh, dw).
    """
    boxes, anchors = _check_boxes(boxes, "boxes"), _check_boxes(anchors, "anchors")
    if boxes.shape != anchors.shape:
        raise ValueError(f"boxes and anchors must have the same shape, got {boxes.shape} and {anchors.shape}")
    size_b, size_a = boxes[:, 2:] - boxes[:, :2], anchors[:, 2:] - anchors[:, :2]
    if (size_b <= 0).any() or (size_a <= 0).any():
        raise ValueError("boxes and anchors must have y2 > y1 and x2 > x1")
    centre_b, centre_a = boxes[:, :2] + size_b / 2, anchors[:, :2] + size_a / 2
    deltas = np.concatenate([(centre_b - centre_a) / size_a, np.log(size_b / size_a)], axis=1)
    return deltas / BOX_STD


def decode_boxes(deltas, anchors):
    """Inverse of ``encode_boxes``: apply offsets (n, 4) to anchors (n, 4) -> boxes (n, 4).

    The log-size offsets are clipped to [-4, 4] (a factor of at most e^4 = 55) after
    un-scaling, so that an untrained network cannot produce overflowing boxes.
    """
    deltas, anchors = _check_boxes(deltas, "deltas") * BOX_STD, _check_boxes(anchors, "anchors")
    size_a = anchors[:, 2:] - anchors[:, :2]
    centre = anchors[:, :2] + size_a / 2 + deltas[:, :2] * size_a
    size = size_a * np.exp(np.clip(deltas[:, 2:], -4.0, 4.0))   # clip: no overflow early in training
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def non_max_suppression(boxes, scores, iou_threshold=0.5, max_outputs=None):
    """Greedy NMS: keep the best box, drop boxes overlapping it by IoU > threshold, repeat.

    Args:
        boxes: (n, 4); scores: (n,); iou_threshold: float; max_outputs: int or None.

    Returns:
        int array of the kept indices, best score first.
    """
    boxes = _check_boxes(boxes, "boxes")
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"scores must have one entry per box ({len(boxes)}), got {len(scores)}")
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size and (max_outputs is None or len(keep) < max_outputs):
        best, order = order[0], order[1:]
        keep.append(best)
        order = order[box_iou(boxes[best:best + 1], boxes[order])[0] <= iou_threshold]
    return np.array(keep, dtype=np.int64)


# ----------------------------------------------------------------------------- RoIAlign (keras.ops)
def roi_align(feature_maps, boxes, output_size, sampling_ratio=2):
    """RoIAlign: crop each box out of the feature map and resample it to a fixed grid.

    Each box is split into ``output_size x output_size`` bins; each bin is the mean of
    ``sampling_ratio x sampling_ratio`` regularly spaced samples, each sample read by
    **bilinear interpolation** from the 4 nearest feature cells (no rounding anywhere,
    unlike RoIPool). Cell (i, j) of an (H, W) map sits at ``((i + 0.5) / H, (j + 0.5) / W)``
    in relative coordinates; samples beyond the outer cell centres take the border value.

    Args:
        feature_maps: float tensor (B, H, W, C).
        boxes: float tensor (B, R, 4), boxes (y1, x1, y2, x2) relative to the image.
        output_size: int P.
        sampling_ratio: int s, samples per bin along each axis.

    Returns:
        float tensor (B, R, P, P, C).
    """
    feature_maps = ops.convert_to_tensor(feature_maps)
    boxes = ops.cast(ops.convert_to_tensor(boxes), feature_maps.dtype)
    if len(feature_maps.shape) != 4 or len(boxes.shape) != 3 or boxes.shape[-1] != 4:
        raise ValueError(f"roi_align needs feature_maps (B, H, W, C) and boxes (B, R, 4), got shapes "
                         f"{tuple(feature_maps.shape)} and {tuple(boxes.shape)}")
    batch, height, width, channels = ops.shape(feature_maps)
    num_boxes = ops.shape(boxes)[1]
    n = output_size * sampling_ratio
    grid = (ops.cast(ops.arange(n), feature_maps.dtype) + 0.5) / n                   # (n,) in (0, 1)
    y1, x1, y2, x2 = (boxes[..., i:i + 1] for i in range(4))                         # (B, R, 1) each
    # sample positions in feature-cell index coordinates (cell centre i sits at i)
    ys = ops.clip((y1 + grid * (y2 - y1)) * ops.cast(height, boxes.dtype) - 0.5, 0, ops.cast(height - 1, boxes.dtype))
    xs = ops.clip((x1 + grid * (x2 - x1)) * ops.cast(width, boxes.dtype) - 0.5, 0, ops.cast(width - 1, boxes.dtype))
    y_low, x_low = ops.floor(ys), ops.floor(xs)
    wy, wx = ys - y_low, xs - x_low                                                  # (B, R, n)
    y_low, x_low = ops.cast(y_low, "int32"), ops.cast(x_low, "int32")
    y_high, x_high = ops.minimum(y_low + 1, height - 1), ops.minimum(x_low + 1, width - 1)

    flat = ops.reshape(feature_maps, (-1, channels))                                 # (B*H*W, C)
    offset = ops.reshape(ops.arange(batch, dtype="int32") * height * width, (-1, 1, 1, 1))

    def read(rows, cols):
        """Feature values at all (row, col) combinations: (B, R, n) x (B, R, n) -> (B, R, n, n, C)."""
        index = offset + rows[:, :, :, None] * width + cols[:, :, None, :]
        values = ops.take(flat, ops.reshape(index, (-1,)), axis=0)
        return ops.reshape(values, (batch, num_boxes, n, n, channels))

    wx_ = wx[:, :, None, :, None]
    top = read(y_low, x_low) * (1 - wx_) + read(y_low, x_high) * wx_
    bottom = read(y_high, x_low) * (1 - wx_) + read(y_high, x_high) * wx_
    wy_ = wy[:, :, :, None, None]
    samples = top * (1 - wy_) + bottom * wy_                                         # (B, R, n, n, C)
    bins = ops.reshape(samples, (batch, num_boxes, output_size, sampling_ratio, output_size, sampling_ratio,
                                 channels))
    return ops.mean(bins, axis=(3, 5))


# ----------------------------------------------------------------------------- the network
class MaskRCNN(keras.Model):
    """A small Mask R-CNN for square images (the synthetic shapes, 64 x 64 by default).

    ``model(inputs)`` with ``inputs = {"images": (B, S, S, 3), "rois": (B, R, 4)}`` (RoIs
    relative to the image) returns a dict of raw network outputs:

    - ``rpn_logits`` (B, N_anchors): objectness logit of every anchor;
    - ``rpn_deltas`` (B, N_anchors, 4): box offsets of every anchor;
    - ``class_logits`` (B, R, K + 1): class scores of each RoI (0 = background);
    - ``box_deltas`` (B, R, 4): refinement of each RoI (class-agnostic);
    - ``mask_logits`` (B, R, 28, 28, K): one mask per RoI and class.

    ``detect(images)`` runs the whole pipeline (proposals, heads, NMS, masks pasted into
    the image). ``compute_loss`` is the Mask R-CNN loss, used by ``train_on_batch``
    with the targets of ``make_training_targets``.

    Args:
        num_classes: K, the number of object classes (background excluded).
        image_size: side S of the square input images, a multiple of 4.
        anchor_sizes: anchor sides in pixels.
        width: channels of the backbone and the RPN.
        mask_width: channels of the mask head (the costliest part: it runs per RoI).
        rois_per_image: RoIs sampled per image for training the heads.
    """

    def __init__(self, num_classes, image_size=64, anchor_sizes=(8, 16, 32), width=64, mask_width=32,
                 rois_per_image=16, mask_size=28, **kwargs):
        super().__init__(**kwargs)
        if num_classes < 1 or image_size % 4 or image_size < 16:
            raise ValueError(f"num_classes must be >= 1 and image_size a multiple of 4 (>= 16), got "
                             f"num_classes={num_classes}, image_size={image_size}")
        self.num_classes, self.image_size, self.mask_size = num_classes, image_size, mask_size
        self.rois_per_image = rois_per_image
        self.feature_size = image_size // 4
        self.anchor_sizes = tuple(anchor_sizes)
        self.anchors = make_anchors(self.feature_size, self.anchor_sizes, image_size)
        num_anchors = len(self.anchor_sizes)

        def conv(filters, strides=1, name=None):
            return layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu", name=name)

        self.backbone = keras.Sequential([conv(width // 2), conv(width // 2, 2), conv(width), conv(width, 2),
                                          conv(width), conv(width)], name="backbone")
        self.rpn_conv = conv(width, name="rpn_conv")
        self.rpn_objectness = layers.Conv2D(num_anchors, 1, name="rpn_objectness")
        self.rpn_offsets = layers.Conv2D(num_anchors * 4, 1, name="rpn_offsets", kernel_initializer="zeros")
        self.box_head = keras.Sequential([layers.Flatten(), layers.Dense(256, activation="relu"),
                                          layers.Dense(256, activation="relu")], name="box_head")
        self.class_logits = layers.Dense(num_classes + 1, name="class_logits")
        self.box_offsets = layers.Dense(4, name="box_offsets", kernel_initializer="zeros")
        self.mask_head = keras.Sequential([conv(mask_width), conv(mask_width),
                                           layers.Conv2DTranspose(mask_width, 2, strides=2, activation="relu"),
                                           layers.Conv2D(num_classes, 1)], name="mask_head")

    # -- the network's parts
    def rpn(self, features):
        """Features (B, h, w, C) -> objectness logits (B, h*w*A), offsets (B, h*w*A, 4)."""
        hidden = self.rpn_conv(features)
        logits = ops.reshape(self.rpn_objectness(hidden), (ops.shape(features)[0], -1))
        deltas = ops.reshape(self.rpn_offsets(hidden), (ops.shape(features)[0], -1, 4))
        return logits, deltas

    def heads(self, features, rois):
        """Features (B, h, w, C), RoIs (B, R, 4) -> class logits (B, R, K+1), box offsets
        (B, R, 4), mask logits (B, R, 28, 28, K)."""
        batch, num_rois = ops.shape(rois)[0], ops.shape(rois)[1]
        box_features = roi_align(features, rois, 7)                                  # (B, R, 7, 7, C)
        box_features = ops.reshape(box_features, (-1, 7, 7, box_features.shape[-1]))
        hidden = self.box_head(box_features)
        class_logits = ops.reshape(self.class_logits(hidden), (batch, num_rois, self.num_classes + 1))
        box_deltas = ops.reshape(self.box_offsets(hidden), (batch, num_rois, 4))
        half = self.mask_size // 2
        mask_features = roi_align(features, rois, half)                              # (B, R, 14, 14, C)
        mask_features = ops.reshape(mask_features, (-1, half, half, mask_features.shape[-1]))
        mask_logits = ops.reshape(self.mask_head(mask_features),
                                  (batch, num_rois, self.mask_size, self.mask_size, self.num_classes))
        return class_logits, box_deltas, mask_logits

    def call(self, inputs):
        features = self.backbone(inputs["images"])
        rpn_logits, rpn_deltas = self.rpn(features)
        class_logits, box_deltas, mask_logits = self.heads(features, inputs["rois"])
        return {"rpn_logits": rpn_logits, "rpn_deltas": rpn_deltas, "class_logits": class_logits,
                "box_deltas": box_deltas, "mask_logits": mask_logits}

    # -- the loss
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Sum of the five Mask R-CNN losses; targets ``y`` from ``make_training_targets``.

        RPN: binary cross-entropy of the sampled anchors (label 1 object, 0 background,
        -1 ignored) + smooth-L1 (Huber) of the offsets of the positive anchors. Heads:
        cross-entropy of the RoI classes (-1: padding, ignored) + smooth-L1 of the
        positive RoIs' offsets + per-pixel binary cross-entropy of the 28x28 mask of the
        **true** class of each positive RoI (the other classes' masks get no loss: masks
        do not compete between classes).
        """
        losses = self.loss_terms(y, y_pred)
        return losses["total"]

    def loss_terms(self, y, y_pred):
        """The five loss terms and their sum (``total``), as a dict of scalar tensors."""
        def masked_mean(values, weights):
            weights = ops.cast(weights, values.dtype)
            return ops.sum(values * weights) / ops.maximum(ops.sum(weights), 1.0)

        def smooth_l1(target, pred):
            error = ops.abs(target - pred)
            return ops.sum(ops.where(error < 1.0, 0.5 * error ** 2, error - 0.5), axis=-1)

        rpn_labels = ops.cast(y["rpn_labels"], "float32")
        rpn_class = masked_mean(ops.binary_crossentropy(ops.maximum(rpn_labels, 0.0)[..., None],
                                                        y_pred["rpn_logits"][..., None], from_logits=True)[..., 0],
                                rpn_labels >= 0)
        rpn_box = masked_mean(smooth_l1(ops.cast(y["rpn_deltas"], "float32"), y_pred["rpn_deltas"]),
                              rpn_labels > 0)
        class_ids = ops.cast(y["class_ids"], "int32")
        head_class = masked_mean(ops.sparse_categorical_crossentropy(ops.maximum(class_ids, 0),
                                                                     y_pred["class_logits"], from_logits=True),
                                 class_ids >= 0)
        head_box = masked_mean(smooth_l1(ops.cast(y["box_deltas"], "float32"), y_pred["box_deltas"]),
                               class_ids > 0)
        # the mask of each RoI's true class: (B, R, 28, 28)
        pick = ops.one_hot(ops.maximum(class_ids - 1, 0), self.num_classes)[:, :, None, None, :]
        mask_logits = ops.sum(y_pred["mask_logits"] * pick, axis=-1)
        pixel_loss = ops.binary_crossentropy(ops.cast(y["masks"], "float32")[..., None], mask_logits[..., None],
                                             from_logits=True)[..., 0]
        head_mask = masked_mean(ops.mean(pixel_loss, axis=(2, 3)), class_ids > 0)
        terms = {"rpn_class": rpn_class, "rpn_box": rpn_box, "head_class": head_class, "head_box": head_box,
                 "head_mask": head_mask}
        terms["total"] = sum(terms.values())
        return terms

    # -- proposals and detection (NumPy around the network)
    def propose(self, rpn_logits, rpn_deltas, pre_nms=200, post_nms=32, nms_threshold=0.7):
        """RPN outputs of one image -> proposals (≤ post_nms, 4): decode the best
        ``pre_nms`` anchors, clip to the image, drop empty boxes, NMS."""
        best = np.argsort(-rpn_logits)[:pre_nms]
        boxes = np.clip(decode_boxes(rpn_deltas[best], self.anchors[best]), 0.0, 1.0)
        sides = boxes[:, 2:] - boxes[:, :2]
        valid = (sides > 1.0 / self.image_size).all(axis=1)
        boxes, scores = boxes[valid], rpn_logits[best][valid]
        return boxes[non_max_suppression(boxes, scores, nms_threshold, post_nms)]

    def detect(self, images, score_threshold=0.05, nms_threshold=0.5, max_detections=20, proposals=32):
        """Instances in each image: masks, boxes (pixels), class ids and scores.

        Proposals from the RPN, the box head's class and refined box for each, per-class
        NMS, then the mask head on the final boxes; each 28x28 mask is resized to its box
        (bilinear) and thresholded at 0.5.

        Args:
            images: float (B, S, S, 3) in [0, 1].
            score_threshold: lowest class probability kept (low for AP evaluation).

        Returns:
            list of B dicts with ``masks`` bool (n, S, S), ``boxes`` float (n, 4) in pixels
            (y1, x1, y2, x2), ``class_ids`` int (n,) in 1..K and ``scores`` float (n,),
            best score first.
        """
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"images must be an array (B, {self.image_size}, {self.image_size}, 3), "
                             f"got shape {images.shape}")
        features = self.backbone(images)
        rpn_logits, rpn_deltas = (ops.convert_to_numpy(t) for t in self.rpn(features))
        rois = np.zeros((len(images), proposals, 4), dtype=np.float32)
        for i in range(len(images)):
            found = self.propose(rpn_logits[i], rpn_deltas[i], post_nms=proposals)
            rois[i, :len(found)] = found
        class_logits, box_deltas, _ = (ops.convert_to_numpy(t) for t in self.heads(features, rois))
        probabilities = np.exp(class_logits - class_logits.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        kept = []
        for i in range(len(images)):
            real = (rois[i, :, 2:] > rois[i, :, :2]).all(axis=1)
            boxes = np.clip(decode_boxes(box_deltas[i], np.where(real[:, None], rois[i], [0, 0, 1, 1])), 0, 1)
            classes = probabilities[i, :, 1:].argmax(-1) + 1
            scores = probabilities[i, np.arange(len(classes)), classes] * real
            chosen = []
            for class_id in np.unique(classes[scores >= score_threshold]):
                index = np.flatnonzero((classes == class_id) & (scores >= score_threshold))
                chosen.extend(index[non_max_suppression(boxes[index], scores[index], nms_threshold)])
            chosen = sorted(chosen, key=lambda k: -scores[k])[:max_detections]
            kept.append((boxes[chosen], classes[chosen], scores[chosen]))
        # the mask head on the final boxes
        final = np.zeros((len(images), max(1, max(len(k[0]) for k in kept)), 4), dtype=np.float32)
        for i, (boxes, _, _) in enumerate(kept):
            final[i, :len(boxes)] = boxes
        _, _, mask_logits = self.heads(features, final)
        mask_probabilities = 1 / (1 + np.exp(-ops.convert_to_numpy(mask_logits)))
        results = []
        for i, (boxes, classes, scores) in enumerate(kept):
            masks = np.stack([paste_mask(mask_probabilities[i, k, :, :, c - 1], box, self.image_size)
                              for k, (box, c) in enumerate(zip(boxes, classes))]) if len(boxes) else \
                np.zeros((0, self.image_size, self.image_size), dtype=bool)
            results.append({"masks": masks, "boxes": boxes * self.image_size, "class_ids": classes.astype(np.int32),
                            "scores": scores.astype(np.float64)})
        return results


# ----------------------------------------------------------------------------- masks <-> boxes (NumPy)
def crop_mask(mask, box, size):
    """A binary mask (H, W) read inside ``box`` (relative) on a size x size grid, bilinear,
    thresholded at 0.5: the training target of the mask head. Returns float32 (size, size)."""
    height, width = mask.shape
    grid = (np.arange(size) + 0.5) / size
    rows = (box[0] + grid * (box[2] - box[0])) * height - 0.5
    cols = (box[1] + grid * (box[3] - box[1])) * width - 0.5
    coords = np.meshgrid(rows, cols, indexing="ij")
    values = ndimage.map_coordinates(mask.astype(np.float32), coords, order=1, mode="nearest")
    return (values >= 0.5).astype(np.float32)


def paste_mask(mask_probabilities, box, image_size):
    """A (m, m) mask of probabilities for ``box`` (relative) -> bool (S, S) image mask:
    every image pixel inside the box reads the mask bilinearly; >= 0.5 is the object."""
    size = mask_probabilities.shape[0]
    out = np.zeros((image_size, image_size), dtype=bool)
    y1, x1, y2, x2 = box
    if y2 <= y1 or x2 <= x1:
        return out
    r0, c0 = int(np.floor(y1 * image_size)), int(np.floor(x1 * image_size))
    r1, c1 = int(np.ceil(y2 * image_size)), int(np.ceil(x2 * image_size))
    centres_r = (np.arange(r0, r1) + 0.5) / image_size
    centres_c = (np.arange(c0, c1) + 0.5) / image_size
    u = (centres_r - y1) / (y2 - y1) * size - 0.5          # position on the mask grid
    v = (centres_c - x1) / (x2 - x1) * size - 0.5
    coords = np.meshgrid(u, v, indexing="ij")
    values = ndimage.map_coordinates(mask_probabilities, coords, order=1, mode="nearest")
    inside = ((centres_r >= y1) & (centres_r < y2))[:, None] & ((centres_c >= x1) & (centres_c < x2))[None, :]
    out[r0:r1, c0:c1] = (values >= 0.5) & inside
    return out


# ----------------------------------------------------------------------------- training targets (NumPy)
def rpn_targets(anchors, true_boxes, rng, samples=64, positive_fraction=0.5):
    """Labels and offsets of every anchor for one image (Faster R-CNN's rules).

    An anchor is positive (1) if its IoU with a true box is >= 0.7 or it is that box's
    best anchor; negative (0) if its best IoU is < 0.3; else ignored (-1). Then at most
    ``samples`` anchors keep their labels (up to ``positive_fraction`` positives), the
    others are set to -1 so that the many easy negatives do not swamp the loss.

    Returns:
        labels int8 (N,), offsets float32 (N, 4) (zeros except for positives).
    """
    labels = -np.ones(len(anchors), dtype=np.int8)
    deltas = np.zeros((len(anchors), 4), dtype=np.float32)
    if len(true_boxes) == 0:
        labels[rng.choice(len(anchors), samples, replace=False)] = 0
        return labels, deltas
    iou = box_iou(anchors, true_boxes)                           # (N, G)
    best = iou.max(axis=1)
    labels[best < 0.3] = 0
    labels[best >= 0.7] = 1
    labels[iou.argmax(axis=0)] = 1                               # every box gets an anchor
    positives = np.flatnonzero(labels == 1)
    if len(positives) > samples * positive_fraction:
        labels[rng.choice(positives, len(positives) - int(samples * positive_fraction), replace=False)] = -1
    negatives = np.flatnonzero(labels == 0)
    keep = samples - int(np.sum(labels == 1))
    if len(negatives) > keep:
        labels[rng.choice(negatives, len(negatives) - keep, replace=False)] = -1
    positives = np.flatnonzero(labels == 1)
    deltas[positives] = encode_boxes(true_boxes[iou[positives].argmax(axis=1)], anchors[positives])
    return labels, deltas


def head_targets(proposals, true_boxes, true_classes, true_masks, rng, rois_per_image=16,
                 positive_fraction=0.5, mask_size=28):
    """Sample the RoIs of one image for the heads, with their targets.

    The true boxes are added to the proposals (the heads then see good boxes from the
    first step on). A RoI with IoU >= 0.5 to a true box is positive (that box's class,
    offsets and mask cropped to the RoI), below 0.5 background (class 0). At most
    ``positive_fraction`` of the RoIs are positive; missing RoIs are padding (class -1).

    Returns:
        rois float32 (R, 4), class_ids int32 (R,), box_deltas float32 (R, 4),
        masks float32 (R, m, m).
    """
    candidates = np.concatenate([proposals, true_boxes], axis=0)
    iou = box_iou(candidates, true_boxes)
    best_iou, best_box = iou.max(axis=1), iou.argmax(axis=1)
    positives = rng.permutation(np.flatnonzero(best_iou >= 0.5))[:int(rois_per_image * positive_fraction)]
    negatives = rng.permutation(np.flatnonzero(best_iou < 0.5))[:rois_per_image - len(positives)]
    rois = np.zeros((rois_per_image, 4), dtype=np.float32)
    class_ids = -np.ones(rois_per_image, dtype=np.int32)
    box_deltas = np.zeros((rois_per_image, 4), dtype=np.float32)
    masks = np.zeros((rois_per_image, mask_size, mask_size), dtype=np.float32)
    for slot, index in enumerate(np.concatenate([positives, negatives]).astype(int)):
        rois[slot] = candidates[index]
        if best_iou[index] >= 0.5:
            k = best_box[index]
            class_ids[slot] = true_classes[k]
            box_deltas[slot] = encode_boxes(true_boxes[k:k + 1], candidates[index:index + 1])[0]
            masks[slot] = crop_mask(true_masks[k], candidates[index], mask_size)
        else:
            class_ids[slot] = 0
    return rois, class_ids, box_deltas, masks


def jitter_boxes(boxes, rng, copies=2, scale=0.15, image_size=64):
    """``copies`` randomly shifted and resized copies of each box (relative coordinates):
    centres move and sides change by up to ``scale`` of the side. They give the heads
    varied, mostly positive RoIs while the young RPN still proposes poor boxes."""
    if len(boxes) == 0 or copies == 0:
        return np.zeros((0, 4))
    boxes = np.repeat(boxes, copies, axis=0)
    sides = boxes[:, 2:] - boxes[:, :2]
    centres = boxes[:, :2] + sides / 2 + rng.uniform(-scale, scale, size=sides.shape) * sides
    sides = sides * np.exp(rng.uniform(-scale, scale, size=sides.shape))
    sides = np.maximum(sides, 2.0 / image_size)
    return np.clip(np.concatenate([centres - sides / 2, centres + sides / 2], axis=1), 0.0, 1.0)


def make_training_targets(model, batch, rng, proposals=None, jitter_copies=2):
    """Inputs and targets for one ``train_on_batch`` step.

    Args:
        model: a ``MaskRCNN``.
        batch: dict as from ``toy_shapes.make_shapes_dataset`` (images, boxes in
            pixels, class_ids with 0 padding, instance_masks).
        rng: numpy Generator for the sampling.
        proposals: list of (n_i, 4) proposals per image (relative), or None to run the
            model's RPN now.
        jitter_copies: jittered copies of each true box added to the proposals
            (``jitter_boxes``).

    Returns:
        (inputs, targets): ``inputs = {"images", "rois"}``; ``targets`` with
        ``rpn_labels``, ``rpn_deltas``, ``class_ids``, ``box_deltas``, ``masks``.
    """
    images = np.asarray(batch["images"], dtype=np.float32)
    if proposals is None:
        rpn_logits, rpn_deltas = (ops.convert_to_numpy(t) for t in model.rpn(model.backbone(images)))
        proposals = [model.propose(rpn_logits[i], rpn_deltas[i]) for i in range(len(images))]
    inputs = {"images": images, "rois": []}
    size = model.image_size
    targets = {key: [] for key in ("rpn_labels", "rpn_deltas", "class_ids", "box_deltas", "masks")}
    for i in range(len(images)):
        real = batch["class_ids"][i] > 0
        true_boxes = batch["boxes"][i][real].astype(np.float64) / model.image_size
        labels, deltas = rpn_targets(model.anchors, true_boxes, rng)
        rois, class_ids, box_deltas, masks = head_targets(
            np.concatenate([proposals[i], jitter_boxes(true_boxes, rng, copies=jitter_copies, image_size=size)]),
            true_boxes, batch["class_ids"][i][real], batch["instance_masks"][i][real], rng,
            model.rois_per_image, mask_size=model.mask_size)
        inputs["rois"].append(rois)
        for key, value in zip(targets, (labels, deltas, class_ids, box_deltas, masks)):
            targets[key].append(value)
    inputs["rois"] = np.stack(inputs["rois"])
    return inputs, {key: np.stack(value) for key, value in targets.items()}


def train_maskrcnn(model, data, seconds=60.0, max_steps=None, batch_size=8, learning_rate=1e-3, seed=0,
                   log_every=0, clock="wall", eager=False):
    """Train ``model`` on a shapes data set for a wall-clock budget.

    Each step: draw a batch, let the current RPN propose boxes, sample targets
    (``make_training_targets``), one ``train_on_batch`` with Adam.

    Args:
        model: a ``MaskRCNN`` (compiled here if it is not yet).
        data: dict from ``toy_shapes.make_shapes_dataset`` (size = model.image_size).
        seconds: training budget in seconds (the step that passes it still finishes).
        clock: "wall" (elapsed time) or "cpu" (CPU time of this process, all threads:
            fair on a machine shared with other work, which slows the wall clock).
        eager: run the steps eagerly (``run_eagerly=True``): no graph tracing before the
            first step (tens of seconds), but slower steps; for budgets under a few minutes.
        max_steps: optional cap on the number of steps.
        log_every: print the losses every this many steps (0: never).

    Returns:
        dict with ``steps``, ``seconds`` (training time, wall clock), ``cpu_seconds`` and ``losses`` (the total loss
        of each step, before its update).
    """
    if data["images"].shape[1:3] != (model.image_size, model.image_size):
        raise ValueError(f"data images are {data['images'].shape[1:3]}, the model expects "
                         f"{(model.image_size, model.image_size)}: make the data set with size={model.image_size}")
    if not model.compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=5.0), jit_compile=False,
                      run_eagerly=eager)
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    rng = np.random.default_rng(seed)
    history, started, cpu_started, step = [], time.perf_counter(), time.process_time(), 0

    def elapsed():
        return time.perf_counter() - started if clock == "wall" else time.process_time() - cpu_started

    while elapsed() < seconds and (max_steps is None or step < max_steps):
        index = rng.choice(len(data["images"]), batch_size, replace=len(data["images"]) < batch_size)
        batch = {key: value[index] for key, value in data.items()}
        inputs, targets = make_training_targets(model, batch, rng)
        total = model.train_on_batch(inputs, targets)
        history.append(float(np.ravel(total)[0]))
        if log_every and step % log_every == 0:
            terms = model.loss_terms(targets, model(inputs))        # one more forward pass, for the log
            print(f"step {step:4d}  " + "  ".join(f"{k} {float(ops.convert_to_numpy(v)):.3f}"
                                                 for k, v in terms.items()), flush=True)
        step += 1
    return {"steps": step, "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started, "losses": history}
