"""Synthetic binary document pages with pixel labels: the lecture's running example.

The lecture segments scanned (binarized) document pages into regions. Real data sets of
that kind (e.g. historical pages rescaled so a text line is about 6 px high) cannot be
downloaded here, so this module draws look-alike pages:

- a **heading** (title) in larger glyphs across the top, with a rule under it,
- one or two columns of **text**: paragraphs of lines made of real glyphs (Pillow's
  built-in scalable font, random letters grouped into words), the first line indented and
  the last line ragged, sometimes a section heading above a paragraph,
- one or two **figures**: real photos bundled with scikit-image (the camera man, the
  astronaut, coins, the moon, a cat, ...) cropped, dithered to black and white like a
  printed halftone (Floyd-Steinberg error diffusion or an ordered Bayer screen), often
  with a one-line caption under them,
- sometimes a **table**: a grid of thin rules with short words and numbers in the cells,
- **separators**: thin horizontal and vertical ink rules (under the title, between
  columns, between some blocks).

``make_page(..., degrade=True)`` adds what scanning does to paper: a slight rotation,
thicker or thinner ink, salt-and-pepper noise and ink blotches.

Pixel convention for pages: ``1.0`` = ink (black), ``0.0`` = paper (white).

Label convention (one class index per pixel, ``uint8``, index = position of the class name
in the ``classes`` argument; the default is ``CLASS_NAMES``):

- ``text``: every pixel inside the bounding box of a rendered text line, i.e. the line's
  rows (``line_height`` px) times the columns from its first to its last glyph; the
  paper between letters and words of a line is text too. Figure captions are text.
- ``heading``: the same box around a heading line (taller glyphs). Only when "heading" is
  one of the ``classes``; otherwise headings are labelled ``text``.
- ``figure``: every pixel of a figure rectangle.
- ``table``: every pixel of a table's box (its rules, cell text and the paper between).
  Only when "table" is one of the ``classes``; otherwise a table is labelled ``figure``
  (a non-text region as a whole, like an image).
- ``separator``: the pixels of a rule (1-3 px thick) plus a 1 px margin on both sides
  across the rule, so a thin rule is not a target of only one pixel.
- ``background``: everything else (margins, gaps between lines and blocks).

Class frequencies (fraction of pixels, 200 pages of 256x256, seed 0, default options;
measured when this module was written, they vary from page to page):

    background 0.61, text 0.21, figure 0.15 (tables included), separator 0.025

With ``classes=EXTENDED_CLASS_NAMES``: background 0.61, text 0.19, figure 0.12,
separator 0.025, table 0.026 (about 30 % of the pages have a table), heading 0.024.
As on real pages the classes are far from balanced: background dominates and separators
are a few percent of the pixels. ``class_frequencies`` measures them for your pages.
"""

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from course_utils.argument_checks import check_int

CLASS_NAMES = ("background", "text", "figure", "separator")
BACKGROUND, TEXT, FIGURE, SEPARATOR = 0, 1, 2, 3

# The larger set of region types a page can be labelled with (pass it as ``classes``).
# TABLE and HEADING are the indices of the two extra classes in this tuple.
EXTENDED_CLASS_NAMES = CLASS_NAMES + ("table", "heading")
TABLE, HEADING = 4, 5

# The class a region is labelled with when its own class is not requested.
_FALLBACK_CLASS = {"table": "figure", "heading": "text"}

# Smallest page the layout (margins, title, columns, a figure) fits into.
MIN_PAGE_SIZE = 64

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
_CAPITALS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_DIGITS = np.array(list("0123456789"))

# 4x4 Bayer matrix: thresholds for ordered dithering (halftone look of printed pictures).
_BAYER_4X4 = (
    np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.float32)
    + 0.5
) / 16.0

# scikit-image photos bundled in its wheel (no download needed). ``page`` and ``text`` are
# left out on purpose: a photo of text would teach the network that text is a figure.
_PHOTO_NAMES = ("camera", "astronaut", "coins", "moon", "chelsea", "coffee", "rocket",
                "clock", "horse")
