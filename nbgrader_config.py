# nbgrader reads this file when run from the repository root (the `nbgrader` CLI,
# JupyterLab's formgrader). The configuration itself lives in autograder/course.py.
import os

from autograder.course import course_config

c = get_config()  # noqa: F821 (provided by nbgrader's config loader)
c.merge(course_config(os.path.dirname(os.path.abspath(__file__))))
