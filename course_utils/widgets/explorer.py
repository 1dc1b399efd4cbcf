"""The ``Explorer`` every widget returns: controls, a summary line and a plot, live or static.

Live or static is decided by :func:`widget_front_end_available` (see the package docstring).
"""

import os

import ipywidgets
import matplotlib.pyplot as plt

from course_utils.settings import widget_mode


def ipython_kernel():
    """The running IPython shell if it talks to a kernel (a notebook), else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


def widget_front_end_available():
    """Guess whether a front end will render ipywidgets in this process.

    True when ``SEGCOURSE_WIDGETS=live``; False when ``SEGCOURSE_WIDGETS=static``.
    Otherwise True only inside a notebook kernel started by a Jupyter server (which sets
    ``JPY_SESSION_NAME``, JupyterLab and Notebook 7) or by VS Code (``VSCODE_PID``).
    Kernels started by nbconvert/nbclient (CI, autograding) set neither, and plain
    Python (scripts, pytest) has no kernel at all: both get static figures.
    """
    forced = widget_mode()
    if forced is not None:
        return forced == "live"
    if ipython_kernel() is None:
        return False
    return "JPY_SESSION_NAME" in os.environ or "VSCODE_PID" in os.environ


def show_and_close(figure):
    """Display a figure in the notebook (if any) and close it, so inline plotting does
    not show it a second time at the end of the cell."""
    if ipython_kernel() is not None:
        from IPython.display import display

        display(figure)
        plt.close(figure)


class Explorer(ipywidgets.VBox):
    """Controls, a one-line summary and a plot area that follows the controls.

    Attributes:
        controls: dict name -> ipywidgets control; their values are the keyword
            arguments of ``compute`` and ``draw``.
        result: dict of the numbers for the current values (from ``compute``).
        summary: ``ipywidgets.HTML`` showing ``describe(result)``.
        output: ``ipywidgets.Output`` the live plot is drawn into.
        static_figure: the matplotlib figure drawn in static mode, else None.
        live: whether the explorer started in live mode.
    """

    def __init__(self, title, controls, compute, draw, describe, figsize, num_axes=1,
                 static=None):
        super().__init__()
        self.title = title
        self.controls = dict(controls)
        self._compute, self._draw, self._describe = compute, draw, describe
        self._figsize, self._num_axes = figsize, num_axes
        self.summary = ipywidgets.HTML()
        self.output = ipywidgets.Output()
        self.children = [
            ipywidgets.HTML(f"<b>{title}</b>"),
            ipywidgets.HBox(list(self.controls.values()), layout=ipywidgets.Layout(flex_flow="row wrap")),
            self.summary,
            self.output,
        ]
        self.live = widget_front_end_available() if static is None else not static
        self.static_figure = None
        self.result = {}
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()
        if self.live:
            self._redraw()
        else:
            self.static_figure = self.figure()
            show_and_close(self.static_figure)

    def values(self):
        """The current control values as a dict (the keyword arguments of compute/draw)."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self):
        """Recompute ``result`` (and the summary line) from the current control values."""
        self.result = self._compute(**self.values())
        self.summary.value = self._describe(self.result)
        return self.result

    def figure(self):
        """A new matplotlib figure of the current values (the caller closes it)."""
        figure, axes = plt.subplots(1, self._num_axes, figsize=self._figsize, squeeze=False)
        axes = axes[0]
        self._draw(axes[0] if self._num_axes == 1 else axes, **self.values())
        figure.tight_layout()
        return figure

    def _redraw(self):
        # Without a kernel nobody could see the plot: skip the drawing work.
        if ipython_kernel() is None:
            return
        from IPython.display import clear_output, display

        with self.output:
            clear_output(wait=True)
            figure = self.figure()
            display(figure)
            plt.close(figure)

    def _on_change(self, change):
        self.update()
        self._redraw()

    def __repr__(self):
        # The text nbconvert keeps when no front end renders the widget.
        return f"{self.title}: {self._describe(self.result)}"


def int_slider(description, value, minimum, maximum, step=1):
    """An integer slider that reports its value when released (not while dragged)."""
    return ipywidgets.IntSlider(
        value=value, min=minimum, max=maximum, step=step, description=description,
        continuous_update=False, style={"description_width": "initial"},
    )
