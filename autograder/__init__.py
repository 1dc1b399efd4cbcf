"""autograder: grading machinery of the course, on top of nbgrader.

- ``course``: the nbgrader course configuration (one place, used by
  ``nbgrader_config.py`` and by the ``segcourse`` command).
- ``noise``: which stderr output is log noise and must not fail a test.
- ``pipeline``: release, autograde, feedback and export through nbgrader's API.
- ``demo_class``: the sample submissions of the demo and the scores they deserve.
- ``cli``: the ``segcourse`` instructor command.

Reference answers for hidden checks live in this package, never in ``course_utils``
or in anything students receive. ``course_utils`` never imports ``autograder``.
"""
