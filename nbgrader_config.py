# nbgrader reads this file when run from the repository root (the `nbgrader` CLI,
# JupyterLab's formgrader). The configuration itself lives in autograder/course.py.
# Its autograde step runs each submission in the sandbox and scores it with the trusted
# checks, as `segcourse grade` does (autograder/grading_path.py), or refuses.
import os

from autograder.course import course_config

c = get_config()  # noqa: F821 (provided by nbgrader's config loader)
c.merge(course_config(os.path.dirname(os.path.abspath(__file__))))