# Sources are shrunk once so that cropping and resizing a figure costs well under 1 ms.
_PHOTO_MAX_SIDE = 320


@lru_cache(maxsize=16)
def _font(size):
    # Loading the font costs about a millisecond; pages reuse it.
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=16)
def _glyph_metrics(size):
    """(top offset of the glyphs below the drawing origin, mean width of a character)."""
    font = _font(size)
    top_offset = font.getbbox("Agy")[1]
    mean_char_width = max(1.0, font.getlength("etaoin shrdlu") / 13)
    return top_offset, mean_char_width


@lru_cache(maxsize=1)
def _photo_library():
    """The bundled photos as grey PIL images, loaded and shrunk once per process."""
    import skimage.data  # imported here: only pages with figures need scikit-image

    photos = []
    for name in _PHOTO_NAMES:
        pixels = np.asarray(getattr(skimage.data, name)())
        if pixels.dtype == bool:  # the horse is a silhouette: white horse on black
            pixels = np.where(pixels, 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels).convert("L")
        image.thumbnail((_PHOTO_MAX_SIDE, _PHOTO_MAX_SIDE), Image.BILINEAR)
        photos.append(image)
    return tuple(photos)


def _check_classes(classes):
    """Validate ``classes``; return the lookup table drawn kind -> requested class index.

    Regions are drawn with their kind's index in ``EXTENDED_CLASS_NAMES``; the table maps
    each kind to its index in ``classes`` (or to its fallback class's index).
    """
    if isinstance(classes, str) or not all(isinstance(name, str) for name in classes):
        raise ValueError(f"classes must be a sequence of class names, got {classes!r}")
    classes = tuple(classes)
    allowed = set(EXTENDED_CLASS_NAMES)
    unknown = [name for name in classes if name not in allowed]
    required = CLASS_NAMES  # every page has these regions, so they need a class
    if (
        unknown
        or len(set(classes)) != len(classes)
        or not classes
        or classes[0] != "background"
        or not set(required) <= set(classes)
    ):
        raise ValueError(
            "classes must start with 'background', contain each of "
            f"{required} once and may add 'table' and/or 'heading'; got {classes!r}"
        )
    lookup = [
        classes.index(name if name in classes else _FALLBACK_CLASS[name])
        for name in EXTENDED_CLASS_NAMES
    ]
    return np.array(lookup, dtype=np.uint8)


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


def _cell_text(rng):
    """Short content of a table cell: a number or a short word."""
    if rng.random() < 0.6:
        return "".join(rng.choice(_DIGITS, size=int(rng.integers(1, 5))))
    return "".join(rng.choice(_LETTERS, size=int(rng.integers(2, 6)))).capitalize()


