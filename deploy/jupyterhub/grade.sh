#!/usr/bin/env bash
# Grade one assignment of the hub's course with `segcourse grade`, as root:
#
#   sudo deploy/jupyterhub/grade.sh fcn_basics [segcourse grade options]
#
# The sandbox that runs student code (bubblewrap) needs root, so the instructor's own JupyterLab
# cannot grade (its formgrader's Autograde button refuses: no sandbox). Run this after
# `nbgrader collect NAME` (as the instructor); then, as the instructor, `nbgrader release_feedback NAME`.
# Everything it writes in the course folder is given back to the instructor.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/settings.sh"
require_root deploy/jupyterhub/grade.sh "the grading sandbox, bubblewrap, does"
if [ $# -lt 1 ]; then
    echo "usage: deploy/jupyterhub/grade.sh ASSIGNMENT [segcourse grade options]" >&2
    exit 2
fi
COURSE_DIR="$(getent passwd "$INSTRUCTOR" | cut -d: -f6)/course"
ASSIGNMENT="$1"
shift
RUNTIME="$COURSE_DIR/.grading"

status=0
(cd "$COURSE_DIR" && PATH="$VENV_BIN:$PATH" "$VENV_BIN/segcourse" --course-dir "$COURSE_DIR" grade "$ASSIGNMENT" "$@") \
    || status=$?
chown -R "$INSTRUCTOR:" "$RUNTIME"
exit $status
