"""Every task is safe to run twice, and a worker killed mid-launch loses nothing."""

import os
import signal
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labs import tasks
from labs.models import CloudResource, LabCheck
from labs.services import labs as lab_services
from portal.celery import app
from tests.fixtures.worker import start_worker, stop_worker
from tests.labs.conftest import wait_for, wait_for_check, wait_for_state

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_run_only_here():
    """These tests run each task in this process, twice; a session worker taking the
    launch's own message meanwhile would make it three runs at unknown moments. (The
    killed-worker test starts workers of its own.)"""
    queue = app.conf.task_default_queue
    app.control.cancel_consumer(queue, reply=True, timeout=2)
    yield
    app.control.add_consumer(queue, reply=True, timeout=2)


def _bucket(learner, lab_settings, name):
    return lab_services.lab_launch_bucket(
        learner=learner, lab_settings=lab_settings, region="us-east-1", bucket_name=name
    )


def _bucket_count(localcloud, name):
    buckets = localcloud.client("s3").list_buckets()["Buckets"]
    return sum(1 for bucket in buckets if bucket["Name"] == name)


def test_submit_task_twice_creates_one_bucket(cloud_lab_settings, learner, localcloud):
    resource = _bucket(learner, cloud_lab_settings, f"twice-{learner.pk}-submit")
    tasks.resource_submit_task(resource.pk)
    tasks.resource_submit_task(resource.pk)
    resource.refresh_from_db()
    # The bucket shows at once; its data is a task of its own, queued behind.
    assert (resource.state, resource.cloud_status) == ("provisioning", "Available")
    tasks.resource_followup_task(resource.pk)
    tasks.resource_followup_task(resource.pk)
    resource.refresh_from_db()
    assert resource.state == "ready"
    assert _bucket_count(localcloud, resource.cloud_name) == 1
    assert CloudResource.objects.count() == 1


def test_a_retried_submit_adopts_what_the_first_try_made(cloud_lab_settings, learner, localcloud):
    # given a first try that made the bucket but died before recording it
    resource = _bucket(learner, cloud_lab_settings, f"adopt-{learner.pk}-bucket")
    localcloud.client("s3").create_bucket(Bucket=resource.cloud_name)
    # when the task runs (again), and the data upload after it
    tasks.resource_submit_task(resource.pk)
    tasks.resource_followup_task(resource.pk)
    # then the existing bucket is adopted, not reported as a conflict
    resource.refresh_from_db()
    assert resource.state == "ready", resource.failure_reason
    assert _bucket_count(localcloud, resource.cloud_name) == 1


def test_delete_task_twice_is_harmless(cloud_lab_settings, learner, localcloud):
    resource = _bucket(learner, cloud_lab_settings, f"delete-{learner.pk}-twice")
    tasks.resource_submit_task(resource.pk)
    tasks.resource_action_task(resource.pk, "delete")
    tasks.resource_action_task(resource.pk, "delete")
    resource.refresh_from_db()
    assert resource.state == "deleted"
    assert _bucket_count(localcloud, resource.cloud_name) == 0


def test_refresh_task_twice_adds_no_duplicate_events(cloud_lab_settings, learner, localcloud):
    notebook = lab_services.lab_launch_notebook(
        learner=learner, lab_settings=cloud_lab_settings, region="us-east-1",
        instance_type="ml.t3.medium",
    )  # fmt: skip
    tasks.resource_submit_task(notebook.pk)

    def in_service():
        tasks.resource_refresh_group_task(cloud_lab_settings.account_id, "us-east-1", "notebook")
        return CloudResource.objects.get(pk=notebook.pk).cloud_status == "InService"

    wait_for(in_service, timeout=60, what="the notebook to be InService")
    events = notebook.events.count()
    tasks.resource_refresh_group_task(cloud_lab_settings.account_id, "us-east-1", "notebook")
    tasks.resource_refresh_group_task(cloud_lab_settings.account_id, "us-east-1", "notebook")
    assert notebook.events.count() == events
    tasks.resource_action_task(notebook.pk, "delete")


def test_check_task_twice_keeps_the_first_verdict(cloud_lab_settings, learner):
    check = lab_services.lab_check_request(
        learner=learner, lab_settings=cloud_lab_settings, lab="storage", region="us-east-1",
        purpose="progress",
    )  # fmt: skip
    tasks.lab_check_task(check.pk)
    first = wait_for_check(check.pk)  # a session worker may have taken the queued copy
    tasks.lab_check_task(check.pk)
    second = LabCheck.objects.get(pk=check.pk)
    assert first.state == second.state == "not_yet"
    assert first.version == second.version == 2
    assert "no bucket" in second.message


