"""Up-sampling layers of the lecture: unpooling and up-scaling.

Written with ``keras.ops`` only, so they run on the TensorFlow, JAX and PyTorch
backends. Images are ``(batch, height, width, channels)`` (channels last).

- :class:`MaxPoolingWithArgmax2D` max-pools and remembers *where* each maximum
  was inside its pooling window.
- :class:`MaxUnpooling2D` is the lecture's "unpooling" (Deconvnet, SegNet):
  max pooling cannot be inverted, but like its backward pass we "save where
  the value came from" and "forward the input value to this position"; all
  other pixels are 0.
- :func:`upscale_nearest`, :func:`upscale_bilinear` and :class:`UpScaling2D`
  are the parameter-free up-scaling of the FCN, written out so you can see what
  ``keras.layers.UpSampling2D`` computes.

Example: an encoder/decoder pair::

    pooled, argmax = MaxPoolingWithArgmax2D(2)(features)    # (b, h/2, w/2, c) twice
    restored = MaxUnpooling2D(2)([pooled, argmax])           # (b, h, w, c)
"""

import keras
from keras import ops

__all__ = [
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "UpScaling2D",
    "upscale_nearest",
    "upscale_bilinear",
]

_INTERPOLATIONS = ("nearest", "bilinear")


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    return value


def _check_image_shape(shape, name):
    """Raises unless ``shape`` is ``(batch, height, width, channels)``."""
    if len(shape) != 4:
        raise ValueError(
            f"`{name}` must have shape (batch, height, width, channels), got "
            f"shape {tuple(shape)} (rank {len(shape)})."
        )


def _dims(tensor):
    """``(height, width, channels)``: Python ints where known, else tensors.

    Spatial sizes may be ``None`` in a fully convolutional model; then the
    size is read from the tensor when the layer runs.
    """
    dynamic = ops.shape(tensor)
    static = tensor.shape
    return tuple(
        static[axis] if static[axis] is not None else dynamic[axis]
        for axis in (1, 2, 3)
    )


def _times(size, factor):
    return None if size is None else size * factor


