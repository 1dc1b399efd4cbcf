"""Interactive explorers for the lecture: transposed convolution, sliding window, unpooling, metrics.

Every explorer comes in two layers:

- ``compute_*`` and ``draw_*`` functions: plain NumPy/matplotlib. ``draw_*(ax, ...)`` draws
  one state onto matplotlib Axes you pass in and returns the numbers it shows (a dict), so
  you can call it in a script, a test or a static notebook (Agg backend, no front end).
- ``*_widget(...)`` functions: sliders (ipywidgets) around the drawing function. Each
  returns an :class:`Explorer`, an ``ipywidgets.VBox`` of the controls, a one-line summary
  and a plot area. ``explorer.result`` always holds the numbers of the current slider
  values, ``explorer.update()`` recomputes them.

Live or static (the ``static`` argument of every widget function):

- ``static=False`` (live): the plot is drawn inside the widget and redrawn whenever a
  slider moves. Needs a widget front end (JupyterLab, Notebook 7, VS Code).
- ``static=True``: the figure of the *initial* values is drawn as an ordinary matplotlib
  figure (displayed when running in a notebook kernel) and kept in
  ``explorer.static_figure``; the sliders still work if a front end shows them.
- ``static=None`` (default): live if :func:`widget_front_end_available` says a front end
  will render the widgets, else static. So a notebook executed by nbconvert/nbclient in CI
  keeps a picture of every explorer in its outputs, while JupyterLab shows live sliders.
  Set the environment variable ``SEGCOURSE_WIDGETS=static`` (or ``live``) to force a mode.

Whatever the mode, moving a slider in a running kernel redraws the plot area, so an
explorer never goes dead because the detection guessed wrong.

The grids are drawn with row 0 at the top, as images are indexed.

Modules: ``explorer`` (the ``Explorer`` and live-or-static detection), ``grid_drawing``
(unit-cell grids and colours), one module per topic: ``transposed_conv_explorers``,
``sliding_window_explorer``, ``unpooling_explorer``, ``metric_explorers``. Import the
names from the package: ``from course_utils import widgets; widgets.threshold_widget()``.
"""

from course_utils.widgets.explorer import Explorer, widget_front_end_available
from course_utils.widgets.metric_explorers import (
    compute_overlap,
    compute_threshold_curve,
    draw_metric_playground,
    draw_threshold,
    make_probability_map,
    metric_playground_widget,
    rectangle_mask,
    threshold_widget,
)
from course_utils.widgets.sliding_window_explorer import (
    compute_sliding_window_cost,
    draw_sliding_window,
    sliding_window_widget,
)
from course_utils.widgets.transposed_conv_explorers import (
    compute_conv_and_transposed,
    compute_transposed_conv,
    conv_and_transposed_widget,
    draw_conv_and_transposed,
    draw_transposed_conv,
    transposed_conv_widget,
)
from course_utils.widgets.unpooling_explorer import compute_unpooling, draw_unpooling, unpooling_widget

__all__ = [
    "Explorer",
    "widget_front_end_available",
    # transposed convolution
    "compute_transposed_conv",
    "draw_transposed_conv",
    "transposed_conv_widget",
    # convolution next to transposed convolution
    "compute_conv_and_transposed",
    "draw_conv_and_transposed",
    "conv_and_transposed_widget",
    # sliding window
    "compute_sliding_window_cost",
    "draw_sliding_window",
    "sliding_window_widget",
    # unpooling
    "compute_unpooling",
    "draw_unpooling",
    "unpooling_widget",
    # metrics
    "rectangle_mask",
    "compute_overlap",
    "draw_metric_playground",
    "metric_playground_widget",
    "make_probability_map",
    "compute_threshold_curve",
    "draw_threshold",
    "threshold_widget",
]
