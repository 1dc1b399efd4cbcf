"""Synthetic binary document pages with pixel labels: the lecture's running example.

The lecture segments scanned (binarized) document pages into regions. Real data sets of
that kind (e.g. historical pages rescaled so a text line is about 6 px high) cannot be
downloaded here, so this module draws look-alike pages:

- one or two columns of **text** blocks made of lines of real glyphs (Pillow's built-in
  scalable font, random letters grouped into words),
- one or two **figures**: rectangles filled with a dithered (halftone) random picture and a
  1 px frame,
- **separators**: thin horizontal and vertical ink rules (under the title, between
  columns, between some blocks).

Pixel convention for pages: ``1.0`` = ink (black), ``0.0`` = paper (white).

Label convention (one class index per pixel, ``uint8``):

- ``TEXT`` (1): every pixel inside the bounding box of a rendered text line, i.e. the
  line's rows (``line_height`` px) times the columns from its first to its last ink pixel;
  the paper between letters and words of a line is TEXT too.
- ``FIGURE`` (2): every pixel of a figure rectangle, frame included.
- ``SEPARATOR`` (3): the pixels of a rule (1-3 px thick) plus a 1 px margin on both sides
  across the rule, so a thin rule is not a target of only one pixel.
- ``BACKGROUND`` (0): everything else (margins, gaps between lines and blocks).
"""

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CLASS_NAMES = ("background", "text", "figure", "separator")
BACKGROUND, TEXT, FIGURE, SEPARATOR = 0, 1, 2, 3

# Smallest page the layout (margins, title, columns, a figure) fits into.
MIN_PAGE_SIZE = 64

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
_CAPITALS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))

# 4x4 Bayer matrix: thresholds for ordered dithering (halftone look of printed pictures).
_BAYER_4X4 = (
    np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.float32)
    + 0.5
) / 16.0


@lru_cache(maxsize=16)
def _font(size):
    # Loading the font costs about a millisecond; pages reuse it.
    return ImageFont.load_default(size=size)


