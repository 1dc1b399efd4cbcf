# Settings shared by the hub scripts (sourced by setup.sh and grade.sh, never run alone):
# where the repository and its virtualenv are, and who the instructor is. Each can be
# overridden with the SEGCOURSE_HUB_* variable named beside it.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV_BIN="${SEGCOURSE_HUB_VENV_BIN:-$REPO/.venv/bin}"
INSTRUCTOR="${SEGCOURSE_HUB_INSTRUCTOR:-instructor}"

# require_root SCRIPT WHY: stop with a message unless running as root.
require_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$1: needs root ($2): run it with sudo" >&2
        exit 1
    fi
}
