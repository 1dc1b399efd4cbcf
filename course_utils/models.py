"""The lecture's page-segmentation networks, written with Keras 3 layers only.

- ``build_patch_cnn``: the sliding-window classifier. It sees one small patch and predicts
  the class of the patch's centre pixel.
- ``convolutionalize``: the same patch classifier turned into a fully convolutional
  network that classifies every window of a page (stride 8) in one forward pass.
- ``build_fcn_upscaling``: the fully convolutional network. It sees the whole page,
  encodes it to ``h/8 x w/8 x 80`` and up-scales the encoding 8x (nearest neighbour) to a
  class probability per pixel.
- ``build_fcn_skip_upscaling`` and ``build_fcn_transposed_skip``: the FCN with skip
  connections, up-sampling by up-scaling or by transposed convolutions.
- ``build_unet``: the U-Net of Ronneberger et al. (2015).
- ``build_deconvnet``: an encoder-decoder that up-samples by max-unpooling (DeconvNet).
- ``build_autoencoder``: the lecture's insertion "FCN for compression" with
  ``compression_ratio`` and ``reconstruction_error``.

All use only ``keras`` layers and ``keras.ops`` (no ``tf.*``), so they run on any Keras
backend. Segmentation networks take ``output="softmax"`` (class probabilities per pixel)
or ``output="logits"`` (the scores before the softmax). Train logits with
``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``: it is numerically more
stable, and it avoids a known failure of softmax + sparse cross-entropy on the PyTorch
backend.
"""

import math

import keras
import numpy as np
from keras import layers

from course_utils.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D

_OUTPUTS = ("softmax", "logits")
_PADDINGS = ("same", "valid")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _page_input(num_channels, input_size, multiple):
    """``keras.Input`` of a page; ``input_size`` None means any height and width.

    A fixed ``(height, width)`` must be divisible by ``multiple`` (the network's total
    stride), because the skip connections and unpoolings need the encoder's and the
    decoder's sizes to match.
    """
    _check_int("num_channels", num_channels, 1)
    if input_size is None:
        return keras.Input(shape=(None, None, num_channels), name="page")
    if not isinstance(input_size, (tuple, list)) or len(input_size) != 2:
        raise ValueError(f"input_size must be None or (height, width), got {input_size!r}")
    for size in input_size:
        is_int = isinstance(size, int) and not isinstance(size, bool)
        if not is_int or size < multiple or size % multiple:
            raise ValueError(
                f"input_size must be (height, width) with both sizes positive multiples of "
                f"{multiple} (the network's total stride), got {tuple(input_size)}"
            )
    return keras.Input(shape=(*input_size, num_channels), name="page")


def _classifier_head(features, num_classes, output):
    """1x1 convolution to ``num_classes`` scores per pixel, then softmax unless logits."""
    logits = layers.Conv2D(num_classes, (1, 1), name="logits")(features)
    if output == "logits":
        return logits
    return layers.Activation("softmax", name="softmax")(logits)


def _patch_cnn_feature_size(patch_size, padding):
    """Side of the patch CNN's last feature map (before Flatten)."""
    size = patch_size
    for kernel in (3, 4, 4):
        if padding == "valid":
            size -= kernel - 1
        size //= 2  # 2x2 max pooling, stride 2, drops an odd last row
    return size


