"""Command 1 as `make run` starts it (scripts/run.sh after setup): the whole portal on the
embedded default, with the portal's own error pages, stopped by Ctrl-C, started again
with the same key and sessions."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from portal.services import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
# What the test run points at; command 1 must run without any of it.
TEST_ONLY = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_QUEUE",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "LOCALCLOUD_URL",
    "EMBEDDED_DIR",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Portal:
    """scripts/run.sh in its own process group, as a terminal runs it."""

    def __init__(self, tmp_path: Path):
        self.embedded = tmp_path / "embedded"
        self.web_port, self.cloud_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.log = tmp_path / "run.log"
        self.env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY}
        self.env.update(
            VENV=sys.prefix,
            EMBEDDED_DIR=str(self.embedded),
            LOCALCLOUD_URL=f"http://127.0.0.1:{self.cloud_port}",
            PORTAL_PORT=str(self.web_port),
        )
        self.process = None

    def start(self, timeout: float = 180) -> float:
        began = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["sh", "scripts/run.sh"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"scripts/run.sh exited {self.process.returncode}:\n{self.tail()}")
            if "is running at" in self.log.read_text(errors="replace"):
                try:
                    if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        return time.monotonic() - began
                except requests.RequestException:  # Not up yet, or still starting.
                    pass
            time.sleep(0.3)
        pytest.fail(f"the portal did not answer within {timeout}s:\n{self.tail()}")

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C: the terminal sends SIGINT to the whole foreground group."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"Ctrl-C did not stop the portal within {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """After a failed test: Ctrl-C first, since the portal's children run in sessions
        of their own and would outlive a SIGKILL to it."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@pytest.fixture
def portal(tmp_path):
    portal = Portal(tmp_path)
    yield portal
    portal.kill()


def _log_in(
    session: requests.Session, url: str, username: str, password: str = DEMO_PASSWORD
) -> None:
    form = session.get(f"{url}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    answer = session.post(
        f"{url}/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        timeout=30,
    )
    assert answer.url == f"{url}/course/", answer.text[:500]


def test_make_run_serves_the_portal_without_debug_pages_and_stops_on_ctrl_c(portal):
    portal.start()
    key_file = portal.embedded / "secret-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()

    browser = requests.Session()
    assert browser.get(f"{portal.url}/course/", timeout=10).url.startswith(f"{portal.url}/login/")
    _log_in(browser, portal.url, "learner1")
    lesson = browser.get(f"{portal.url}/course/why-the-cloud/", timeout=10)
    assert lesson.status_code == 200 and "<h1" in lesson.text
    # Query strings (a status card's poll token) stay out of the access log.
    browser.get(f"{portal.url}/healthz?token=kept-out-of-the-log", timeout=10)

    # An instructor enrols a class beside it, as the README says (no setting of its own).
    people = portal.embedded.parent / "people.csv"
    people.write_text("name,email,role\nNia Newcomer,nia@example.com,learner\n")
    enrolled = subprocess.run(
        [f"{sys.prefix}/bin/python", "manage.py", "enrol_cohort", "Evening class", str(people)],
        cwd=ROOT,
        env=portal.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert enrolled.returncode == 0, enrolled.stderr[-2000:]
    password = re.search(r"nia@example\.com\S*\s+(\S{12})", enrolled.stdout)
    assert password, enrolled.stdout
    newcomer = requests.Session()
    _log_in(newcomer, portal.url, "nia@example.com", password[1])

    # A mistyped address gets the portal's sentence, not Django's debug page with its
    # list of URL patterns and settings.
    missing = browser.get(f"{portal.url}/course/no-such-lesson/", timeout=10)
    assert missing.status_code == 404
    assert "We couldn't find that" in missing.text
    assert "URLconf" not in missing.text and "DEBUG = True" not in missing.text

    assert portal.interrupt() == 0
    assert '"GET /healthz HTTP/1.1" 200' in portal.tail(100_000)
    assert "kept-out-of-the-log" not in portal.tail(100_000)
    assert not _answers(portal.web_port), "the web server outlived Ctrl-C"
    assert not _answers(portal.cloud_port), "localcloud outlived Ctrl-C"

    # Started again: the same key, so the learner is still logged in.
    restart = portal.start()
    print(f"started again in {restart:.1f}s")  # noqa: T201
    assert key_file.read_text() == key
    again = browser.get(f"{portal.url}/course/why-the-cloud/", timeout=10)
    assert again.status_code == 200 and again.url == f"{portal.url}/course/why-the-cloud/"
    assert portal.interrupt() == 0
