"""The refresher: its cost grows with regions, not with learners; it finishes work whose
task was lost and never undoes a newer write."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labs import drivers, tasks
from labs.cloud import storage
from labs.cloud.connection import client
from labs.models import CloudResource
from labs.services import labs as lab_services
from labs.services.refresh import resource_refresh_group
from labs.services.resources import resource_apply_observation, resource_claim_for_submit
from tests.labs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Slow enough to catch mid-training on this machine, small enough to stop quickly.
LONG_TRAINING = {
    "objective": "binary:logistic", "num_round": "4000", "max_depth": "8", "eta": "0.01",
    "eval_metric": "logloss",
}  # fmt: skip


class CallCounter:
    def __init__(self, clients):
        self.clients = clients
        self.names: list[str] = []

    def _count(self, model, **kwargs):
        self.names.append(model.name)

    def __enter__(self):
        for each in self.clients:
            each.meta.events.register("before-call", self._count)
        return self

    def __exit__(self, *exc):
        for each in self.clients:
            each.meta.events.unregister("before-call", self._count)


def test_training_progress_is_followed_with_one_log_call_per_region(cloud_lab_settings, learner):
    bucket = lab_services.lab_launch_bucket(
        learner=learner, lab_settings=cloud_lab_settings, region="us-east-1",
        bucket_name=f"follow-{learner.pk}-logs",
    )  # fmt: skip
    tasks.resource_submit_task(bucket.pk)
    tasks.resource_followup_task(bucket.pk)
    # A session worker may be running the same two tasks: whichever finishes last.
    wait_for(lambda: CloudResource.objects.get(pk=bucket.pk).state == "ready", timeout=30,
             what="the bucket's data")  # fmt: skip
    job = lab_services.lab_launch_training(
        learner=learner, lab_settings=cloud_lab_settings, region="us-east-1",
        instance_type="ml.m5.large", hyperparameters=LONG_TRAINING,
    )  # fmt: skip
    tasks.resource_submit_task(job.pk)
    account_id = cloud_lab_settings.account_id

    def refreshed_row():
        resource_refresh_group(account_id=account_id, region="us-east-1", kind="training_job")
        return CloudResource.objects.get(pk=job.pk)

    try:
        wait_for(lambda: refreshed_row().progress_done > 0, timeout=60, what="rounds to show")
        connection = cloud_lab_settings.account.connection()
        clients = [client(connection, service, "us-east-1") for service in ("sagemaker", "logs")]
        with CallCounter(clients) as counter:
            before = CloudResource.objects.get(pk=job.pk).progress_done
            after = wait_for(
                lambda: (row := refreshed_row()).progress_done > before and row, timeout=30,
                what="more rounds",
            )  # fmt: skip
            counter.names.clear()
            refreshed_row()
        assert after.secondary_status == "Training"
        assert after.metrics["validation:logloss"][-1][0] == after.progress_done - 1
        # One cycle while it trains: the List call and one log call, nothing per job.
        assert sorted(counter.names) == ["FilterLogEvents", "ListTrainingJobs"]
    finally:
        tasks.resource_action_task(job.pk, "stop")


def _bucket_created_without_its_data(lab_settings, learner, name):
    """A bucket the first task step made, whose data-upload task has not run (no task is
    sent: the row is written directly, so no session worker uploads meanwhile)."""
    bucket = CloudResource.objects.create(
        owner=learner, cohort=lab_settings.cohort, account=lab_settings.account,
        lab="storage", kind="bucket", region="eu-west-1", cloud_name=name,
        params={"upload_dataset": True},
    )  # fmt: skip
    row = resource_claim_for_submit(bucket.pk)
    return resource_apply_observation(row, drivers.for_kind(row.kind).submit(row))


def _written_before_the_followup_grace(row, settings):
    """As if the row's follow-up task had been lost: nothing wrote it for longer than
    LABS_FOLLOWUP_AFTER_SECONDS."""
    long_ago = timezone.now() - timedelta(seconds=settings.LABS_FOLLOWUP_AFTER_SECONDS + 1)
    CloudResource.objects.filter(pk=row.pk).update(updated_at=long_ago)


def test_a_bucket_whose_data_upload_was_cut_off_is_finished_by_the_refresh(
    cloud_lab_settings, learner, settings
):
    # The bucket exists, its data does not: the upload task is queued, or was lost.
    row = _bucket_created_without_its_data(
        cloud_lab_settings, learner, f"cut-off-{learner.pk}-upload"
    )
    assert (row.state, row.cloud_status) == ("provisioning", "Available")
    s3 = client(cloud_lab_settings.account.connection(), "s3", "eu-west-1")
    assert s3.list_objects_v2(Bucket=row.cloud_name).get("KeyCount", 0) == 0

    def refresh():
        resource_refresh_group(
            account_id=cloud_lab_settings.account_id, region="eu-west-1", kind="bucket"
        )
        return CloudResource.objects.get(pk=row.pk)

    # Just created: the upload is left to its task (in a class-wide launch the refresh
    # would otherwise upload every bucket's data a second time while the tasks queue).
    assert refresh().state == "provisioning"
    assert s3.list_objects_v2(Bucket=row.cloud_name).get("KeyCount", 0) == 0

    # Nothing has touched it for longer than the grace: the task is presumed lost.
    _written_before_the_followup_grace(row, settings)
    row = refresh()
    assert row.state == "ready"
    assert set(row.details["uris"]) >= {"train", "validation", "test"}
    assert s3.list_objects_v2(Bucket=row.cloud_name)["KeyCount"] >= 3


def test_a_refresh_never_undoes_what_a_task_wrote_while_the_cloud_was_asked(
    cloud_lab_settings, learner, monkeypatch, settings
):
    bucket = _bucket_created_without_its_data(
        cloud_lab_settings, learner, f"race-{learner.pk}-upload"
    )
    _written_before_the_followup_grace(bucket, settings)
    # The refresh reads the row (no data yet) and asks the cloud; meanwhile the upload
    # task finishes and makes the bucket Ready.
    describe = drivers.BucketDriver.describe

    def describe_while_the_upload_finishes(driver, resource):
        seen = describe(driver, resource)
        tasks.resource_followup_task(resource.pk)
        return seen

    # What a learner's launch would read at each data upload.
    upload = storage.dataset_upload
    states_at_upload = []

    def recording_upload(*args, **kwargs):
        states_at_upload.append(CloudResource.objects.get(pk=bucket.pk).state)
        return upload(*args, **kwargs)

    monkeypatch.setattr(drivers.BucketDriver, "describe", describe_while_the_upload_finishes)
    monkeypatch.setattr(storage, "dataset_upload", recording_upload)
    resource_refresh_group(
        account_id=cloud_lab_settings.account_id, region="eu-west-1", kind="bucket"
    )
    assert CloudResource.objects.get(pk=bucket.pk).state == "ready"
    # The stale "no data yet" neither sent the bucket back to Provisioning (where training
    # is refused) nor uploaded the data a second time.
    assert states_at_upload == ["provisioning"]
