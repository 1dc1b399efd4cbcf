"""The course as a static HTML site: every lecture and released exercise, executed, in course order.

``make site`` (``python -m course_site``) writes ``build/site/``:

- ``index.html``: the lectures in order, each followed by the exercises the README's course
  table grades after it;
- ``lectures/NN_name.html`` and ``exercises/NAME.html``: one page per notebook, executed on a
  fresh kernel (``COURSE_FAST=1``, widgets forced to their static figures), figures embedded,
  with previous / index / next links in course order.

Only ``lectures/`` and the release ``exercises/`` are read, never ``solutions/``: an exercise
still holding nbgrader solution or hidden-test markers is refused. The exercises run
unanswered, so their answer stubs raise ``NotImplementedError``; each error output becomes a
short note instead of a traceback.

Formulas are converted to MathML when the site is built (``mathml``), so no page loads a
script from the network.

Modules: ``pages`` (the course order, link rewriting, output clean-up; no execution),
``mathml`` (TeX to MathML) and ``build`` (execution on parallel kernels, HTML, the index,
the command line).
"""

from course_site.pages import Page, course_pages

__all__ = ["Page", "course_pages"]