def build_patch_cnn(patch_size=32, num_classes=4, num_channels=1, dropout=0.5, padding="same"):
    """The lecture's sliding-window patch classifier (slide "Sliding-Window: Example").

    Conv(40, 3x3) - MaxPool 2x2 - Conv(40, 4x4) - MaxPool 2x2 - Conv(80, 4x4) - MaxPool 2x2
    - Flatten - Dense(100, ReLU) - Dropout - Dense(num_classes, softmax). All convolutions
    use ReLU and, as on the slide, ``padding='same'``. The slide's pseudo-code says 3x3 for
    all three convolutions while its Keras code uses 4x4 for the second and third; this
    function follows the Keras code.

    ``padding='valid'`` is not on the slide: then the network never looks past the border
    of its patch (no zero padding inside the network), which makes
    ``convolutionalize(model)`` compute exactly the same as the sliding window (see there).

    Args:
        patch_size: side of the square input patch in pixels, int >= 8 and a multiple of
            8 (three 2x2 poolings halve it three times); with ``padding='valid'`` at
            least 32 (the convolutions shrink the patch: 32 -> 1 x 1 x 80 features).
        num_classes: number of pixel classes, int >= 2.
        num_channels: channels of the input image, int >= 1 (1 for binary pages).
        dropout: dropout rate before the output layer, float in [0, 1).
        padding: ``'same'`` (the slide) or ``'valid'`` for the convolutions.

    Returns:
        An uncompiled ``keras.Sequential`` named ``"patch_cnn"``. Input: float32 batch
        (batch, patch_size, patch_size, num_channels). Output: float32 (batch,
        num_classes), class probabilities of each patch's centre pixel (rows sum to 1).

    Raises:
        ValueError: if an argument is out of range.
    """
    _check_int("patch_size", patch_size, 8)
    if patch_size % 8:
        raise ValueError(f"patch_size must be a multiple of 8, got {patch_size}")
    _check_int("num_classes", num_classes, 2)
    _check_int("num_channels", num_channels, 1)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    _check_choice("padding", padding, _PADDINGS)
    if _patch_cnn_feature_size(patch_size, padding) < 1:
        raise ValueError(
            f"patch_size must be >= 32 with padding='valid' (the convolutions shrink the "
            f"patch to nothing), got {patch_size}"
        )
    return keras.Sequential(
        [
            keras.Input(shape=(patch_size, patch_size, num_channels), name="patch"),
            layers.Conv2D(40, (3, 3), padding=padding, activation="relu", name="conv1"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool1"),
            layers.Conv2D(40, (4, 4), padding=padding, activation="relu", name="conv2"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool2"),
            layers.Conv2D(80, (4, 4), padding=padding, activation="relu", name="conv3"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool3"),
            layers.Flatten(name="flatten"),
            layers.Dense(100, activation="relu", name="dense"),
            layers.Dropout(dropout, name="dropout"),
            layers.Dense(num_classes, activation="softmax", name="softmax"),
        ],
        name="patch_cnn",
    )


def build_fcn_upscaling(num_classes=4, num_channels=1):
    """The lecture's FCN with one 8x up-scaling layer (slide "FCN-Upscaling: Example").

    Encoder: Conv(40, 3x3) - MaxPool 2x2 - Conv(40, 4x4) - MaxPool 2x2 - Conv(80, 4x4) -
    MaxPool 2x2, giving ``h/8 x w/8 x 80``. Decoder: UpSampling2D 8x8 (nearest neighbour,
    no parameters) - Conv(num_classes, 1x1) - softmax per pixel. Convolutions use
    ``padding='same'``; the encoder's use ReLU. As on the slide, the second and third
    convolutions are 4x4 (the slide's pseudo-code says 3x3).

    Args:
        num_classes: number of pixel classes, int >= 2.
        num_channels: channels of the input image, int >= 1 (1 for binary pages).

    Returns:
        An uncompiled ``keras.Sequential`` named ``"fcn_upscaling"``. Input: float32 batch
        (batch, h, w, num_channels) of any h, w that are multiples of 8 (other sizes lose
        up to 7 rows/columns in the poolings; ``sliding_window.predict_fcn`` pads pages for
        you). Output: float32 (batch, h, w, num_classes), class probabilities per pixel.

    Raises:
        ValueError: if an argument is out of range.
    """
    _check_int("num_classes", num_classes, 2)
    _check_int("num_channels", num_channels, 1)
    return keras.Sequential(
        [
            keras.Input(shape=(None, None, num_channels), name="page"),
            layers.Conv2D(40, (3, 3), padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool1"),
            layers.Conv2D(40, (4, 4), padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool2"),
            layers.Conv2D(80, (4, 4), padding="same", activation="relu", name="conv3"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool3"),
            layers.UpSampling2D((8, 8), interpolation="nearest", name="upsample"),
            layers.Conv2D(num_classes, (1, 1), name="classifier"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="fcn_upscaling",
    )


def _slide_encoder(page):
    """The encoder shared by the two skip-connection slides: conv1..pool3, fc4, fc5.

    Returns ``(conv1, conv2, conv3, fc5)``: the features at full, 1/2 and 1/4 resolution
    that the skip connections reuse, and the 1/8 resolution encoding.
    """
    conv1 = layers.Conv2D(40, (3, 3), padding="same", activation="relu", name="conv1")(page)
    pool1 = layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool1")(conv1)
    conv2 = layers.Conv2D(80, (4, 4), padding="same", activation="relu", name="conv2")(pool1)
    pool2 = layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool2")(conv2)
    conv3 = layers.Conv2D(80, (4, 4), padding="same", activation="relu", name="conv3")(pool2)
    pool3 = layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool3")(conv3)
    # "fc" layers: 1x1 convolutions act like dense layers applied to every position.
    fc4 = layers.Conv2D(160, (1, 1), padding="same", activation="relu", name="fc4")(pool3)
    fc5 = layers.Conv2D(160, (1, 1), padding="same", activation="relu", name="fc5")(fc4)
    return conv1, conv2, conv3, fc5


def _skip_fcn(name, num_classes, num_channels, output, input_size, upsampling):
    """The network of both skip-connection slides, named ``name``: ``_slide_encoder``, then
    for level 1, 2, 3 a new layer ``upsampling(level)`` (doubling height and width, named
    ``up<level>``) concatenated with conv3, conv2, conv1 in turn (``fuse2``-``fuse4``), then
    the classifier. Layers are made in that order, so a seed gives the same weights."""
    _check_int("num_classes", num_classes, 2)
    _check_choice("output", output, _OUTPUTS)
    page = _page_input(num_channels, input_size, multiple=8)
    conv1, conv2, conv3, fc5 = _slide_encoder(page)
    fused = fc5
    for level, skip in zip((1, 2, 3), (conv3, conv2, conv1)):
        upsampled = upsampling(level)(fused)
        fused = layers.Concatenate(axis=-1, name=f"fuse{level + 1}")([upsampled, skip])
    scores = _classifier_head(fused, num_classes, output)
    return keras.Model(inputs=page, outputs=scores, name=name)


def build_fcn_skip_upscaling(num_classes=4, num_channels=1, output="softmax", input_size=None):
    """The FCN with skip connections and up-scaling (slide "Keras: Skip-Connections").

    Encoder: conv1 Conv(40, 3x3) - pool1 - conv2 Conv(80, 4x4) - pool2 - conv3 Conv(80, 4x4)
    - pool3 - fc4 Conv(160, 1x1) - fc5 Conv(160, 1x1), all ReLU and ``padding='same'``,
    pools 2x2 with stride 2. Decoder: three times "UpSampling 2x2 (nearest), then
    concatenate the encoder features of that resolution" (conv3, conv2, conv1), then a
    1x1 convolution to ``num_classes`` and a softmax. The skip connections bring back the
    fine detail that the 8x up-scaling of ``build_fcn_upscaling`` loses.

    Channels: up1 160 + conv3 80 = 240; up2 240 + conv2 80 = 320; up3 320 + conv1 40 = 360.

    Args:
        num_classes: number of pixel classes, int >= 2.
        num_channels: channels of the input image, int >= 1 (1 for binary pages).
        output: ``"softmax"`` for class probabilities or ``"logits"`` for the scores
            before the softmax (train with ``from_logits=True``).
        input_size: None (any page size) or a fixed ``(height, width)``, both multiples
            of 8.

    Returns:
        An uncompiled functional ``keras.Model`` named ``"fcn_skip_upscaling"``. Input:
        float32 (batch, h, w, num_channels) with h and w multiples of 8 (else the
        concatenations fail; ``sliding_window.predict_fcn`` pads pages for you). Output:
        float32 (batch, h, w, num_classes).

    Raises:
        ValueError: if an argument is out of range.
    """
    return _skip_fcn("fcn_skip_upscaling", num_classes, num_channels, output, input_size,
                     lambda level: layers.UpSampling2D((2, 2), interpolation="nearest", name=f"up{level}"))


def build_fcn_transposed_skip(num_classes=4, num_channels=1, output="softmax", input_size=None):
    """The FCN with skip connections and transposed convolutions (slide "FCN-Conv^T-Skip").

    The encoder of ``build_fcn_skip_upscaling``; the decoder up-samples with learned
    transposed convolutions (3x3, stride 2, ``padding='same'``, which exactly doubles
    height and width) instead of parameter-free up-scaling: Conv2DTranspose(80) - concat
    conv3 - Conv2DTranspose(80) - concat conv2 - Conv2DTranspose(40) - concat conv1 - 1x1
    convolution to ``num_classes`` - softmax. As on the slide, the transposed convolutions
    have no activation. (The slide writes ``Conv2DTransposed``; the Keras layer is
    ``Conv2DTranspose``.)

    Channels: up1 80 + conv3 80 = 160; up2 80 + conv2 80 = 160; up3 40 + conv1 40 = 80.

    Args:
        num_classes: number of pixel classes, int >= 2.
        num_channels: channels of the input image, int >= 1 (1 for binary pages).
        output: ``"softmax"`` or ``"logits"`` (see ``build_fcn_skip_upscaling``).
        input_size: None (any page size) or a fixed ``(height, width)``, both multiples
            of 8.

    Returns:
        An uncompiled functional ``keras.Model`` named ``"fcn_transposed_skip"``. Input:
        float32 (batch, h, w, num_channels), h and w multiples of 8. Output: float32
        (batch, h, w, num_classes).

    Raises:
        ValueError: if an argument is out of range.
    """
    filters = {1: 80, 2: 80, 3: 40}   # of up1, up2, up3
    return _skip_fcn("fcn_transposed_skip", num_classes, num_channels, output, input_size,
                     lambda level: layers.Conv2DTranspose(filters[level], (3, 3), strides=2, padding="same",
                                                          name=f"up{level}"))


def unet_output_size(input_size, depth=4, padding="valid"):
    """Output height (or width) of ``build_unet`` for an input of ``input_size`` pixels.

    With ``padding='same'`` the output has the input's size, which must be divisible by
    ``2**depth``. With ``padding='valid'`` (the paper) every 3x3 convolution removes a
    1-pixel border, so each level loses 4 pixels on the way down and 4 on the way up::

        encoder level:  n -> n - 4, then 2x2 pooling -> (n - 4) / 2
        bottleneck:     n -> n - 4
        decoder level:  n -> 2 n (transposed conv), then n -> n - 4

    e.g. 572 -> 388 for depth 4 (the paper's Fig. 1). Every pooling must see an even
    size, so that the skip features can be cropped symmetrically around the centre.

    Args:
        input_size: input height or width in pixels, int >= 1.
        depth: number of 2x2 poolings (levels below the top), int >= 1.
        padding: ``'same'`` or ``'valid'``.

    Returns:
        int: output height or width in pixels.

    Raises:
        ValueError: if the size does not fit the network (not divisible by ``2**depth``
            for ``'same'``; an odd size before a pooling or nothing left for
            ``'valid'``), or an argument is out of range.
    """
    _check_int("input_size", input_size, 1)
    _check_int("depth", depth, 1)
    _check_choice("padding", padding, _PADDINGS)
    if padding == "same":
        if input_size % 2**depth:
            raise ValueError(
                f"input_size must be a multiple of 2**depth = {2**depth} with padding="
                f"'same', got {input_size}"
            )
        return input_size
    size = input_size
    for level in range(depth):
        size -= 4
        if size < 2 or size % 2:
            raise ValueError(
                f"input_size {input_size} does not fit a valid-padded U-Net of depth "
                f"{depth}: level {level} pools a size of {size} (must be even and >= 2)"
            )
        size //= 2
    size -= 4  # bottleneck
    for _ in range(depth):
        if size < 1:
            break
        size = 2 * size - 4
    if size < 1:
        raise ValueError(
            f"input_size {input_size} is too small for a valid-padded U-Net of depth {depth}"
        )
    return size


def _unet_crop_margins(depth):
    """Pixels to crop from each skip feature map (total over both sides), top level first.

    With valid padding the decoder is smaller than the encoder features it joins by a
    margin that does not depend on the input size: at the deepest level the bottleneck's
    two convolutions lose 4 pixels at half resolution, i.e. 8 after the up-convolution;
    one level up the margin doubles and grows by the 4 + 4 pixels of the two levels'
    convolutions, twice: margin_above = 2 * margin + 16. (Paper, depth 4: 176, 80, 32, 8.)
    """
    margins = [8]
    for _ in range(depth - 1):
        margins.append(2 * margins[-1] + 16)
    return margins[::-1]


def _conv_block(features, filters, padding, batch_norm, name, transposed=False, count=2,
                batch_norm_momentum=0.99):
    """``count`` times 3x3 convolution + ReLU (+ batch normalization before the ReLU)."""
    conv_layer = layers.Conv2DTranspose if transposed else layers.Conv2D
    if isinstance(filters, int):
        filters = [filters] * count
    for index, block_filters in enumerate(filters, start=1):
        # Batch normalization has its own shift, so the convolution's bias is redundant.
        features = conv_layer(
            block_filters, (3, 3), padding=padding, use_bias=not batch_norm,
            name=f"{name}_conv{index}",
        )(features)
        if batch_norm:
            features = layers.BatchNormalization(momentum=batch_norm_momentum,
                                                 name=f"{name}_bn{index}")(features)
        features = layers.Activation("relu", name=f"{name}_relu{index}")(features)
    return features


def build_unet(
    num_classes=4,
    num_channels=1,
    depth=4,
    base_filters=16,
    padding="same",
    batch_norm=False,
    output="softmax",
    input_size=None,
    batch_norm_momentum=0.99,
):
    """U-Net (Ronneberger, Fischer, Brox 2015): encoder, bottleneck, mirrored decoder.

    Encoder level ``i`` (0 = top): two 3x3 convolutions with ``base_filters * 2**i``
    filters and ReLU, then 2x2 max pooling. Bottleneck: two 3x3 convolutions with
    ``base_filters * 2**depth`` filters. Decoder level ``i`` (deepest first): 2x2
    transposed convolution with stride 2 ("up-convolution", halves the channels to
    ``base_filters * 2**i``), concatenation with the encoder features of level ``i``,
    two 3x3 convolutions. Last: 1x1 convolution to ``num_classes`` and softmax. The
    paper has ``depth=4, base_filters=64, padding='valid'``.

    With ``padding='valid'`` (the paper) the output is smaller than the input (e.g.
    572 -> 388, see ``unet_output_size``) and the encoder features are center-cropped to
    the decoder's size before the concatenation. Segment a large image in overlapping
    tiles then (the paper's "overlap-tile" strategy).

    Args:
        num_classes: number of pixel classes, int >= 2.
        num_channels: channels of the input image, int >= 1.
        depth: number of poolings, int >= 1.
        base_filters: filters of the top level, int >= 1; doubled at every level down.
        padding: ``'same'`` (output size = input size) or ``'valid'`` (the paper).
        batch_norm: batch normalization after every 3x3 convolution (not in the paper;
            helps training from scratch).
        output: ``"softmax"`` or ``"logits"``.
        input_size: None (any size that fits) or a fixed ``(height, width)``.
        batch_norm_momentum: momentum of the moving mean and variance that batch
            normalization uses at inference, in [0, 1). Keras' 0.99 averages over about
            the last 100 batches: after a few hundred batches of training (a short CPU
            budget) the averages still remember the first, untrained batches and the
            predictions suffer; 0.9 (about 10 batches) suits short training.

    Returns:
        An uncompiled functional ``keras.Model`` named ``"unet"``. Input: float32 (batch,
        h, w, num_channels); with ``'same'`` h and w multiples of ``2**depth``, with
        ``'valid'`` sizes that ``unet_output_size`` accepts. Output: float32 (batch,
        unet_output_size(h), unet_output_size(w), num_classes).

    Raises:
        ValueError: if an argument is out of range or ``input_size`` does not fit.
    """
    _check_int("num_classes", num_classes, 2)
    _check_int("depth", depth, 1)
    _check_int("base_filters", base_filters, 1)
    _check_choice("padding", padding, _PADDINGS)
    _check_choice("output", output, _OUTPUTS)
    if not 0 <= batch_norm_momentum < 1:
        raise ValueError(f"batch_norm_momentum must be in [0, 1), got {batch_norm_momentum!r}")
    if padding == "valid":
        page = _page_input(num_channels, input_size, multiple=1)
        for size in input_size or ():
            unet_output_size(size, depth, padding)  # raises if the size does not fit
    else:
        page = _page_input(num_channels, input_size, multiple=2**depth)

    features = page
    skips = []
    for level in range(depth):
        features = _conv_block(features, base_filters * 2**level, padding, batch_norm,
                               name=f"enc{level + 1}", batch_norm_momentum=batch_norm_momentum)
        skips.append(features)
        features = layers.MaxPooling2D((2, 2), strides=2, name=f"pool{level + 1}")(features)
    features = _conv_block(features, base_filters * 2**depth, padding, batch_norm,
                           name="bottleneck", batch_norm_momentum=batch_norm_momentum)

    margins = _unet_crop_margins(depth)
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        features = layers.Conv2DTranspose(
            filters, (2, 2), strides=2, name=f"upconv{level + 1}"
        )(features)
        skip = skips[level]
        if padding == "valid":
            # Center crop: keep the middle of the (larger) encoder features.
            before = margins[level] // 2
            after = margins[level] - before
            skip = layers.Cropping2D(((before, after), (before, after)),
                                     name=f"crop{level + 1}")(skip)
        features = layers.Concatenate(axis=-1, name=f"concat{level + 1}")([features, skip])
        features = _conv_block(features, filters, padding, batch_norm, name=f"dec{level + 1}",
                               batch_norm_momentum=batch_norm_momentum)

    scores = _classifier_head(features, num_classes, output)
    return keras.Model(inputs=page, outputs=scores, name="unet")


def build_deconvnet(
    num_classes=4,
    num_channels=1,
    filters=(32, 64, 128),
    convs_per_block=2,
    batch_norm=True,
    output="softmax",
    input_size=None,
):
    """A small DeconvNet (Noh, Hong, Han 2015): up-sampling by max-unpooling.

    Encoder block ``i``: ``convs_per_block`` 3x3 convolutions with ``filters[i]`` filters
    (+ batch normalization, ReLU), then 2x2 max pooling that also records *where* each
    maximum was (``MaxPoolingWithArgmax2D``). Decoder, deepest block first: max-unpooling
    (``MaxUnpooling2D``) puts every value back at the recorded position (zeros elsewhere),
    then ``convs_per_block`` 3x3 "deconvolutions" (transposed convolutions, stride 1)
    densify the sparse map; the last one of a block changes the channels to the next
    block's ``filters[i - 1]``, because unpooling needs the channels of its pooling. Last:
    1x1 convolution to ``num_classes`` and softmax. The paper's VGG-16 encoder and its
    fully connected middle (fc6, fc7) are left out to keep the network small.

    Args:
        num_classes: number of pixel classes, int >= 2.
        num_channels: channels of the input image, int >= 1.
        filters: filters of each encoder block, a non-empty sequence of ints >= 1; one
            pooling per block.
        convs_per_block: convolutions per block, int >= 1.
        batch_norm: batch normalization after every convolution (as in the paper).
        output: ``"softmax"`` or ``"logits"``.
        input_size: None (any size) or a fixed ``(height, width)``, multiples of
            ``2**len(filters)``.

    Returns:
        An uncompiled functional ``keras.Model`` named ``"deconvnet"``. Input: float32
        (batch, h, w, num_channels), h and w multiples of ``2**len(filters)``. Output:
        float32 (batch, h, w, num_classes).

    Raises:
        ValueError: if an argument is out of range.
    """
    _check_int("num_classes", num_classes, 2)
    if isinstance(filters, int) or len(filters) == 0:
        raise ValueError(f"filters must be a non-empty sequence of ints >= 1, got {filters!r}")
    for block_filters in filters:
        _check_int("filters (each)", block_filters, 1)
    _check_int("convs_per_block", convs_per_block, 1)
    _check_choice("output", output, _OUTPUTS)
    page = _page_input(num_channels, input_size, multiple=2 ** len(filters))

    features = page
    switches = []  # argmax of every pooling, for the unpooling
    for index, block_filters in enumerate(filters, start=1):
        features = _conv_block(features, block_filters, "same", batch_norm,
                               name=f"enc{index}", count=convs_per_block)
        features, argmax = MaxPoolingWithArgmax2D(2, name=f"pool{index}")(features)
        switches.append(argmax)

    for index in reversed(range(1, len(filters) + 1)):
        features = MaxUnpooling2D(2, name=f"unpool{index}")([features, switches[index - 1]])
        out_filters = filters[index - 2] if index > 1 else filters[0]
        block = [filters[index - 1]] * (convs_per_block - 1) + [out_filters]
        features = _conv_block(features, block, "same", batch_norm, name=f"dec{index}",
                               transposed=True)

    scores = _classifier_head(features, num_classes, output)
    return keras.Model(inputs=page, outputs=scores, name="deconvnet")


def build_autoencoder(num_channels=1, filters=(16, 32), code_channels=4, input_size=None):
    """The lecture's insertion "FCN for compression": NN-encoder -> state -> NN-decoder.

    Encoder: per entry of ``filters`` a 3x3 convolution (ReLU) and 2x2 max pooling, then a
    1x1 convolution to ``code_channels`` with a sigmoid: the code ("state") is
    ``h / 2**n x w / 2**n x code_channels`` (n = ``len(filters)``) with values in [0, 1],
    so it can also be stored quantized to 8 bits. Decoder: per entry of ``filters``,
    reversed, a 3x3 transposed convolution with stride 2 (ReLU) that doubles the size, then
    a 3x3 convolution to ``num_channels`` with a sigmoid: the probability that a pixel is
    ink, for binary pages (train with ``keras.losses.BinaryCrossentropy``).

    Whether this compresses depends on the bits: a binary page pixel is 1 bit, a float32
    code value 32 bits. With the defaults (two poolings, 4 code channels) the code has 4 /
    16 = 1/4 as many values as the page, but 1/4 * 32 = 8 times as many bits; see
    ``compression_ratio``.

    Args:
        num_channels: channels of the images, int >= 1 (1 for binary pages).
        filters: filters of the encoder's convolutions, a non-empty sequence of ints >= 1.
        code_channels: channels of the code, int >= 1.
        input_size: None (any size) or a fixed ``(height, width)``, multiples of
            ``2**len(filters)``.

    Returns:
        ``(autoencoder, encoder, decoder)``, uncompiled functional ``keras.Model``s that
        share their layers (training the autoencoder trains both parts):
        encoder: (batch, h, w, num_channels) -> code (batch, h/2**n, w/2**n, code_channels);
        decoder: code -> (batch, h, w, num_channels) in [0, 1];
        autoencoder: decoder(encoder(images)), images -> reconstructions.

    Raises:
        ValueError: if an argument is out of range.
    """
    if isinstance(filters, int) or len(filters) == 0:
        raise ValueError(f"filters must be a non-empty sequence of ints >= 1, got {filters!r}")
    for block_filters in filters:
        _check_int("filters (each)", block_filters, 1)
    _check_int("code_channels", code_channels, 1)
    scale = 2 ** len(filters)
    page = _page_input(num_channels, input_size, multiple=scale)

    features = page
    for index, block_filters in enumerate(filters, start=1):
        features = layers.Conv2D(block_filters, (3, 3), padding="same", activation="relu",
                                 name=f"enc_conv{index}")(features)
        features = layers.MaxPooling2D((2, 2), strides=2, name=f"enc_pool{index}")(features)
    code = layers.Conv2D(code_channels, (1, 1), activation="sigmoid", name="code")(features)
    encoder = keras.Model(page, code, name="encoder")

    code_size = None if input_size is None else (input_size[0] // scale, input_size[1] // scale)
    code_input = keras.Input(
        shape=(*(code_size or (None, None)), code_channels), name="code_input"
    )
    features = code_input
    for index, block_filters in enumerate(reversed(filters), start=1):
        features = layers.Conv2DTranspose(block_filters, (3, 3), strides=2, padding="same",
                                          activation="relu", name=f"dec_up{index}")(features)
    reconstruction = layers.Conv2D(num_channels, (3, 3), padding="same", activation="sigmoid",
                                   name="reconstruction")(features)
    decoder = keras.Model(code_input, reconstruction, name="decoder")

    autoencoder = keras.Model(page, decoder(encoder(page)), name="autoencoder")
    return autoencoder, encoder, decoder


def compression_ratio(input_shape, code_shape, input_bits=1, code_bits=32):
    """How many times fewer bits the code takes than the image (> 1: it compresses).

    ``ratio = (values in input * input_bits) / (values in code * code_bits)``. A pixel of a
    binary page is 1 bit (``input_bits=1``); a grey value 8 bits. A code value is a float32,
    32 bits (``code_bits=32``), or 8 bits if it is quantized (e.g. the autoencoder's
    sigmoid code in [0, 1] rounded to 256 levels).

    Example: a 64 x 64 binary page (4096 bits) and the default autoencoder's 16 x 16 x 4
    code: 1024 float32 values = 32768 bits, ratio 0.125 (8x *larger*); quantized to 8
    bits still 0.5. To compress, pool more or use fewer code channels.

    Args:
        input_shape: shape of one image, e.g. (h, w) or (h, w, c); ints >= 1.
        code_shape: shape of its code, e.g. (h', w', k); ints >= 1.
        input_bits: bits per input value, int >= 1.
        code_bits: bits per code value, int >= 1.

    Returns:
        float: the compression ratio.

    Raises:
        ValueError: if a shape entry or a bit count is not an int >= 1.
    """
    for name, shape in (("input_shape", input_shape), ("code_shape", code_shape)):
        if len(shape) == 0 or any(
            isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1
            for size in shape
        ):
            raise ValueError(f"{name} must be a non-empty shape of ints >= 1, got {shape!r}")
    _check_int("input_bits", input_bits, 1)
    _check_int("code_bits", code_bits, 1)
    input_total = math.prod(int(size) for size in input_shape) * input_bits
    code_total = math.prod(int(size) for size in code_shape) * code_bits
    return input_total / code_total


def reconstruction_error(autoencoder, images, batch_size=32):
    """How well an autoencoder reconstructs binary pages.

    Args:
        autoencoder: model mapping (batch, h, w, c) images to reconstructions in [0, 1].
        images: array (N, h, w) or (N, h, w, c) of binary pages (0 paper, 1 ink).
        batch_size: images per forward pass.

    Returns:
        dict with
        ``"mean_absolute_error"``: mean |reconstruction - image| over all pixels, float;
        ``"wrong_pixel_fraction"``: fraction of pixels whose reconstruction, thresholded at
        0.5 (>= 0.5 is ink), differs from the image thresholded the same way, float in
        [0, 1].
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, h, w) or (N, h, w, c), got {images.shape}")
    reconstructions = np.asarray(autoencoder.predict(images, batch_size=batch_size, verbose=0))
    reconstructions = reconstructions.reshape(images.shape)
    return {
        "mean_absolute_error": float(np.abs(reconstructions - images).mean()),
        "wrong_pixel_fraction": float(((reconstructions >= 0.5) != (images >= 0.5)).mean()),
    }


def convolutionalize(patch_cnn):
    """Turn a trained patch CNN into a fully convolutional network with the same weights.

    The trick of Long, Shelhamer, Darrell (FCN) and OverFeat: a Dense layer after Flatten
    is a convolution whose kernel covers the whole feature map. In the lecture's patch CNN
    the patch of ``patch_size`` pixels is pooled to ``patch_size/8 x patch_size/8 x 80``
    features, so Flatten + Dense(100) becomes Conv2D(100, (patch_size/8, patch_size/8),
    'valid') whose kernel is the dense kernel reshaped to ``(patch_size/8, patch_size/8,
    80, 100)`` (Flatten orders the features row, column, channel, like a conv kernel). The
    following Dense(num_classes) becomes a 1x1 convolution, and Dropout is left out
    (it does nothing at inference).

    Run on a whole page, the network computes the patch CNN for every window of
    ``patch_size`` pixels whose top-left corner is at a multiple of 8 (the total stride of
    the three poolings), sharing the convolutions of overlapping windows::

        output[i, j] = patch CNN on page[8i : 8i + patch_size, 8j : 8j + patch_size]

    Exactly so if the patch CNN was built with ``padding='valid'``. With the slide's
    ``padding='same'`` it is only close: the patch CNN pads the border of every *patch*
    (and of its feature maps) with zeros inside its convolutions, while here the
    convolutions see what lies next to the window on the page. No fully convolutional
    network can reproduce both at once, because neighbouring windows overlap. So the
    result differs near window borders; the network sees a bit of context.

    Args:
        patch_cnn: a ``keras.Sequential`` of Conv2D / MaxPooling2D layers, then Flatten,
            Dense layers (Dropout and Activation allowed), e.g. ``build_patch_cnn``.

    Returns:
        A functional ``keras.Model`` named ``"<name>_convolutionalized"`` with new layers
        holding copies of the weights. Input: float32 (batch, H, W, C), any H, W >=
        patch_size. Output: float32 (batch, (H - patch_size) // 8 + 1, (W - patch_size) //
        8 + 1, num_classes) (for H, W multiples of 8 and 'same' padding; in general one
        output per complete window), what the patch CNN outputs (probabilities).

    Raises:
        ValueError: if ``patch_cnn`` contains a layer this conversion does not know.
    """
    page = keras.Input(shape=(None, None, patch_cnn.input_shape[-1]), name="page")
    features = page
    feature_map_size = None  # (rows, cols) that Flatten received, set at Flatten
    for layer in patch_cnn.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "MaxPooling2D", "Activation"):
            # Same layer, new instance: its output on a page is that of every window.
            copy = type(layer).from_config(layer.get_config())
            features = copy(features)
            copy.set_weights(layer.get_weights())
        elif kind == "Dropout":
            continue  # identity at inference
        elif kind == "Flatten":
            feature_map_size = tuple(layer.input.shape[1:3])
        elif kind == "Dense":
            kernel, bias = layer.get_weights()
            if feature_map_size is None:
                raise ValueError("patch_cnn: a Dense layer must come after Flatten")
            rows, cols = feature_map_size
            kernel = kernel.reshape(rows, cols, kernel.shape[0] // (rows * cols), layer.units)
            conv = layers.Conv2D(
                layer.units, (rows, cols), padding="valid",
                activation=layer.get_config()["activation"], name=f"{layer.name}_as_conv",
            )
            features = conv(features)
            conv.set_weights([kernel, bias])
            feature_map_size = (1, 1)  # later Dense layers become 1x1 convolutions
        else:
            raise ValueError(
                f"patch_cnn: cannot convolutionalize layer {layer.name!r} of type {kind}; "
                "allowed are Conv2D, MaxPooling2D, Activation, Dropout, Flatten, Dense"
            )
    return keras.Model(page, features, name=f"{patch_cnn.name}_convolutionalized")
