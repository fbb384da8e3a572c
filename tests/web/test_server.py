"""`dealpilot serve`: gunicorn and the task worker start together and stop together."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from dealpilot.web.server import Supervisor, _bind_address, gunicorn_command, scheduler_command, worker_command
from tests.exports import small_salesforce_export, zip_folder

PY = sys.executable
SLEEPER = [PY, "-c", "import time; time.sleep(60)"]
STUBBORN = [PY, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def signal_me_later(signum: int, delay: float) -> threading.Timer:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_commands():
    cmd = gunicorn_command("127.0.0.1", 8123, 3)
    assert cmd[:4] == [PY, "-m", "gunicorn", "dealpilot.wsgi:application"]
    assert cmd[cmd.index("--bind") + 1] == "127.0.0.1:8123" and cmd[cmd.index("--workers") + 1] == "3"
    assert worker_command() == [PY, "-m", "django", "db_worker"]
    assert scheduler_command() == [PY, "-m", "dealpilot.notifications.scheduler"]
    assert _bind_address("::1", 80) == "[::1]:80" and _bind_address("0.0.0.0", 80) == "0.0.0.0:80"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_child(signum):
    supervisor = Supervisor({"a": SLEEPER, "b": SLEEPER}, env=dict(os.environ), grace=5)
    timer = signal_me_later(signum, 1.0)
    started = time.monotonic()
    assert supervisor.run() == 0
    timer.join()
    assert time.monotonic() - started < 10
    assert all(p.returncode is not None for p in supervisor.processes.values())
    assert signal.getsignal(signum) is not supervisor._on_signal  # handlers restored


def test_when_one_child_dies_the_other_is_stopped_and_its_status_returned():
    supervisor = Supervisor({"crasher": [PY, "-c", "import sys; sys.exit(3)"], "sleeper": SLEEPER}, env=dict(os.environ), grace=5)
    assert supervisor.run() == 3
    assert supervisor.processes["sleeper"].returncode == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    supervisor = Supervisor({"stubborn": STUBBORN}, env=dict(os.environ), grace=1)
    timer = signal_me_later(signal.SIGTERM, 1.5)
    assert supervisor.run() == 0
    timer.join()
    assert supervisor.processes["stubborn"].returncode == -signal.SIGKILL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def children_of(pid: int) -> dict[int, str]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return found


def django_shell(env: dict, code: str) -> str:
    return subprocess.run([PY, "-c", "import django; django.setup(); " + code], env=env, check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the child processes")
def test_serve_forever_runs_the_web_app_the_worker_and_the_scheduler_and_ctrl_c_stops_them(tmp_path):
    env = {**os.environ, "DEALPILOT_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "dealpilot.settings"}
    env.pop("DATABASE_URL", None)  # its own SQLite file in the temporary data folder
    subprocess.run([PY, "-m", "django", "migrate", "-v", "0"], env=env, check=True, timeout=120)
    port = free_port()
    server = subprocess.Popen(
        [PY, "-c", f"import sys; from dealpilot.web.server import serve_forever; sys.exit(serve_forever('127.0.0.1', {port}, 1))"],
        env=env, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/api/health") == b'{"status": "ok"}'
        assert b"Sign in" in wait_for(f"{base}/login/")
        assert b"--primary" in wait_for(f"{base}/static/web/dealpilot.css")  # WhiteNoise serves app static files
        assert b"htmx" in wait_for(f"{base}/static/django_htmx/htmx-2.min.js")

        children = children_of(server.pid)
        assert len(children) == 3, children
        assert any("gunicorn" in cmd for cmd in children.values()) and any("db_worker" in cmd for cmd in children.values())
        assert any("dealpilot.notifications.scheduler" in cmd for cmd in children.values())

        # the worker really runs background tasks: an import started as the web does it finishes
        export = zip_folder(small_salesforce_export(tmp_path / "sf"), tmp_path / "sf.zip")
        run_id = django_shell(env, "from pathlib import Path; from dealpilot.imports.services import start_import; "
                                   f"print(start_import('salesforce', Path({str(export)!r})).pk)")
        status_code = f"from dealpilot.imports.models import ImportRun; print(ImportRun.objects.get(pk={run_id}).status)"
        deadline = time.monotonic() + 90
        while (status := django_shell(env, status_code)) in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert status == "done"

        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert server.wait(timeout=30) == 0
        for pid in children:
            assert not alive(pid), children[pid]
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{base}/api/health", timeout=2)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
