#!/usr/bin/env bash
# Prepare this machine to run the course on JupyterHub (see deploy/jupyterhub/README.md).
# Idempotent: a second run reuses the users, passwords, folders and files of the first.
#
#   sudo deploy/jupyterhub/setup.sh        (`make hub` runs it, then starts the hub)
#
# Makes, as root:
#   - local users: the instructor and the students (SEGCOURSE_HUB_INSTRUCTOR, SEGCOURSE_HUB_STUDENTS),
#     each with a random password for PAM login, kept in $STATE/passwords (root only, 0600);
#   - the exchange /srv/nbgrader/exchange (1777: everybody writes, nobody removes another's files),
#     and /etc/jupyter/nbgrader_config.py naming it and the course id;
#   - the instructor's course folder ~instructor/course (a copy of solutions/, exercises/ and
#     nbgrader_config.py; never overwritten once there) and ~instructor/.jupyter/nbgrader_config.py
#     pointing nbgrader at it;
#   - per-user JupyterLab settings: students see the Assignments tab only (no formgrader, course list
#     or create-assignment toolbar), the instructor sees everything;
#   - configurable-http-proxy in deploy/jupyterhub/node_modules (npm, pinned in package.json).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/settings.sh"
require_root deploy/jupyterhub/setup.sh "it creates users, /srv/nbgrader and /etc/jupyter"

STATE="${SEGCOURSE_HUB_STATE:-/srv/segcourse-hub}"
EXCHANGE="${SEGCOURSE_HUB_EXCHANGE:-/srv/nbgrader/exchange}"
STUDENTS="${SEGCOURSE_HUB_STUDENTS:-student1 student2}"
COURSE_ID="$("$VENV_BIN/python" -c 'from autograder.course import COURSE_ID; print(COURSE_ID)')"
"$VENV_BIN/python" -c 'import jupyterhub' 2>/dev/null || {
    echo "setup.sh: jupyterhub is not installed in $VENV_BIN: pip install -e '.[hub]' (make hub does)" >&2; exit 1; }

say() { echo "hub setup: $*"; }

# --- the proxy (npm) --------------------------------------------------------------------------------
if [ ! -x "$HERE/node_modules/.bin/configurable-http-proxy" ] || [ "$HERE/package.json" -nt "$HERE/node_modules/.installed" ]; then
    command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm; }
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$HERE/node_modules/.installed"
    say "configurable-http-proxy $("$HERE/node_modules/.bin/configurable-http-proxy" --version) installed in $HERE/node_modules"
fi

# --- users and their passwords -------------------------------------------------------------------------
install -d -m 0700 -o root -g root "$STATE"
touch "$STATE/passwords" && chmod 0600 "$STATE/passwords"
for user in $INSTRUCTOR $STUDENTS; do
    if ! id -u "$user" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/bash "$user"
        say "user $user created"
    fi
    if ! grep -q "^$user:" "$STATE/passwords"; then
        echo "$user:$("$VENV_BIN/python" -c 'import secrets; print(secrets.token_urlsafe(12))')" >> "$STATE/passwords"
        say "password of $user written to $STATE/passwords"
    fi
    grep "^$user:" "$STATE/passwords" | chpasswd
    # Nobody reads another's home: a student's work and feedback, the instructor's solutions.
    chmod 0700 "$(getent passwd "$user" | cut -d: -f6)"
done

# --- the exchange and the system nbgrader config ---------------------------------------------------
install -d -m 0755 "$(dirname "$EXCHANGE")"
install -d -m 1777 "$EXCHANGE"
chmod 1777 "$EXCHANGE"
install -d -m 0755 /etc/jupyter
cat > /etc/jupyter/nbgrader_config.py.new <<EOF
# Written by $REPO/deploy/jupyterhub/setup.sh: the course's shared exchange, for every user.
c = get_config()  # noqa: F821
c.Exchange.root = "$EXCHANGE"
c.CourseDirectory.course_id = "$COURSE_ID"
EOF
mv /etc/jupyter/nbgrader_config.py.new /etc/jupyter/nbgrader_config.py
chmod 0644 /etc/jupyter/nbgrader_config.py