def test_a_check_that_fails_after_an_earlier_pass_says_the_lab_stays_done(
    cloud_lab_settings, learner
):
    # Passed once (its lesson is ticked done); the bucket was cleaned up since.
    LabCheck.objects.create(
        user=learner, cohort=cloud_lab_settings.cohort, lab="storage", region="us-east-1",
        state="passed", message="Your bucket holds the data.",
    )  # fmt: skip
    check = lab_services.lab_check_request(
        learner=learner, lab_settings=cloud_lab_settings, lab="storage", region="us-east-1",
        purpose="progress",
    )  # fmt: skip
    tasks.lab_check_task(check.pk)

    check = wait_for_check(check.pk)
    assert check.state == "not_yet"
    assert "no bucket" in check.message
    assert check.message.endswith("Your lab stays done: an earlier check passed.")


def test_expire_task_twice_stops_once_then_deletes(cloud_lab_settings, learner):
    resource = _bucket(learner, cloud_lab_settings, f"expire-{learner.pk}-bucket")
    tasks.resource_submit_task(resource.pk)
    CloudResource.objects.filter(pk=resource.pk).update(expires_at=timezone.now() - timedelta(1))
    # Beat may run the same task in a session worker meanwhile: whoever runs first does
    # the work, and every later run finds nothing to do.
    tasks.resource_expire_task()
    assert tasks.resource_expire_task() == 0
    resource.refresh_from_db()
    assert resource.state in ("deleting", "deleted")
    messages = list(resource.events.values_list("message", flat=True))
    assert sum("Lab time is up" in message for message in messages) == 1


def test_resubmit_task_twice_enqueues_only_stale_launches(cloud_lab_settings, learner, settings):
    resource = _bucket(learner, cloud_lab_settings, f"stale-{learner.pk}-bucket")
    assert tasks.resource_resubmit_stale_task() == 0  # fresh: the first message will do
    CloudResource.objects.filter(pk=resource.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.LABS_RESUBMIT_AFTER_SECONDS + 1)
    )
    assert tasks.resource_resubmit_stale_task() == 1
    tasks.resource_submit_task(resource.pk)
    assert tasks.resource_resubmit_stale_task() == 0


def test_worker_killed_mid_launch_leaves_exactly_one_resource(
    cloud_lab_settings, learner, localcloud, tmp_path, settings
):
    doomed = start_worker(log_path=tmp_path / "doomed.log")
    try:
        # when a launch is taken by a worker that is SIGKILLed while it works
        resource = _bucket(learner, cloud_lab_settings, f"killed-{learner.pk}-bucket")
        wait_for(
            lambda: CloudResource.objects.get(pk=resource.pk).state != "requested",
            interval=0.005, timeout=30, what="the worker to take the launch",
        )  # fmt: skip
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        stop_worker(doomed)
    # then beat's stale-launch sweep hands it to a fresh worker, which finishes it
    survivor = start_worker(log_path=tmp_path / "survivor.log")
    try:
        CloudResource.objects.filter(pk=resource.pk, state__in=["requested", "submitting"]).update(
            updated_at=timezone.now() - timedelta(seconds=settings.LABS_RESUBMIT_AFTER_SECONDS + 1)
        )
        tasks.resource_resubmit_stale_task.delay().get(timeout=30)
        final = wait_for_state(resource.pk, "ready", timeout=60)
    finally:
        stop_worker(survivor)
    assert CloudResource.objects.filter(owner=learner).count() == 1
    assert _bucket_count(localcloud, final.cloud_name) == 1


def test_a_database_restart_between_tasks_fails_no_task(tmp_path):
    # The worker keeps its database connection from one task to the next; when the
    # database restarts meanwhile, that connection is dead.
    worker = start_worker(log_path=tmp_path / "worker.log")
    try:
        for _ in range(6):  # each worker process has run a task, so holds a connection
            tasks.resource_resubmit_stale_task.delay().get(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
            )
        # then the next tasks reconnect rather than fail
        for _ in range(6):
            assert tasks.resource_resubmit_stale_task.delay().get(timeout=30) == 0
    finally:
        stop_worker(worker)
