"""`dealpilot serve`: the web app (gunicorn), the background task worker and the scheduler
(notifications.scheduler), started together and stopped together.

Both run as child processes in their own process group, so a Ctrl-C in the terminal reaches
only this supervisor, which then asks each child to stop (SIGTERM), waits for them, and kills
what is still running after a grace period. If either child dies, the other is stopped too and
`serve_forever` returns that child's exit status (a half-running server is worse than none).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

SETTINGS_MODULE = "dealpilot.settings"
GRACE_SECONDS = 15.0


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _gunicorn_has_control_socket() -> bool:
    try:
        from gunicorn import config
    except ImportError:
        return False
    return hasattr(config, "ControlSocketDisable")


def gunicorn_command(host: str, port: int, workers: int) -> list[str]:
    # gthread workers: a long upload or a slow page does not get its worker killed by the
    # heartbeat timeout, and one worker serves the progress polls while another upload runs.
    command = [
        sys.executable, "-m", "gunicorn", "dealpilot.wsgi:application",
        "--bind", _bind_address(host, port),
        "--workers", str(max(1, workers)),
        "--worker-class", "gthread", "--threads", "4",
        "--graceful-timeout", str(int(GRACE_SECONDS) - 5),
        "--access-logfile", "-",
    ]
    if _gunicorn_has_control_socket():
        # newer gunicorns open a control socket at one fixed path in the home folder, which a
        # second dealpilot (or a test) would fight over; dealpilot does not use it
        command.append("--no-control-socket")
    return command


def worker_command() -> list[str]:
    return [sys.executable, "-m", "django", "db_worker"]


def scheduler_command() -> list[str]:
    return [sys.executable, "-m", "dealpilot.notifications.scheduler"]


def _preexec() -> None:
    """In the child: its own process group (Ctrl-C goes to the supervisor only), and on Linux
    a SIGTERM when the supervisor dies, so no child outlives it."""
    os.setpgrp()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class Supervisor:
    """Starts commands, watches them, stops them all when one ends or a signal arrives."""

    def __init__(self, commands: dict[str, Sequence[str]], *, env: dict[str, str] | None = None, grace: float = GRACE_SECONDS):
        self.commands = commands
        self.env = env if env is not None else _child_env()
        self.grace = grace
        self.processes: dict[str, subprocess.Popen] = {}
        self._stop_signal: int | None = None

    def _on_signal(self, signum, frame) -> None:
        self._stop_signal = signum

    def start(self) -> None:
        for name, command in self.commands.items():
            self.processes[name] = subprocess.Popen(list(command), env=self.env, preexec_fn=_preexec)

    def stop(self) -> None:
        """SIGTERM to every child still running; SIGKILL to those that outlast the grace period."""
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + self.grace
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def run(self) -> int:
        """Run until a signal (returns 0) or until a child exits (returns its status, or 1)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        status = 0
        try:
            self.start()
            while self._stop_signal is None:
                ended = [(name, p.returncode) for name, p in self.processes.items() if p.poll() is not None]
                if ended:
                    name, code = ended[0]
                    print(f"dealpilot: the {name} stopped (exit status {code}); stopping the rest", file=sys.stderr)
                    status = code or 1
                    break
                time.sleep(0.2)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status


def serve_forever(host: str = "127.0.0.1", port: int = 8000, workers: int = 2) -> int:
    """Serve dealpilot on host:port with `workers` web processes plus the task worker, until
    Ctrl-C or SIGTERM. Listens on the loopback address unless told otherwise."""
    supervisor = Supervisor({"web server": gunicorn_command(host, port, workers), "task worker": worker_command(),
                             "scheduler": scheduler_command()})
    print(f"dealpilot: serving on http://{_bind_address(host, port)}/ with {workers} web worker(s), a task worker "
          "and the scheduler (alerts, digests, nightly rescoring)", file=sys.stderr)
    return supervisor.run()
