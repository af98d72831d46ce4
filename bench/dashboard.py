"""Server time of the instructor dashboard for 10, 100 and 500 learners, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dash .venv/bin/python bench/dashboard.py \
        [--learners 10 100 500] [--repeat 15]

Creates a throw-away test database (``test_<name>``, dropped at the end), loads the course,
and fills one cohort with learners of 14 items each (8 lessons completed, 2 objectives
ticked, 1 lab check, 3 cloud resources: bucket, billing notebook, failed training job).
For each size it times, in-process through Django's test client (middleware, session,
queries, template: everything but the network), the full page and the live poll (both
the 304 answer and a full re-render), and prints the median, the number of queries, and
the growth ratio against the smallest size. Target: the largest at most 3 times the
smallest, and under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)


def _median_ms(call, repeat: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeat):
        started = clock()
        call()
        times.append((clock() - started) * 1000)
    return statistics.median(times)


def _measure(client: Client, cohort_id: int, repeat: int) -> dict[str, float]:
    page_url = f"/dashboard/{cohort_id}/"
    response = client.get(page_url)
    assert response.status_code == 200, response.status_code
    fingerprint = response.context["fingerprint"]
    with CaptureQueriesContext(connection) as queries:
        client.get(page_url)
    # Counted now: every request clears the query log when it starts.
    query_count = len(queries)
    live_url = f"/dashboard/{cohort_id}/live/"
    return {
        "page_ms": _median_ms(lambda: client.get(page_url), repeat),
        # The web process's own CPU time (the database's is not in it): steadier than the
        # wall clock on a busy machine.
        "page_cpu_ms": _median_ms(lambda: client.get(page_url), repeat, time.process_time),
        "poll_304_ms": _median_ms(lambda: client.get(f"{live_url}?fp={fingerprint}"), repeat),
        "poll_changed_ms": _median_ms(lambda: client.get(f"{live_url}?fp=stale"), repeat),
        "queries": query_count,
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    from curriculum.services import lesson_sync_from_directory
    from labs.services.policy import lab_settings_for
    from portal.models import Cohort, Enrolment
    from tests.dashboard.populate import ITEMS_PER_LEARNER, populate_cohort
    from tests.fixtures.users import make_user

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        lesson_sync_from_directory()
        results = {}
        for size in sorted(args.learners):
            cohort = Cohort.objects.create(name=f"Bench {size}", slug=f"bench-{size}")
            lab_settings = lab_settings_for(cohort)
            populate_cohort(lab_settings, learners=size)
            instructor = make_user(f"bench-instructor-{size}")
            Enrolment.objects.create(cohort=cohort, user=instructor, role="instructor")
            client = Client()
            client.force_login(instructor)
            results[size] = _measure(client, cohort.pk, args.repeat)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    sizes = sorted(results)
    base = results[sizes[0]]
    print(
        f"Dashboard server time, median of {args.repeat} ({ITEMS_PER_LEARNER} items per "
        f"learner, {connection.vendor})"
    )
    header = f"{'learners':>10}" + "".join(f"{size:>12}" for size in sizes)
    print(header)
    for key, label in (
        ("page_ms", "page ms"),
        ("page_cpu_ms", "page cpu"),
        ("poll_changed_ms", "live ms"),
        ("poll_304_ms", "304 ms"),
        ("queries", "queries"),
        ("bytes", "page KiB"),
    ):
        cells = []
        for size in sizes:
            value = results[size][key]
            if key == "bytes":
                cells.append(f"{value / 1024:>12.0f}")
            elif key == "queries":
                cells.append(f"{value:>12d}")
            else:
                cells.append(f"{value:>12.1f}")
        print(f"{label:>10}" + "".join(cells))
    ratios = "".join(f"{results[s]['page_ms'] / base['page_ms']:>12.2f}" for s in sizes)
    print(f"{'growth':>10}{ratios}   (page time / page time at {sizes[0]} learners)")
    ratios = "".join(f"{results[s]['page_cpu_ms'] / base['page_cpu_ms']:>12.2f}" for s in sizes)
    print(f"{'cpu growth':>10}{ratios}   (web process CPU time, same ratio)")
    largest = results[sizes[-1]]["page_ms"]
    ratio = largest / base["page_ms"]
    verdict = "meets" if ratio <= 3 and largest < 300 else "MISSES"
    print(
        f"{sizes[-1]} learners: {largest:.1f} ms, {ratio:.2f}× the {sizes[0]}-learner time "
        f"— {verdict} the target (≤ 3× and < 300 ms)."
    )


if __name__ == "__main__":
    main()
