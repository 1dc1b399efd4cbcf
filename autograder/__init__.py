"""autograder: grading machinery of the course, on top of nbgrader.

- ``course``: the nbgrader course configuration (one place, used by
  ``nbgrader_config.py`` and by the ``segcourse`` command).
- ``noise``: which stderr output is log noise and must not fail a test.
- ``pipeline``: release, autograde, feedback and export through nbgrader's API.
- ``demo_class``: the sample submissions of the demo and the scores they deserve.
- ``sandbox``: bubblewrap / container / no-sandbox runners with resource limits.
- ``harness``: the only grader code that runs inside the sandbox (no answers in it).
- ``trusted``: sanitize submissions, stage probes, judge results, ``TrustedVerdicts``.
- ``references``: trusted checks per assignment (never mounted in the sandbox).
- ``batch``: parallel sandboxed grading with one gradebook writer; GPU slots; integrity.
- ``grading_path``: ``SandboxedGrading``, nbgrader's ``Execute`` replaced in the course
  config, so ``nbgrader autograde`` and the formgrader's Autograde button grade through
  the sandbox and the trusted checks too (or refuse); gradebook errors in one line.
- ``gradebook``: checks before and after a batch, verified backups and restore, one
  transaction per student, the course lock, files written by rename.
- ``stopping``: Ctrl-C and SIGTERM during a batch (finish the running, then stop).
- ``engines``: local threads or Dask workers that run the sandboxed submissions.
- ``late``: the late-penalty plugin (points per time unit late).
- ``source_rewrite`` and ``library_edition``: the grading edition of ``course_utils``
  (no function that computes the graded assignment's answers).
- ``student_kit``: what an enrolled student receives (no answers).
- ``cli``: the ``segcourse`` instructor command.

Reference answers for hidden checks live in this package, never in ``course_utils``
or in anything students receive. ``course_utils`` never imports ``autograder``.
"""
