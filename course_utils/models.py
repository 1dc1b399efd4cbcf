"""The lecture's two page-segmentation networks, written with Keras 3 layers only.

- ``build_patch_cnn``: the sliding-window classifier. It sees one small patch and predicts
  the class of the patch's centre pixel.
- ``build_fcn_upscaling``: the fully convolutional network. It sees the whole page,
  encodes it to ``h/8 x w/8 x 80`` and up-scales the encoding 8x (nearest neighbour) to a
  class probability per pixel.

Both use only ``keras`` layers (no ``tf.*``), so they run on any Keras backend.
"""

import keras
from keras import layers


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def build_patch_cnn(patch_size=32, num_classes=4, num_channels=1, dropout=0.5):
    """The lecture's sliding-window patch classifier (slide "Sliding-Window: Example").

    Conv(40, 3x3) - MaxPool 2x2 - Conv(40, 4x4) - MaxPool 2x2 - Conv(80, 4x4) - MaxPool 2x2
    - Flatten - Dense(100, ReLU) - Dropout - Dense(num_classes, softmax). All convolutions
    use ``padding='same'`` and ReLU. The slide's pseudo-code says 3x3 for all three
    convolutions while its Keras code uses 4x4 for the second and third; this function
    follows the Keras code.

    Args:
        patch_size: side of the square input patch in pixels, int >= 8 and a multiple of
            8 (three 2x2 poolings halve it three times).
        num_classes: number of pixel classes, int >= 2.
        num_channels: channels of the input image, int >= 1 (1 for binary pages).
        dropout: dropout rate before the output layer, float in [0, 1).

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
    return keras.Sequential(
        [
            keras.Input(shape=(patch_size, patch_size, num_channels), name="patch"),
            layers.Conv2D(40, (3, 3), padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool1"),
            layers.Conv2D(40, (4, 4), padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2, name="pool2"),
            layers.Conv2D(80, (4, 4), padding="same", activation="relu", name="conv3"),
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
