# JupyterHub for the course: local system users log in with their passwords (PAM) and each gets
# a JupyterLab server started as that user from the project's environment (.venv). Prepared by
# setup.sh (users, exchange, per-user settings); started by `make hub` as root.
#
# Environment (all optional): SEGCOURSE_HUB_PORT (8000; the hub's own API uses PORT+81, the
# proxy's API PORT+1), SEGCOURSE_HUB_STATE (/srv/segcourse-hub: database, cookie secret),
# SEGCOURSE_HUB_INSTRUCTOR (instructor), SEGCOURSE_HUB_STUDENTS ("student1 student2").
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("SEGCOURSE_HUB_STATE", "/srv/segcourse-hub"))
PORT = int(os.environ.get("SEGCOURSE_HUB_PORT", "8000"))
INSTRUCTOR = os.environ.get("SEGCOURSE_HUB_INSTRUCTOR", "instructor")
STUDENTS = os.environ.get("SEGCOURSE_HUB_STUDENTS", "student1 student2").split()

c = get_config()  # noqa: F821 (provided by JupyterHub's config loader)

# Only this machine: put a TLS-terminating reverse proxy in front to serve a class.
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 81
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 1}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / f"proxy-{PORT}.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / f"jupyterhub-{PORT}.pid")

# Local users, PAM passwords; nobody else may log in, and nobody is a hub admin.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = {INSTRUCTOR, *STUDENTS}
c.Authenticator.admin_users = set()

# Each user's JupyterLab, from the course's environment, as that user (LocalProcessSpawner),
# in their home folder (the instructor's holds the course folder ~/course).
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",     # nbgrader runs alembic from PATH
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
# Importing Keras in a first kernel takes half a minute on a busy small machine.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.JupyterHub.shutdown_on_logout = False
c.JupyterHub.cleanup_servers = True
