import os
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_embedded_queue_folders(sender, **kwargs):
    # kombu's filesystem transport expects its folders to exist already.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    backend = sender.conf.result_backend or ""
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)


# Celery's Django fix-up closes the database connection before and after every task unless
# CELERY_DB_REUSE_MAX is set (settings.py sets it), so each task paid for a new PostgreSQL
# backend: in a class-wide launch, more than one per launch. Instead, as Django does
# around each web request, a connection is dropped when it has failed or is older than
# CONN_MAX_AGE, and health-checked before reuse (a restarted database fails no task).
task_prerun.connect(lambda **kwargs: close_old_connections(), weak=False)
task_postrun.connect(lambda **kwargs: close_old_connections(), weak=False)


@worker_init.connect
def _preload_slow_imports(**kwargs):
    from labs.cloud import images

    images.preload()