# --- per-user Jupyter settings ----------------------------------------------------------------------
# write_as USER PATH: standard input into PATH, owned by USER (folders too)
write_as() {
    local user="$1" path="$2"
    runuser -u "$user" -- mkdir -p "$(dirname "$path")"
    runuser -u "$user" -- tee "$path" >/dev/null
}
NO_NEWS='"@jupyterlab/apputils-extension:announcements": true'
for user in $STUDENTS; do
    home="$(getent passwd "$user" | cut -d: -f6)"
    write_as "$user" "$home/.jupyter/labconfig/page_config.json" <<EOF
{"disabledExtensions": {"@jupyter/nbgrader:formgrader": true, "@jupyter/nbgrader:course-list": true,
                        "@jupyter/nbgrader:create-assignment": true, $NO_NEWS}}
EOF
    write_as "$user" "$home/.jupyter/jupyter_server_config.json" <<EOF
{"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": false,
                                       "nbgrader.server_extensions.course_list": false}}}
EOF
done

home="$(getent passwd "$INSTRUCTOR" | cut -d: -f6)"
COURSE_DIR="$home/course"
write_as "$INSTRUCTOR" "$home/.jupyter/labconfig/page_config.json" <<EOF
{"disabledExtensions": {$NO_NEWS}}
EOF
# The formgrader opens in a frame inside JupyterLab, which JupyterHub's single-user default
# forbids ("frame-ancestors 'none'"); the instructor's server allows frames from this origin
# (Jupyter Server's own default). Students' servers keep the hub's default.
write_as "$INSTRUCTOR" "$home/.jupyter/jupyter_server_config.json" <<EOF
{"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}}}
EOF
# nbgrader reads this, then nbgrader_config.py of the course folder it names
write_as "$INSTRUCTOR" "$home/.jupyter/nbgrader_config.py" <<EOF
c = get_config()  # noqa: F821
c.CourseDirectory.root = "$COURSE_DIR"
EOF
if [ ! -d "$COURSE_DIR" ]; then
    runuser -u "$INSTRUCTOR" -- mkdir -p "$COURSE_DIR"
    cp -r "$REPO/solutions" "$REPO/exercises" "$REPO/nbgrader_config.py" "$COURSE_DIR/"
    chown -R "$INSTRUCTOR:" "$COURSE_DIR"
    say "course folder $COURSE_DIR copied from $REPO"
fi

# --- every user runs the project's environment -----------------------------------------------------------
# The users need to reach the repository, its .venv and the Python the venv was made from (pyenv
# keeps that under /root, 0700): give others search permission (o+x, not listing) on each folder
# above them that lacks it.
BASE_PYTHON="$("$VENV_BIN/python" -c 'import os, sys; print(os.path.realpath(sys.executable))')"
for target in "$REPO" "$VENV_BIN" "$BASE_PYTHON"; do
    folder="$(dirname "$target")"
    [ -d "$target" ] && folder="$target"
    while [ "$folder" != / ]; do
        if [ "$(( 0$(stat -c %a "$folder") & 1 ))" = 0 ]; then
            chmod o+x "$folder"
            say "gave others search permission (o+x) on $folder, so the users reach $target"
        fi
        folder="$(dirname "$folder")"
    done
done
for user in $INSTRUCTOR $STUDENTS; do
    if ! runuser -u "$user" -- "$VENV_BIN/python" -c 'import course_utils, autograder, nbgrader' 2>/dev/null; then
        echo "setup.sh: $user cannot run $VENV_BIN/python with the course installed: make $REPO and its .venv" \
             "readable by all (chmod -R a+rX $REPO and o+x on its parent folders)" >&2
        exit 1
    fi
done
say "ready: users $INSTRUCTOR $STUDENTS, exchange $EXCHANGE, course $COURSE_DIR, passwords in $STATE/passwords"
