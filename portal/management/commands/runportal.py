import importlib.util
import ipaddress
import os
import socket
from urllib.parse import urlparse

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.embedded import Child, Supervisor, python_module_argv
from portal.env import env_bool
from portal.services import DEMO_PASSWORD, DEMO_USERS, demo_users_lock


def demo_users_wanted(host: str) -> bool:
    """The demo users' password is in the README: they are made for a portal only this
    machine can reach, unless DEMO_USERS says otherwise."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return env_bool("DEMO_USERS", loopback)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


# gunicorn's default access line without the query string: a status card's poll carries
# its signed poll token there, and a log is read by more people than the portal's users.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'


class Command(BaseCommand):
    help = (
        "Prepare the database, load the course and demo users, then run the web server, "
        "a Celery worker, beat and localcloud together until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PORTAL_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORTAL_PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument(
            "--no-localcloud",
            action="store_true",
            help="Do not start localcloud (LOCALCLOUD_URL points at one already running).",
        )

    def handle(self, *args, host, port, web_workers, no_localcloud, **options):
        if not _port_is_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is in use. Stop what runs there or pass --port."
            )
        settings.EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("load_course")
        demo = demo_users_wanted(host)
        if demo:
            call_command("demo_setup")
        else:
            locked = demo_users_lock()
            self.stdout.write(
                f"No demo users: the portal listens on {host}, which other machines can "
                "reach, and their password is public. Enrol your class with enrol_cohort "
                "(README), or set DEMO_USERS=true."
                + (f" Locked: {', '.join(locked)}." if locked else "")
            )

        children = self._children(host, port, web_workers, no_localcloud)
        supervisor = Supervisor(children, env=dict(os.environ), log=self.stdout.write)
        supervisor.start()
        self._print_welcome(host, port, demo)
        raise SystemExit(supervisor.wait())

    def _children(self, host, port, web_workers, no_localcloud) -> list[Child]:
        embedded = settings.EMBEDDED_DIR
        children = []
        if not no_localcloud and importlib.util.find_spec("localcloud.__main__"):
            local = urlparse(settings.LOCALCLOUD_URL)
            children.append(
                Child(
                    "localcloud",
                    python_module_argv(
                        "localcloud",
                        "--port",
                        str(local.port or 4566),
                        "--data-dir",
                        str(embedded / "localcloud"),
                    ),
                )
            )
        children += [
            Child(
                "worker",
                python_module_argv(
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--loglevel",
                    "INFO",
                    # Tasks mostly wait on the cloud, so more processes than cores pay off.
                    "--concurrency",
                    "4",
                    "--without-gossip",
                    "--without-mingle",
                ),
            ),
            Child(
                "beat",
                python_module_argv(
                    "celery",
                    "-A",
                    "portal",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(embedded / "beat-schedule"),
                ),
            ),
            Child(
                "web",
                python_module_argv(
                    "gunicorn",
                    "portal.wsgi",
                    "--bind",
                    f"{host}:{port}",
                    "--workers",
                    str(web_workers),
                    # Threads keep the web tier answering while requests wait on the
                    # database: measured 2.5-7x faster launches in bench/launch_storm.py.
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                    "--access-logformat",
                    ACCESS_LOG_FORMAT,
                    "--control-socket",
                    str(embedded / "gunicorn.ctl"),
                ),
            ),
        ]
        return children

    def _print_welcome(self, host, port, demo):
        users = ", ".join(username for username, _, _ in DEMO_USERS)
        log_in = f"Log in as {users} with the password {DEMO_PASSWORD!r}.\n" if demo else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"\nCloud ML Lab is running at http://{host}:{port}/\n"
                f"{log_in}Press Ctrl-C to stop everything.\n"
            )
        )