def _check_int(name, value, minimum, maximum=None):
    """Raise ValueError unless ``value`` is an int in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")


def _random_words(rng, num_chars):
    """A string of about ``num_chars`` characters: random words of 1-9 letters."""
    words = []
    length = 0
    while length < num_chars:
        word_length = int(rng.integers(1, 10))
        letters = rng.choice(_LETTERS, size=word_length)
        if rng.random() < 0.15:
            letters[0] = rng.choice(_CAPITALS)
        words.append("".join(letters))
        length += word_length + 1
    return " ".join(words)


class _PageCanvas:
    """Ink image and label map being drawn; all coordinates are (row, col) in pixels."""

    def __init__(self, height, width, line_height):
        self.height = height
        self.width = width
        self.line_height = line_height
        # Pillow draws the glyphs (mode "L": 255 = ink); numpy draws everything else.
        self.text_image = Image.new("L", (width, height), 0)
        self.text_draw = ImageDraw.Draw(self.text_image)
        self.font = _font(line_height + 1)
        self.ink = np.zeros((height, width), dtype=bool)
        self.labels = np.zeros((height, width), dtype=np.uint8)

    def text_line(self, rng, top, left, max_width, fill_fraction=1.0):
        """Draw one line of random words in columns [left, left + max_width)."""
        target_width = max(4, int(max_width * fill_fraction))
        average_char_width = max(1.0, self.font.getlength("etaoin shrdlu") / 13)
        text = _random_words(rng, int(target_width / average_char_width) + 2)
        # Drop words from the end until the line fits the column.
        while self.font.getlength(text) > target_width and " " in text:
            text = text.rsplit(" ", 1)[0]
        if self.font.getlength(text) > target_width:
            text = text[: max(1, int(target_width / average_char_width) - 1)]
        # Glyph tops sit about 1-2 px below the nominal origin: shift so ink fills the box.
        box = self.text_draw.textbbox((left, top), text, font=self.font)
        self.text_draw.text((left, top - (box[1] - top)), text, font=self.font, fill=255)
        right = min(left + max_width, box[2])
        self.labels[top : top + self.line_height, left:right] = TEXT

    def text_block(self, rng, top, left, max_width, num_lines, line_pitch):
        """Draw a paragraph; its last line is shorter (ragged end)."""
        for i in range(num_lines):
            last = i == num_lines - 1
            fraction = rng.uniform(0.3, 0.9) if last else rng.uniform(0.93, 1.0)
            self.text_line(rng, top + i * line_pitch, left, max_width, fraction)

    def figure(self, rng, top, left, height, width):
        """Draw a framed rectangle filled with a dithered smooth random picture."""
        # Smooth random field: coarse noise, bilinearly up-scaled, then contrast-stretched.
        coarse = rng.random((max(2, height // 10 + 2), max(2, width // 10 + 2)))
        coarse_image = Image.fromarray((coarse * 255).astype(np.uint8))
        field = np.asarray(coarse_image.resize((width, height), Image.BILINEAR), np.float32)
        field = (field - field.min()) / max(1.0, float(field.max() - field.min()))
        if rng.random() < 0.5:
            field = 1.0 - field
        thresholds = np.tile(_BAYER_4X4, (height // 4 + 1, width // 4 + 1))[:height, :width]
        region = field > thresholds
        region[[0, -1], :] = True
        region[:, [0, -1]] = True
        self.ink[top : top + height, left : left + width] = region
        self.labels[top : top + height, left : left + width] = FIGURE

    def horizontal_rule(self, row, left, right, thickness):
        self.ink[row : row + thickness, left:right] = True
        self.labels[max(0, row - 1) : row + thickness + 1, left:right] = SEPARATOR

    def vertical_rule(self, col, top, bottom, thickness):
        self.ink[top:bottom, col : col + thickness] = True
        self.labels[top:bottom, max(0, col - 1) : col + thickness + 1] = SEPARATOR

    def page(self):
        glyphs = np.asarray(self.text_image) >= 128
        return (self.ink | glyphs).astype(np.float32)


def _fill_column(canvas, rng, top, bottom, left, width, num_figures, line_pitch):
    """Stack text blocks, figures and rules from ``top`` down to ``bottom`` in one column."""
    line_height = canvas.line_height
    gap = line_pitch
    # Spread the figures over the column's blocks: pick the slots before drawing.
    figure_rows = sorted(rng.uniform(top, bottom - 0.3 * (bottom - top), size=num_figures))
    row = top
    while row < bottom:
        space = bottom - row
        if figure_rows and row >= figure_rows[0] - 2 * gap:
            figure_rows.pop(0)
            fig_height = int(rng.integers(canvas.height // 8, canvas.height // 4 + 1))
            fig_height = min(fig_height, space)
            fig_width = int(width * rng.uniform(0.6, 1.0))
            fig_left = left + (width - fig_width) // 2
            if fig_height >= 8:
                canvas.figure(rng, row, fig_left, fig_height, fig_width)
            row += fig_height + gap
            continue
        max_lines = (space - line_height) // line_pitch + 1
        if max_lines < 1:
            break
        num_lines = int(min(max_lines, rng.integers(2, 9)))
        canvas.text_block(rng, row, left, width, num_lines, line_pitch)
        row += (num_lines - 1) * line_pitch + line_height + gap
        if rng.random() < 0.25 and bottom - row > 3 * gap:
            thickness = int(rng.integers(1, 3))
            canvas.horizontal_rule(row - gap // 2 - thickness // 2, left, left + width, thickness)
            row += gap // 2


def make_page(seed, height=256, width=256, line_height=6):
    """Draw one synthetic binary document page and its pixel labels.

    The layout is random but fully determined by ``seed``: a title line with a rule under
    it, one or two columns (two only for pages at least 128 px wide) separated by a
    vertical rule, text blocks, one or two dithered figures and a few horizontal rules.
    See the module docstring for the label convention.

    Args:
        seed: int (or sequence of ints) for ``numpy.random.default_rng``; the same seed
            always gives the same page.
        height: page height in pixels, int >= 64.
        width: page width in pixels, int >= 64.
        line_height: height of a text line in pixels (glyph box, the TEXT label's
            height), int in [4, height // 8]. Lines are ``line_height + line_height // 2``
            pixels apart.

    Returns:
        (page, labels):
        page: float32 array (height, width), 1.0 = ink (black), 0.0 = paper (white).
        labels: uint8 array (height, width) of class indices into ``CLASS_NAMES``.

    Raises:
        ValueError: if a size is not an integer in its range.
    """
    _check_int("height", height, MIN_PAGE_SIZE)
    _check_int("width", width, MIN_PAGE_SIZE)
    _check_int("line_height", line_height, 4, height // 8)
    rng = np.random.default_rng(seed)
    canvas = _PageCanvas(height, width, line_height)
    line_pitch = line_height + max(2, line_height // 2)

    margin_rows = max(4, height // 16)
    margin_cols = max(4, width // 16)
    text_width = width - 2 * margin_cols

    # Title: one (shorter) line across the page, with a rule under it.
    row = margin_rows
    canvas.text_line(rng, row, margin_cols, text_width, rng.uniform(0.3, 0.7))
    row += line_height + line_pitch // 2
    canvas.horizontal_rule(row, margin_cols, width - margin_cols, int(rng.integers(1, 4)))
    row += 3 + line_pitch

    bottom = height - margin_rows
    num_columns = 2 if width >= 128 and rng.random() < 0.65 else 1
    num_figures = int(rng.integers(1, 3))
    if num_columns == 1:
        _fill_column(canvas, rng, row, bottom, margin_cols, text_width, num_figures, line_pitch)
    else:
        gutter = max(6, width // 24)
        column_width = (text_width - gutter) // 2
        first_column_figures = int(rng.integers(0, num_figures + 1))
        for index, figures in enumerate((first_column_figures, num_figures - first_column_figures)):
            left = margin_cols + index * (column_width + gutter)
            _fill_column(canvas, rng, row, bottom, left, column_width, figures, line_pitch)
        thickness = int(rng.integers(1, 3))
        rule_col = margin_cols + column_width + (gutter - thickness) // 2
        canvas.vertical_rule(rule_col, row, bottom, thickness)
    return canvas.page(), canvas.labels


def make_page_dataset(num_pages, seed=0, height=256, width=256):
    """Draw ``num_pages`` pages; page ``i`` is ``make_page(seed=(seed, i), ...)``.

    Because each page has its own seed, the first k pages of a larger data set equal the
    pages of a data set of k pages with the same ``seed``.

    Args:
        num_pages: number of pages, int >= 1.
        seed: int; data sets with different seeds have different pages.
        height: page height in pixels, int >= 64.
        width: page width in pixels, int >= 64.

    Returns:
        (images, labels):
        images: float32 array (num_pages, height, width, 1), 1.0 = ink, 0.0 = paper
            (the channel axis is what Keras' Conv2D expects).
        labels: uint8 array (num_pages, height, width) of class indices.

    Raises:
        ValueError: if a size is not an integer in its range.
    """
    _check_int("num_pages", num_pages, 1)
    _check_int("height", height, MIN_PAGE_SIZE)
    _check_int("width", width, MIN_PAGE_SIZE)
    images = np.empty((num_pages, height, width, 1), dtype=np.float32)
    labels = np.empty((num_pages, height, width), dtype=np.uint8)
    for i in range(num_pages):
        images[i, :, :, 0], labels[i] = make_page((seed, i), height, width)
    return images, labels


def ink_mask(page):
    """Foreground (ink) pixels of a binary page, as needed by foreground pixel accuracy.

    Args:
        page: array (H, W) or (H, W, 1) (or a batch (..., H, W, 1)) of floats in [0, 1],
            1.0 = ink.

    Returns:
        bool array of the same shape without a trailing channel axis of size 1:
        True where the pixel is ink (value > 0.5).
    """
    page = np.asarray(page)
    if page.ndim >= 3 and page.shape[-1] == 1:
        page = page[..., 0]
    return page > 0.5
