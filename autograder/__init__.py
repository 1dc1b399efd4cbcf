"""autograder: grading machinery of the course, on top of nbgrader.

- ``course``: the nbgrader course configuration and every grading default (one place,
  used by ``nbgrader_config.py`` and by the ``segcourse`` command).
- ``nbgrader_steps``: the preprocessors of each nbgrader step, built from nbgrader's own
  default lists (``Execute`` replaced, ``SanitizeStudentHtml``, hidden tests hidden).
- ``nbgrader_api``: release, gradebook sync, autograde, feedback and export through
  nbgrader's API.
- ``noise``: which stderr output is log noise and must not fail a test.
- ``feedback``: hidden tests shown by their docstring and message, never their code.
- ``demo_class``: the sample submissions of the demo and the scores they deserve.
- ``sandbox``: bubblewrap / container / no-sandbox runners with resource limits;
  ``warm_sandbox``: bubblewrap jobs forked from a server per worker slot that imported
  TensorFlow once, ``kernel_forkserver`` being that server (it runs inside the sandbox).
- ``harness``: the only grader code that runs inside the sandbox (no answers in it);
  ``harness_protocol``: the record kinds, statuses and file names it shares with ``trusted``.
- ``trusted``: sanitize submissions, stage probes, judge results, ``TrustedVerdicts``.
- ``references``: trusted checks per assignment (never mounted in the sandbox), their
  NumPy math (``numpy_reference``) and result readers (``harness_data``).
- ``submissions``: one student's submission read on the trusted side (``SubmissionTask``).
- ``sandboxed_run``: one submission on a worker: rebuild, run in the sandbox, judge.
- ``worker_slots``: how many run at once, and on which GPU.
- ``engines``: local threads or Dask workers that run the sandboxed submissions.
- ``batch``: the batch itself, with one gradebook writer; ``batch_report``: its summary
  table and JSON report; ``text_table``: plain-text tables.
- ``grading_path``: ``SandboxedGrading``, nbgrader's ``Execute`` replaced in the course
  config, so ``nbgrader autograde`` and the formgrader's Autograde button grade through
  the sandbox and the trusted checks too (or refuse).
- ``gradebook``: checks before and after a batch, verified backups and restore;
  ``student_recorder``: one transaction per student; ``course_lock``: one batch per
  course; ``gradebook_errors``: database failures in one line; ``atomic_files``: output
  files written by rename.
- ``stopping``: Ctrl-C and SIGTERM during a batch (finish the running, then stop).
- ``late``: the late-penalty plugin (points per time unit late).
- ``source_rewrite`` and ``library_edition``: the grading edition of ``course_utils``
  (no function that computes the graded assignment's answers).
- ``student_kit`` (a package): what an enrolled student receives (no answers): the
  build, the self-checks' stored values, the scan for answers.
- ``scaffold`` (and ``templates/new_assignment/``): ``segcourse new-assignment NAME``.
- ``cli``: the ``segcourse`` instructor command (parser, dispatch, grading steps the
  commands share); ``demo_command``: ``segcourse demo``; ``exchange_commands``:
  ``segcourse status``, ``release``, ``collect`` and ``release-feedback``.

Reference answers for hidden checks live in this package, never in ``course_utils``
or in anything students receive. ``course_utils`` never imports ``autograder``.
"""
