"""Supervises the processes of the embedded default: web, worker, beat, localcloud.

Each runs as a child process in its own process group, so one Ctrl-C (or SIGTERM) to
the runner stops them all, and a child that dies takes the rest down with a message
instead of leaving a half-working portal.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, children: list[Child], env: dict[str, str], log=print):
        self.children = children
        self.env = env
        self.log = log
        self._stopping = False

    def start(self) -> None:
        for child in self.children:
            child.process = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
            self.log(f"started {child.name} (pid {child.process.pid})")

    def first_exited(self) -> Child | None:
        for child in self.children:
            if child.process and child.process.poll() is not None:
                return child
        return None

    def wait(self) -> int:
        """Block until a signal arrives or a child exits; then stop everything."""

        def _on_signal(signum, frame):
            self._stopping = True

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        exit_code = 0
        while not self._stopping:
            dead = self.first_exited()
            if dead:
                self.log(
                    f"{dead.name} exited with code {dead.process.returncode}; stopping the rest."
                )
                exit_code = 1
                break
            time.sleep(0.5)
        self.stop()
        return exit_code

    def stop(self, grace_seconds: float = 10.0) -> None:
        # SIGTERM to each leader only: gunicorn and Celery then shut their own workers
        # down cleanly. Whatever is left of a group after the grace period is killed.
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + grace_seconds
        for child in reversed(self.children):
            if not child.process:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{child.name} did not stop in time; killing it.")
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
            self._kill_leftovers(child)
            self.log(f"stopped {child.name}")

    @staticmethod
    def _kill_leftovers(child: Child) -> None:
        # ProcessLookupError means the whole group has already gone, as it should.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
