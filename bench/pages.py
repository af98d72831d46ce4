"""Course pages under load, side by side with a bare Django view, in the same run.

    .venv/bin/python bench/pages.py [--clients 50] [--seconds 10] [--warmup 2] [--rounds 4]

Creates its own PostgreSQL database (dropped at the end) and uses Redis database 9 (flushed),
migrates, loads the course, enrols --clients learners in a cohort and logs each in (one
through the real /login/ form, the others with Django's login in-process, sharing the
session store), starts gunicorn with --workers 2 on a free loopback port and measures,
with --clients concurrent logged-in clients (one session each):

- /healthz: a bare Django view that renders nothing (the baseline),
- the lesson page /course/<--lesson>/ and the table of contents /course/,
- the logged-in floor: a view behind the same login check that answers as many constant
  bytes as the lesson page, with no template and no cache (bench/reference_urls.py): what
  a logged-in page of that size costs on its way through Django's middleware, session
  and user, which a kept course page skips (portal/page_shortcut.py),

--seconds of measurement per page, split into --rounds interleaved rounds (A B C, C B A,
...; the first after --warmup uncounted seconds), so that the machine's background load
falls on every page alike; "rounds req/s" shows the spread between rounds. It prints
requests/s, p50/p99 latency, the ratio of each page's requests/s to the bare view's (the
target is at least 0.8; also with the hypervisor's steal left out, see common.CpuTicks),
and the database queries one request of each page makes (counted
in-process with CaptureQueriesContext). --path NAME=URL adds pages to compare.
The load generator runs in this process on the same CPUs as gunicorn.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/9"
LOGGED_IN_FLOOR = "logged-in floor"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per page")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted, first round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    # The portal runs gunicorn with 4 threads per worker (runportal, docker-compose).
    parser.add_argument("--threads", type=int, default=4, help=">1: gunicorn gthread")
    parser.add_argument("--lesson", default="why-the-cloud")
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="another logged-in page to measure beside the others (repeatable)",
    )
    parser.add_argument("--keep-logs", action="store_true")
    return parser.parse_args()


def _learners(count: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from portal.models import Cohort, Enrolment

    User = get_user_model()
    cohort = Cohort.objects.create(name="Bench pages", slug="bench-pages")
    password = make_password("bench-password")  # hashed once, shared
    users = User.objects.bulk_create(
        [
            User(username=f"reader{i}", email=f"reader{i}@example.com", password=password)
            for i in range(count)
        ]
    )
    Enrolment.objects.bulk_create(
        [Enrolment(cohort=cohort, user=u, role=Enrolment.Role.LEARNER) for u in users]
    )
    return users


def _form_login(port: int, username: str) -> str:
    """Log in through /login/ as a browser does (CSRF cookie + token); the browser's
    cookies afterwards (session and CSRF)."""
    import asyncio

    page = asyncio.run(common.http(port, "GET", "/login/"))
    csrf = page.cookies["csrftoken"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    body = f"csrfmiddlewaretoken={token}&username={username}&password=bench-password".encode()
    answer = asyncio.run(
        common.http(
            port,
            "POST",
            "/login/",
            {"Cookie": f"csrftoken={csrf}", "Content-Type": "application/x-www-form-urlencoded"},
            body,
        )
    )
    if answer.status != 302 or "sessionid" not in answer.cookies:
        raise RuntimeError(f"form login failed: {answer.status} {answer.text[:300]}")
    return common.cookie_header(answer.cookies["sessionid"], csrf)


def _queries_per_page(user, paths: dict[str, str]) -> list[list[object]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    rows = []
    for name, path in paths.items():
        counts = []
        for _ in range(2):  # first (cold caches) and second request
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code} in-process")
            counts.append(len(captured))
        rows.append([name, path, counts[0], counts[1], len(response.content)])
    return rows


def main() -> int:
    args = _arguments()
    began = time.monotonic()
    print(f"bench/pages.py: {common.show_command()}")
    print(f"machine: {common.machine_note()}")
    with common.Stack("pages", keep_logs=args.keep_logs) as stack:
        database_url = stack.create_database(f"bench_pages_{os.getpid()}")
        env = common.portal_env(
            database_url=database_url,
            redis_url=stack.use_redis_db(REDIS_URL),
            # The portal plus the logged-in reference page (bench/reference_urls.py).
            DJANGO_SETTINGS_MODULE="bench.reference_settings",
        )
        common.setup_django(env)
        from django.middleware.csrf import CSRF_ALLOWED_CHARS
        from django.utils.crypto import get_random_string

        common.migrate_and_load_course()
        users = _learners(args.clients)
        port = common.start_gunicorn(stack, env, workers=args.workers, threads=args.threads)

        # Each client holds a session and, as a browser does after its first form page,
        # a CSRF cookie.
        cookies = [_form_login(port, users[0].username)]
        cookies += [
            common.cookie_header(session, get_random_string(32, CSRF_ALLOWED_CHARS))
            for session in common.session_cookies(users[1:])
        ]
        paths = {
            "bare /healthz": "/healthz",
            "lesson": f"/course/{args.lesson}/",
            "TOC": "/course/",
        }
        paths.update(item.split("=", 1) for item in args.path)
        import asyncio

        for name, path in paths.items():
            check = asyncio.run(common.http(port, "GET", path, {"Cookie": cookies[0]}))
            if check.status != 200:
                raise RuntimeError(f"{name} {path} answered {check.status}, not 200")
            if name == "lesson":
                lesson_bytes = len(check.body)
        # What a logged-in page costs through Django (a kept course page skips that way).
        paths[LOGGED_IN_FLOOR] = f"/bench/logged-in/{lesson_bytes}/"
        print(
            f"setup took {time.monotonic() - began:.1f}s; gunicorn --workers {args.workers} "
            f"--threads {args.threads} "
            f"on 127.0.0.1:{port}; {args.clients} logged-in clients, one session each"
        )

        print("\nDatabase queries per request (in-process, django.test.Client):")
        print(
            common.table(
                ["page", "path", "1st", "2nd", "bytes"], _queries_per_page(users[0], paths)
            )
        )

        def factory(path: str):
            return lambda i: ("GET", path, {"Cookie": cookies[i]})

        targets = {name: factory(path) for name, path in paths.items()}
        print(
            f"\nLoad: {args.clients} concurrent clients, {args.seconds:g}s measured per page "
            f"in {args.rounds} interleaved rounds, {args.warmup:g}s warm-up first"
        )
        results = common.load(
            port,
            targets,
            clients=args.clients,
            seconds=args.seconds,
            warmup=args.warmup,
            rounds=args.rounds,
        )
        print(common.load_table(results, "bare /healthz"))
        for name in ("lesson", "TOC"):
            print(common.ratio_verdict(results, name, "bare /healthz", 0.8))
        floor = results[LOGGED_IN_FLOOR].rps / results["bare /healthz"].rps
        print(
            f"{LOGGED_IN_FLOOR}: {floor:.2f} of the bare view's requests/s: a view behind "
            f"the login check that answers {lesson_bytes} constant bytes (the lesson's size)"
        )
        print(f"machine after: {common.machine_note()}")
    print(f"total {time.monotonic() - began:.1f}s (processes stopped, database dropped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
