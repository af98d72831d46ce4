"""Notebook instances backed by real JupyterLab servers.

Pending → InService once the server answers; Stopping → Stopped ends it and keeps its
files; Deleting → gone removes them. A server that dies or never answers makes the
instance Failed with a FailureReason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from localcloud import moto_patches, notebook_env
from localcloud.config import Settings

logger = logging.getLogger("localcloud.notebooks")

START_TIMEOUT = 60.0
PID_FILE = "jupyterlab.pid"
# All that a notebook server inherits from localcloud's environment.
INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def end_orphans(base: Path) -> int:
    """End JupyterLab servers left running by a localcloud that was killed; return how many.

    Only a process whose command line still names its notebook's folder is ended, so a
    recycled pid is never hit.
    """
    ended = 0
    for pid_file in base.glob(f"*/*/*/{PID_FILE}"):
        try:
            pid = int(pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            continue
        if "jupyterlab" in cmdline and str(pid_file.parent) in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
                ended += 1
    return ended


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# No language-server scan (slow start, nothing to find) and no calls out to the internet.
_JUPYTER_CONFIG = {
    "ServerApp": {"jpserver_extensions": {"jupyter_lsp": False}},
    "LabApp": {"check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
}


def _write_jupyter_config(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "jupyter_server_config.json").write_text(json.dumps(_JUPYTER_CONFIG))


@dataclass
class Server:
    account: str
    region: str
    name: str
    directory: Path
    port: int = 0
    token: str = ""
    process: subprocess.Popen[bytes] | None = None
    # Set while we end the server on purpose, so the watcher does not call it a failure.
    stopping: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def root(self) -> Path:
        # As on a SageMaker notebook instance: home is above the SageMaker folder Jupyter shows.
        return self.directory / "SageMaker"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class NotebookManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.data_dir / "notebooks"
        self._servers: dict[tuple[str, str, str], Server] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="notebook-watch", daemon=True)
        self._watcher.start()

    def _server(self, account: str, region: str, name: str) -> Server:
        key = (account, region, name)
        with self._lock:
            if key not in self._servers:
                self._servers[key] = Server(
                    account, region, name, self.base / account / region / name
                )
            return self._servers[key]

    # --- what moto's backend asks for ---

    def changed(self, account: str, region: str, name: str, action: str) -> None:
        server = self._server(account, region, name)
        target = {"start": self._start, "stop": self._stop, "delete": self._delete}[action]
        threading.Thread(
            target=target, args=(server,), name=f"notebook-{action}-{name}", daemon=True
        ).start()

    def presigned_url(self, account: str, region: str, name: str) -> str | None:
        server = self._servers.get((account, region, name))
        if server is None or server.process is None or server.process.poll() is not None:
            return None
        return f"{server.url}/lab?token={server.token}"

    def server_pid(self, account: str, region: str, name: str) -> int | None:
        server = self._servers.get((account, region, name))
        return None if server is None or server.process is None else server.process.pid

    # --- lifecycle ---

    def _update(self, server: Server, **fields: str | None) -> None:
        moto_patches.update_notebook_instance(server.account, server.region, server.name, **fields)

    def _start(self, server: Server) -> None:
        with server.lock:
            described = moto_patches.describe_notebook_instance(
                server.account, server.region, server.name
            )
            if described is None or described["NotebookInstanceStatus"] != "Pending":
                return
            try:
                self._launch(server, described.get("RoleArn") or "")
            except Exception as error:
                logger.exception("notebook %s failed to start", server.name)
                self._end_process(server)
                self._update(
                    server, NotebookInstanceStatus="Failed", FailureReason=str(error)[:1000]
                )
                return
            now = moto_patches.describe_notebook_instance(
                server.account, server.region, server.name
            )
            if now is None or now["NotebookInstanceStatus"] != "Pending":
                # Stopped or deleted while starting: that request's thread finishes the job.
                self._end_process(server)
                return
            self._update(server, NotebookInstanceStatus="InService", FailureReason=None)

    def _launch(self, server: Server, role_arn: str) -> None:
        server.root.mkdir(parents=True, exist_ok=True)
        config = server.directory / "config"
        credentials = moto_patches.assume_role(server.region, role_arn, server.name)
        server.port = free_port()
        server.token = secrets.token_urlsafe(24)
        # Only what Python needs from localcloud's own environment: the portal's settings
        # and secrets (SECRET_KEY, DATABASE_URL, the server's AWS keys...) stay out of
        # every learner's kernel.
        env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        env.update(
            notebook_env.kernel_environment(self.settings.url, server.region, credentials, config)
        )
        env.update(
            {
                "JUPYTER_CONFIG_DIR": str(config / "jupyter"),
                "JUPYTER_DATA_DIR": str(config / "jupyter-data"),
                "JUPYTER_RUNTIME_DIR": str(config / "runtime"),
                "HOME": str(server.directory),
                # Not on the command line, which every user of the machine can read.
                "JUPYTER_TOKEN": server.token,
            }
        )
        _write_jupyter_config(config / "jupyter")
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={server.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={server.root}",
            "--LabApp.extension_manager=readonly",
            "--LabApp.news_url=",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        log = open(server.directory / "jupyterlab.log", "ab")  # noqa: SIM115 (child keeps it)
        server.stopping = False
        server.process = subprocess.Popen(
            command,
            cwd=server.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        (server.directory / PID_FILE).write_text(str(server.process.pid))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = server.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"The JupyterLab server exited with code {code} while starting; see "
                    f"{server.directory / 'jupyterlab.log'}."
                )
            if self._answers(server):
                return
            time.sleep(0.05)
        raise RuntimeError(f"The JupyterLab server did not answer within {START_TIMEOUT:.0f}s.")

    def _answers(self, server: Server) -> bool:
        try:
            with urllib.request.urlopen(
                f"{server.url}/api/status?token={server.token}", timeout=1
            ) as response:
                return response.status == 200
        except OSError:
            return False

    def _end_process(self, server: Server) -> None:
        process = server.process
        if process is None:
            return
        server.stopping = True
        if process.poll() is None:
            # The server and its kernels share a process group: end them all.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        else:
            # The server is gone; its kernels may not be.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        server.process = None

    def _stop(self, server: Server) -> None:
        with server.lock:
            self._end_process(server)
            time.sleep(self.settings.delay("notebook_stopping"))
            self._update(server, NotebookInstanceStatus="Stopped")

    def _delete(self, server: Server) -> None:
        with server.lock:
            self._end_process(server)
            time.sleep(self.settings.delay("notebook_deleting"))
            shutil.rmtree(server.directory, ignore_errors=True)
            moto_patches.remove_notebook_instance(server.account, server.region, server.name)
            with self._lock:
                self._servers.pop((server.account, server.region, server.name), None)

    def _watch(self) -> None:
        """Mark an instance Failed when its server dies without being asked to."""
        while not self._closed.wait(0.25):
            with self._lock:
                servers = list(self._servers.values())
            for server in servers:
                process = server.process
                if process is None or server.stopping or process.poll() is None:
                    continue
                if not server.lock.acquire(blocking=False):
                    continue
                try:
                    if server.process is process and not server.stopping:
                        code = process.returncode
                        how = f"signal {-code}" if code < 0 else f"exit code {code}"
                        self._end_process(server)
                        self._update(
                            server,
                            NotebookInstanceStatus="Failed",
                            FailureReason=f"The notebook instance's JupyterLab server stopped "
                            f"unexpectedly ({how}). Stop and start the instance or delete it.",
                        )
                finally:
                    server.lock.release()

    def shutdown(self) -> None:
        self._closed.set()
        with self._lock:
            servers = list(self._servers.values())
        for server in servers:
            self._end_process(server)