def _dither(darkness, rng):
    """Binary halftone (True = ink) of a float image in [0, 1] where 1 = black."""
    height, width = darkness.shape
    if rng.random() < 0.5:
        # Floyd-Steinberg error diffusion, done in C by Pillow's conversion to mode "1"
        # (its white pixels are paper, so ink is where it is False).
        paper = Image.fromarray(((1.0 - darkness) * 255).astype(np.uint8)).convert("1")
        return ~np.asarray(paper)
    thresholds = np.tile(_BAYER_4X4, (height // 4 + 1, width // 4 + 1))[:height, :width]
    return darkness > thresholds


class _PageCanvas:
    """Ink image and label map being drawn; all coordinates are (row, col) in pixels.

    Labels are drawn as indices into ``EXTENDED_CLASS_NAMES``; ``make_page`` maps them to
    the requested classes at the end.
    """

    def __init__(self, height, width, line_height):
        self.height = height
        self.width = width
        self.line_height = line_height
        # Pillow draws the glyphs (mode "L": 255 = ink); numpy draws everything else.
        self.text_image = Image.new("L", (width, height), 0)
        self.text_draw = ImageDraw.Draw(self.text_image)
        self.ink = np.zeros((height, width), dtype=bool)
        self.labels = np.zeros((height, width), dtype=np.uint8)

    def text_line(self, rng, top, left, max_width, fill_fraction=1.0, glyph_height=None,
                  label=TEXT, text=None):
        """Draw one line of random words (or ``text``) in columns [left, left + max_width).

        ``glyph_height`` is the height of the line's label box (``line_height`` unless
        the line is a heading). Returns the column just right of the line's last glyph.
        """
        glyph_height = glyph_height or self.line_height
        font = _font(glyph_height + 1)
        top_offset, char_width = _glyph_metrics(glyph_height + 1)
        target_width = max(4, int(max_width * fill_fraction))
        if text is None:
            text = _random_words(rng, int(target_width / char_width) + 2)
        # Drop words from the end until the line fits the column.
        length = font.getlength(text)
        while length > target_width and " " in text:
            text = text.rsplit(" ", 1)[0]
            length = font.getlength(text)
        if length > target_width:
            text = text[: max(1, int(target_width / char_width) - 1)]
            length = font.getlength(text)
        # Glyph tops sit a pixel or two below the drawing origin: shift so ink fills the box.
        origin = (left, top - top_offset)
        self.text_draw.text(origin, text, font=font, fill=255)
        if label == HEADING and glyph_height >= 8:
            # Headings are bold: draw the glyphs a second time one pixel to the right.
            self.text_draw.text((left + 1, origin[1]), text, font=font, fill=255)
            length += 1
        right = min(left + max_width, left + int(np.ceil(length)))
        self.labels[top : top + glyph_height, left:right] = label
        return right

    def paragraph(self, rng, top, left, max_width, num_lines, line_pitch):
        """Draw a paragraph: first line indented, the last one shorter (ragged end)."""
        indent = 2 * self.line_height if rng.random() < 0.7 else 0
        for i in range(num_lines):
            last = i == num_lines - 1
            line_left = left + indent if i == 0 else left
            line_width = max_width - (line_left - left)
            fraction = rng.uniform(0.25, 0.9) if last else rng.uniform(0.95, 1.0)
            self.text_line(rng, top + i * line_pitch, line_left, line_width, fraction)

    def figure(self, rng, top, left, height, width):
        """Draw a dithered crop of a bundled photo into a rectangle; label it FIGURE."""
        photos = _photo_library()
        photo = photos[int(rng.integers(len(photos)))]
        # Largest crop with the rectangle's aspect ratio, then zoom in by a random factor.
        aspect = width / height
        crop_height = min(photo.height, photo.width / aspect)
        crop_height *= rng.uniform(0.5, 1.0)
        crop_width = crop_height * aspect
        crop_top = rng.uniform(0, photo.height - crop_height)
        crop_left = rng.uniform(0, photo.width - crop_width)
        box = (crop_left, crop_top, crop_left + crop_width, crop_top + crop_height)
        grey = photo.resize((width, height), Image.BILINEAR, box=box)
        darkness = 1.0 - np.asarray(grey, dtype=np.float32) / 255.0
        # Stretch the contrast (printers set black and white points), so a dull crop
        # still shows light and dark areas instead of an even grey dot pattern.
        low, high = np.percentile(darkness, (2, 98))
        darkness = np.clip((darkness - low) / max(high - low, 0.05), 0.0, 1.0)
        # Printing varies: random gamma makes some pictures lighter, others darker.
        darkness = darkness ** rng.uniform(0.7, 1.4)
        region = _dither(darkness, rng)
        if rng.random() < 0.5:  # a thin frame, as many printed figures have
            region[[0, -1], :] = True
            region[:, [0, -1]] = True
        self.ink[top : top + height, left : left + width] = region
        self.labels[top : top + height, left : left + width] = FIGURE

    def table(self, rng, top, left, height, width):
        """Draw a ruled grid with short text in its cells; label the box TABLE."""
        row_pitch = self.line_height + 4
        num_rows = max(2, height // row_pitch)
        num_cols = int(rng.integers(2, 5))
        height = num_rows * row_pitch + 1
        col_edges = np.linspace(left, left + width - 1, num_cols + 1).astype(int)
        full_grid = rng.random() < 0.5  # else only the frame and the rule under the header
        for r in range(num_rows + 1):
            if full_grid or r in (0, 1, num_rows):
                self.ink[top + r * row_pitch, left : left + width] = True
        for c, col in enumerate(col_edges):
            if full_grid or c in (0, num_cols):
                self.ink[top:top + height, col] = True
        for r in range(num_rows):
            for c in range(num_cols):
                cell_left = col_edges[c] + 2
                cell_width = col_edges[c + 1] - cell_left - 1
                if cell_width >= 4:
                    self.text_line(rng, top + r * row_pitch + 2, cell_left, cell_width,
                                   label=TABLE, text=_cell_text(rng))
        self.labels[top : top + height, left : left + width] = TABLE
        return height

    def horizontal_rule(self, row, left, right, thickness):
        self.ink[row : row + thickness, left:right] = True
        self.labels[max(0, row - 1) : row + thickness + 1, left:right] = SEPARATOR

    def vertical_rule(self, col, top, bottom, thickness):
        self.ink[top:bottom, col : col + thickness] = True
        self.labels[top:bottom, max(0, col - 1) : col + thickness + 1] = SEPARATOR

    def page(self):
        glyphs = np.asarray(self.text_image) >= 128
        return self.ink | glyphs


def _fill_column(canvas, rng, top, bottom, left, width, num_figures, num_tables, line_pitch):
    """Stack paragraphs, headings, figures, tables and rules from ``top`` down to ``bottom``."""
    line_height = canvas.line_height
    heading_height = _heading_height(line_height)
    gap = line_pitch
    # Spread figures and tables over the column: pick the rows where they go before drawing.
    upper_part = bottom - 0.3 * (bottom - top)
    figure_rows = sorted(rng.uniform(top, upper_part, size=num_figures))
    table_rows = sorted(rng.uniform(top, upper_part, size=num_tables))
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
                row += fig_height + gap // 2
                if rng.random() < 0.6 and bottom - row >= line_height:  # caption
                    canvas.text_line(rng, row, fig_left, fig_width, rng.uniform(0.4, 0.9))
                    row += line_height
            row += gap
            continue
        if table_rows and row >= table_rows[0] - 2 * gap:
            table_rows.pop(0)
            table_height = min(space, int(rng.integers(3, 7)) * (line_height + 4))
            if table_height >= 2 * (line_height + 4) + 1:
                row += canvas.table(rng, row, left, table_height, width) + gap
            continue
        if rng.random() < 0.15 and space > heading_height + gap + 2 * line_pitch:
            # A section heading, a bit taller than the text, placed over a paragraph.
            canvas.text_line(rng, row, left, width, rng.uniform(0.3, 0.7),
                             glyph_height=heading_height, label=HEADING)
            row += heading_height + gap // 2 + 1
            space = bottom - row
        max_lines = (space - line_height) // line_pitch + 1
        if max_lines < 1:
            break
        num_lines = int(min(max_lines, rng.integers(2, 9)))
        canvas.paragraph(rng, row, left, width, num_lines, line_pitch)
        row += (num_lines - 1) * line_pitch + line_height + gap
        if rng.random() < 0.2 and bottom - row > 3 * gap:
            thickness = int(rng.integers(1, 3))
            canvas.horizontal_rule(row - gap // 2 - thickness // 2, left, left + width, thickness)
            row += gap // 2


def _heading_height(line_height):
    return line_height + max(2, line_height // 3)


def _degrade(ink, labels, rng):
    """What scanning does to a page: rotation, ink spread/erosion, noise, blotches.

    Only the rotation moves content, so only it is applied to the labels as well (with
    nearest-neighbour sampling, which keeps label values valid). Noise and blotches are
    ink on paper that belongs to no region: their pixels keep their labels.
    """
    height, width = ink.shape
    # A slight skew of the page on the scanner glass.
    angle = rng.uniform(-2.0, 2.0)
    ink_image = Image.fromarray(ink.astype(np.uint8) * 255)
    ink = np.asarray(ink_image.rotate(angle, Image.NEAREST, fillcolor=0)) >= 128
    labels = np.asarray(Image.fromarray(labels).rotate(angle, Image.NEAREST, fillcolor=0))
    # Ink spreads (dilation) or fades (erosion) by about a pixel.
    choice = rng.random()
    structure = np.ones((1, 2), bool) if rng.random() < 0.5 else np.ones((2, 1), bool)
    if choice < 0.3:
        ink = ndimage.binary_dilation(ink, structure)
    elif choice < 0.6:
        ink = ndimage.binary_erosion(ink, structure, border_value=0)
    # A few ink blotches (stains, holes punched through a scan).
    rows, cols = np.ogrid[:height, :width]
    for _ in range(int(rng.integers(0, 4))):
        center_row, center_col = rng.uniform(0, height), rng.uniform(0, width)
        radius_row, radius_col = rng.uniform(1.5, 5.0, size=2) * max(1.0, height / 256)
        inside = ((rows - center_row) / radius_row) ** 2 + ((cols - center_col) / radius_col) ** 2
        ink = ink | (inside <= 1.0)
    # Salt-and-pepper noise: a small fraction of the pixels flip.
    flips = rng.random((height, width)) < rng.uniform(0.001, 0.01)
    ink = ink ^ flips
    return ink, np.ascontiguousarray(labels)


def make_page(seed, height=256, width=256, line_height=6, *, classes=CLASS_NAMES,
              degrade=False):
    """Draw one synthetic binary document page and its pixel labels.

    The layout is random but fully determined by ``seed``: a title (heading) with a rule
    under it, one or two columns (two only for pages at least 128 px wide) separated by a
    vertical rule, paragraphs and section headings, one or two dithered photos, sometimes
    a table, and a few horizontal rules. See the module docstring for the label
    convention and typical class frequencies.

    Args:
        seed: int (or sequence of ints) for ``numpy.random.default_rng``; the same seed
            (and options) always gives the same page.
        height: page height in pixels, int >= 64.
        width: page width in pixels, int >= 64.
        line_height: height of a text line in pixels (glyph box, the text label's
            height), int in [4, height // 8]. Lines are ``line_height + line_height // 2``
            pixels apart (at least 2 px of gap); headings are a third taller.
        classes: the class names to label with, a sequence that starts with
            "background", contains "text", "figure" and "separator" and may add "table"
            and/or "heading" (e.g. ``EXTENDED_CLASS_NAMES``). Class k is ``classes[k]``.
            Without "heading", headings are labelled "text"; without "table", tables are
            labelled "figure". The drawing is the same whichever classes you ask for.
        degrade: if True, make the page look scanned: rotate page and labels by up to 2
            degrees, thicken or thin the ink by a pixel, add a few ink blotches and 0.1-1 %
            salt-and-pepper noise (noise and blotches keep the labels underneath).

    Returns:
        (page, labels):
        page: float32 array (height, width), 1.0 = ink (black), 0.0 = paper (white).
        labels: uint8 array (height, width) of class indices into ``classes``.

    Raises:
        ValueError: if a size is not an integer in its range, or ``classes`` is not a
            valid set of class names.
    """
    check_int("height", height, MIN_PAGE_SIZE)
    check_int("width", width, MIN_PAGE_SIZE)
    check_int("line_height", line_height, 4, height // 8)
    class_lookup = _check_classes(classes)
    rng = np.random.default_rng(seed)
    canvas = _PageCanvas(height, width, line_height)
    line_pitch = line_height + max(2, line_height // 2)

    margin_rows = max(4, height // 16)
    margin_cols = max(4, width // 16)
    text_width = width - 2 * margin_cols

    # Title: a heading about twice as tall as the text, with a rule under it.
    row = margin_rows
    title_height = min(2 * line_height, height // 8)
    canvas.text_line(rng, row, margin_cols, text_width, rng.uniform(0.4, 0.8),
                     glyph_height=title_height, label=HEADING)
    row += title_height + line_pitch // 2
    canvas.horizontal_rule(row, margin_cols, width - margin_cols, int(rng.integers(1, 4)))
    row += 3 + line_pitch

    bottom = height - margin_rows
    num_columns = 2 if width >= 128 and rng.random() < 0.65 else 1
    num_figures = int(rng.integers(1, 3))
    num_tables = int(rng.random() < 0.4)
    if num_columns == 1:
        _fill_column(canvas, rng, row, bottom, margin_cols, text_width, num_figures,
                     num_tables, line_pitch)
    else:
        gutter = max(6, width // 24)
        column_width = (text_width - gutter) // 2
        first_column_figures = int(rng.integers(0, num_figures + 1))
        first_column_tables = int(rng.integers(0, num_tables + 1))
        for index in range(2):
            figures = first_column_figures if index == 0 else num_figures - first_column_figures
            tables = first_column_tables if index == 0 else num_tables - first_column_tables
            left = margin_cols + index * (column_width + gutter)
            _fill_column(canvas, rng, row, bottom, left, column_width, figures, tables,
                         line_pitch)
        thickness = int(rng.integers(1, 3))
        rule_col = margin_cols + column_width + (gutter - thickness) // 2
        canvas.vertical_rule(rule_col, row, bottom, thickness)

    ink, labels = canvas.page(), canvas.labels
    if degrade:
        ink, labels = _degrade(ink, labels, rng)
    return ink.astype(np.float32), class_lookup[labels]


def make_page_dataset(num_pages, seed=0, height=256, width=256, **page_options):
    """Draw ``num_pages`` pages; page ``i`` is ``make_page(seed=(seed, i), ...)``.

    Because each page has its own seed, the first k pages of a larger data set equal the
    pages of a data set of k pages with the same ``seed``.

    Args:
        num_pages: number of pages, int >= 1.
        seed: int; data sets with different seeds have different pages.
        height: page height in pixels, int >= 64.
        width: page width in pixels, int >= 64.
        **page_options: passed on to ``make_page``: ``line_height``, ``classes``,
            ``degrade``.

    Returns:
        (images, labels):
        images: float32 array (num_pages, height, width, 1), 1.0 = ink, 0.0 = paper
            (the channel axis is what Keras' Conv2D expects).
        labels: uint8 array (num_pages, height, width) of class indices.

    Raises:
        ValueError: if a size is not an integer in its range, or an option is invalid.
    """
    check_int("num_pages", num_pages, 1)
    check_int("height", height, MIN_PAGE_SIZE)
    check_int("width", width, MIN_PAGE_SIZE)
    images = np.empty((num_pages, height, width, 1), dtype=np.float32)
    labels = np.empty((num_pages, height, width), dtype=np.uint8)
    for i in range(num_pages):
        images[i, :, :, 0], labels[i] = make_page((seed, i), height, width, **page_options)
    return images, labels


def class_frequencies(labels, num_classes):
    """Fraction of the pixels in each class.

    Args:
        labels: integer array of any shape (e.g. (N, H, W)) of class indices in
            [0, num_classes).
        num_classes: number of classes, int >= 1.

    Returns:
        float64 array (num_classes,) that sums to 1.
    """
    check_int("num_classes", num_classes, 1)
    counts = np.bincount(np.asarray(labels).ravel(), minlength=num_classes)
    if len(counts) > num_classes:
        raise ValueError(f"labels must be < num_classes={num_classes}, got {len(counts) - 1}")
    return counts / max(1, counts.sum())


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