@keras.saving.register_keras_serializable(package="course_utils")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """2-D max pooling that also returns where each maximum came from.

    Non-overlapping windows of ``pool_size x pool_size`` pixels (stride =
    ``pool_size``, ``"valid"``), as ``keras.layers.MaxPooling2D(pool_size)``.
    Besides the maxima it returns their position inside the window, numbered
    row by row::

        pool_size=2:   0 1
                       2 3

    so ``argmax = row * pool_size + column``. :class:`MaxUnpooling2D` uses it
    to put the values back.

    Ties: if several pixels of a window hold the maximum, the first one in
    row-by-row order wins (the smallest index), as ``keras.ops.argmax`` does.

    Args:
        pool_size: Window size and stride in pixels, a positive int.
        **kwargs: Base layer arguments, e.g. ``name``.

    Input shape:
        4-D tensor ``(batch, height, width, channels)``; ``height`` and
        ``width`` must be divisible by ``pool_size`` (checked when known when
        the layer is built; otherwise the reshape fails when it runs).

    Output shape:
        A tuple ``(pooled, argmax)`` of two tensors of shape
        ``(batch, height / pool_size, width / pool_size, channels)``:
        ``pooled`` has the input dtype, ``argmax`` is int32 with values in
        ``[0, pool_size * pool_size)``.

    Raises:
        ValueError: If ``pool_size`` is not a positive int, the input is not
            4-D, or its height/width is not divisible by ``pool_size``.
    """

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _check_positive_int(pool_size, "pool_size")

    def build(self, input_shape):
        _check_image_shape(input_shape, "inputs")
        for axis, axis_name in ((1, "height"), (2, "width")):
            size = input_shape[axis]
            if size is not None and size % self.pool_size != 0:
                raise ValueError(
                    f"The input {axis_name} ({size}) must be divisible by "
                    f"`pool_size` ({self.pool_size}); got input shape "
                    f"{tuple(input_shape)}. Crop or pad the image first."
                )
        self.built = True

    def call(self, inputs):
        p = self.pool_size
        height, width, channels = _dims(inputs)
        # (b, h, w, c) -> (b, h/p, p, w/p, p, c): axes 2 and 4 run inside a window.
        windows = ops.reshape(inputs, (-1, height // p, p, width // p, p, channels))
        # Window axes last, then flatten each window row by row: index = row*p + col.
        windows = ops.transpose(windows, (0, 1, 3, 5, 2, 4))
        windows = ops.reshape(windows, (-1, height // p, width // p, channels, p * p))
        pooled = ops.max(windows, axis=-1)
        # PyTorch returns int64 indices; use int32 on every backend.
        argmax = ops.cast(ops.argmax(windows, axis=-1), "int32")
        return pooled, argmax

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        pooled_shape = (
            batch,
            None if height is None else height // self.pool_size,
            None if width is None else width // self.pool_size,
            channels,
        )
        return pooled_shape, pooled_shape

    def compute_output_spec(self, inputs):
        # Two outputs with different dtypes: the values and int32 positions.
        pooled_shape, argmax_shape = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(pooled_shape, dtype=inputs.dtype),
            keras.KerasTensor(argmax_shape, dtype="int32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size})
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class MaxUnpooling2D(keras.layers.Layer):
    """Max unpooling: each value goes back to where its maximum came from.

    The inverse direction of :class:`MaxPoolingWithArgmax2D`: every value is
    written into a ``pool_size x pool_size`` block of zeros at the position
    given by ``argmax`` (``row * pool_size + column``). With the pooled values
    themselves you get the input back with everything but the maxima set to 0;
    in a decoder (Deconvnet, SegNet) the values are the decoder's features, so
    details are placed where the encoder found them.

    It is written as ``one_hot(argmax) * values`` followed by the inverse
    reshape of the pooling, so it is differentiable in ``values`` (the gradient
    of each output pixel goes back to the value placed there); ``argmax`` gets
    no gradient.

    Args:
        pool_size: Block size in pixels, a positive int; must be the
            ``pool_size`` of the pooling layer that made ``argmax``.
        **kwargs: Base layer arguments, e.g. ``name``.

    Input shape:
        A list ``[values, argmax]`` of two 4-D tensors of the same shape
        ``(batch, height, width, channels)``; ``argmax`` is an integer tensor
        with values in ``[0, pool_size * pool_size)`` (out-of-range values give
        an all-zero block).

    Output shape:
        ``(batch, height * pool_size, width * pool_size, channels)``, the dtype
        of ``values``.

    Raises:
        ValueError: If ``pool_size`` is not a positive int, the inputs are not
            a pair of 4-D tensors with matching shapes, or ``argmax`` is not an
            integer tensor.
    """

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _check_positive_int(pool_size, "pool_size")

    def _check_input_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                f"MaxUnpooling2D takes a list [values, argmax] of two tensors, "
                f"got input shape {input_shape!r}."
            )
        values_shape, argmax_shape = input_shape
        _check_image_shape(values_shape, "values")
        _check_image_shape(argmax_shape, "argmax")
        for known_values, known_argmax in zip(values_shape[1:], argmax_shape[1:]):
            if None not in (known_values, known_argmax) and known_values != known_argmax:
                raise ValueError(
                    f"`values` and `argmax` must have the same shape, got "
                    f"{tuple(values_shape)} and {tuple(argmax_shape)}."
                )
        return values_shape

    def build(self, input_shape):
        self._check_input_shapes(input_shape)
        self.built = True

    def call(self, inputs):
        values, argmax = inputs
        if "int" not in keras.backend.standardize_dtype(argmax.dtype):
            raise ValueError(
                f"`argmax` must be an integer tensor of window positions, got "
                f"dtype {argmax.dtype}."
            )
        p = self.pool_size
        height, width, channels = _dims(values)
        # (b, h, w, c, p*p): the value at its position in the window, 0 elsewhere.
        windows = ops.one_hot(argmax, p * p, dtype=values.dtype)
        windows = windows * ops.expand_dims(values, axis=-1)
        # Undo the pooling's reshape: (b, h, w, c, p, p) -> (b, h, p, w, p, c).
        windows = ops.reshape(windows, (-1, height, width, channels, p, p))
        windows = ops.transpose(windows, (0, 1, 4, 2, 5, 3))
        return ops.reshape(windows, (-1, height * p, width * p, channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = self._check_input_shapes(input_shape)
        return (
            batch,
            _times(height, self.pool_size),
            _times(width, self.pool_size),
            channels,
        )

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size})
        return config


def _upscaling_arguments(images, factor):
    """``(images as a 4-D tensor, factor as an int)``, checked as the up-scaling functions
    document."""
    factor = _check_positive_int(factor, "factor")
    images = ops.convert_to_tensor(images)
    _check_image_shape(images.shape, "images")
    return images, factor


def upscale_nearest(images, factor):
    """Nearest-neighbour up-scaling: every pixel becomes a ``factor x factor`` block.

    Same result as ``keras.layers.UpSampling2D(factor, interpolation="nearest")``.

    Args:
        images: Tensor of shape ``(batch, height, width, channels)``.
        factor: Up-scaling factor, a positive int (the same for both axes).

    Returns:
        Tensor of shape ``(batch, height * factor, width * factor, channels)``.

    Raises:
        ValueError: If ``images`` is not 4-D or ``factor`` not a positive int.
    """
    images, factor = _upscaling_arguments(images, factor)
    return ops.repeat(ops.repeat(images, factor, axis=1), factor, axis=2)


def _upscale_height_bilinear(images, factor):
    """Bilinear up-scaling of axis 1 (height) by an integer factor."""
    # Repeat the border rows: outside the image, the nearest row is used.
    padded = ops.concatenate([images[:, :1], images, images[:, -1:]], axis=1)
    row_above, row_below = padded[:, :-2], padded[:, 2:]
    phases = []
    for phase in range(factor):
        # Half-pixel centres: output row factor*i + phase sits at input
        # coordinate i + offset (pixel centres at integer coordinates).
        offset = (phase + 0.5) / factor - 0.5  # in (-0.5, 0.5)
        if offset < 0:
            phases.append(-offset * row_above + (1 + offset) * images)
        else:
            phases.append((1 - offset) * images + offset * row_below)
    # (b, h, factor, w, c) -> (b, h * factor, w, c): interleave the phases.
    stacked = ops.stack(phases, axis=2)
    height, width, channels = _dims(images)
    return ops.reshape(stacked, (-1, height * factor, width, channels))


def upscale_bilinear(images, factor):
    """Bilinear up-scaling by an integer factor, with half-pixel centres.

    Same result (up to float rounding) as
    ``keras.layers.UpSampling2D(factor, interpolation="bilinear")``, i.e.
    ``keras.ops.image.resize(..., "bilinear", antialias=False)``, which uses the
    "half-pixel centres" convention of ``tf.image.resize``: pixel ``i`` covers
    ``[i, i + 1)`` and its value sits at ``i + 0.5``. Output pixel ``j`` then
    reads the input at ``(j + 0.5) / factor - 0.5`` and interpolates linearly
    between the two nearest input pixels; near the border, where that falls
    outside the image, the border pixel is repeated. So with ``factor=2`` a row
    ``[a, b]`` becomes ``[a, 0.75a + 0.25b, 0.25a + 0.75b, b]``. (Not the
    "align corners" convention, which would give ``[a, 2a/3 + b/3, ...]``.)

    Height and width are interpolated one after the other (bilinear =
    linear in each axis).

    Args:
        images: Float tensor of shape ``(batch, height, width, channels)``.
        factor: Up-scaling factor, a positive int (the same for both axes).

    Returns:
        Tensor of shape ``(batch, height * factor, width * factor, channels)``.

    Raises:
        ValueError: If ``images`` is not 4-D or ``factor`` not a positive int.
    """
    images, factor = _upscaling_arguments(images, factor)
    scaled = _upscale_height_bilinear(images, factor)
    # Width: swap height and width, scale "height", swap back.
    scaled = ops.transpose(scaled, (0, 2, 1, 3))
    scaled = _upscale_height_bilinear(scaled, factor)
    return ops.transpose(scaled, (0, 2, 1, 3))


@keras.saving.register_keras_serializable(package="course_utils")
class UpScaling2D(keras.layers.Layer):
    """Up-scaling layer of the FCN: parameter-free nearest or bilinear up-sampling.

    Computes :func:`upscale_nearest` or :func:`upscale_bilinear`, which give
    the same result as ``keras.layers.UpSampling2D(size, interpolation=...)``
    (use that in real models; this one shows the computation).

    Args:
        size: Up-scaling factor, a positive int (the same for both axes).
        interpolation: ``"nearest"`` (repeat each pixel) or ``"bilinear"``
            (linear interpolation, half-pixel centres).
        **kwargs: Base layer arguments, e.g. ``name``.

    Input shape:
        4-D tensor ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, height * size, width * size, channels)``.

    Raises:
        ValueError: If ``size`` is not a positive int, ``interpolation`` is
            not ``"nearest"`` or ``"bilinear"``, or the input is not 4-D.
    """

    def __init__(self, size=2, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = _check_positive_int(size, "size")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"`interpolation` must be one of {_INTERPOLATIONS}, got "
                f"{interpolation!r}."
            )
        self.interpolation = interpolation

    def build(self, input_shape):
        _check_image_shape(input_shape, "inputs")
        self.built = True

    def call(self, inputs):
        if self.interpolation == "nearest":
            return upscale_nearest(inputs, self.size)
        return upscale_bilinear(inputs, self.size)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _times(height, self.size), _times(width, self.size), channels)

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "interpolation": self.interpolation})
        return config
