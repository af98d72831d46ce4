"""Embedded broker choice: round-trip time of a trivial task through each transport,
with a real worker process, side by side in one run.

    .venv/bin/python bench/broker.py [--tasks 200]

The SQLAlchemy transport is measured only when SQLAlchemy is installed
(pip install SQLAlchemy); the portal ships with the filesystem transport.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _env(embedded: Path, broker: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(DEBUG="true", EMBEDDED_DIR=str(embedded), CELERY_QUEUE="bench-broker")
    if broker:
        env["CELERY_BROKER_URL"] = broker
    backend = broker if broker.startswith("redis") else f"file://{embedded / 'results'}"
    env["CELERY_RESULT_BACKEND"] = backend
    return env


def measure(label: str, broker: str, tasks: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        embedded = Path(folder)
        env = _env(embedded, broker)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency", "1",
             "--without-gossip", "--without-mingle", "--queues", "bench-broker", "-l", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        code = f"""
import time, statistics, django
django.setup()
from portal.tasks import cohort_size_task
cohort_size_task.delay(1).get(timeout=60)  # warm-up: the worker is up
times = []
for _ in range({tasks}):
    start = time.perf_counter()
    cohort_size_task.delay(1).get(timeout=30, interval=0.005)
    times.append(time.perf_counter() - start)
times.sort()
print(f"{{statistics.median(times)*1000:.1f}} {{times[int(len(times)*0.99)-1]*1000:.1f}}")
"""
        try:
            client_env = {**env, "DJANGO_SETTINGS_MODULE": "portal.settings"}
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env=client_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        if out.returncode:
            print(f"{label:<28} failed: {out.stderr.strip().splitlines()[-1:]}")
            return
        p50, p99 = out.stdout.split()
        print(f"{label:<28} p50 {p50:>7} ms   p99 {p99:>7} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args()
    print(f"Round trip of a trivial task ({args.tasks} sequential tasks, one worker process)")
    measure("filesystem (shipped)", "", args.tasks)
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        print("sqlalchemy+sqlite             skipped: SQLAlchemy is not installed")
    else:
        with tempfile.TemporaryDirectory() as folder:
            measure("sqlalchemy+sqlite", f"sqla+sqlite:///{folder}/broker.db", args.tasks)
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    measure("redis (full stack)", redis_url, args.tasks)


if __name__ == "__main__":
    main()
