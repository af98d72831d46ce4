"""Launch rules enforced below the views: by the services and the database."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labs.models import CloudResource
from labs.services import labs as lab_services
from labs.services.policy import LaunchRefusedError
from labs.services.resources import resource_delete_when_settled, resource_request_action

HYPERPARAMETERS = {"objective": "binary:logistic", "num_round": "5"}


def _row(owner, lab_settings, **extra):
    values = {
        "owner": owner,
        "cohort": lab_settings.cohort,
        "account": lab_settings.account,
        "lab": "training",
        "kind": "training_job",
        "region": "us-east-1",
        "state": "running",
    }
    values.update(extra)
    return CloudResource.objects.create(**values)


@pytest.mark.django_db
def test_the_database_refuses_a_second_live_resource_for_one_lab_and_region(
    learner, cloud_lab_settings
):
    _row(learner, cloud_lab_settings, cloud_name="job-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(learner, cloud_lab_settings, cloud_name="job-2")
    # Finished ones do not count: the learner may train again.
    _row(learner, cloud_lab_settings, cloud_name="job-3", state="completed")
    _row(learner, cloud_lab_settings, cloud_name="job-4", region="eu-west-1")


def _two_at_once(click) -> None:
    """Run ``click(meet)`` in two threads, each on its own database connection; both
    wait at ``meet()`` until the other gets there too."""
    barrier = threading.Barrier(2)

    def run():
        try:
            click(barrier.wait)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.django_db(transaction=True)
def test_two_clicks_racing_make_one_training_job(learner, cloud_lab_settings):
    _row(learner, cloud_lab_settings, lab="storage", kind="bucket", state="ready",
         cloud_name="race-bucket")  # fmt: skip
    for _ in range(5):
        made = []

        def click(meet, made=made):
            meet()
            made.append(
                lab_services.lab_launch_training(
                    learner=learner, lab_settings=cloud_lab_settings, region="us-east-1",
                    instance_type="ml.m5.large", hyperparameters=HYPERPARAMETERS,
                ).pk
            )  # fmt: skip

        _two_at_once(click)
        assert len(set(made)) == 1
        assert CloudResource.objects.filter(kind="training_job").count() == 1
        CloudResource.objects.filter(kind="training_job").update(state="completed")
        CloudResource.objects.filter(kind="training_job").delete()


@pytest.mark.django_db(transaction=True)
def test_two_tabs_racing_to_stop_one_job_record_one_request(learner, cloud_lab_settings):
    job = _row(learner, cloud_lab_settings, cloud_name="race-stop-job")
    outcomes = []

    def click(meet):
        # Each tab read the row before either wrote it.
        seen = CloudResource.objects.get(pk=job.pk)
        meet()
        try:
            resource_request_action(resource=seen, action="stop")
            outcomes.append("asked")
        except LaunchRefusedError as refusal:
            outcomes.append(refusal.message)

    _two_at_once(click)
    assert sorted(outcomes) == [
        "The training job race-stop-job is already being stopped.",
        "asked",
    ]
    assert job.events.filter(message="You asked to stop it.").count() == 1


@pytest.mark.django_db
def test_a_clean_up_racing_another_delete_leaves_one_request(learner, cloud_lab_settings):
    bucket = _row(learner, cloud_lab_settings, lab="storage", kind="bucket", state="ready",
                  cloud_name="race-clean-up")  # fmt: skip
    read_by_the_clean_up = CloudResource.objects.get(pk=bucket.pk)
    resource_request_action(resource=bucket, action="delete")  # another tab, first
    resource_delete_when_settled(read_by_the_clean_up)
    assert CloudResource.objects.get(pk=bucket.pk).state == "deleting"
    assert bucket.events.filter(message__icontains="delete").count() == 1


@pytest.mark.django_db
def test_a_stopped_notebook_is_started_again_not_made_twice(learner, cloud_lab_settings):
    _row(learner, cloud_lab_settings, lab="notebook", kind="notebook", state="stopped",
         cloud_name="nb-stopped", instance_type="ml.t3.medium")  # fmt: skip
    with pytest.raises(LaunchRefusedError, match="Start it again or delete it"):
        lab_services.lab_launch_notebook(
            learner=learner, lab_settings=cloud_lab_settings, region="us-east-1",
            instance_type="ml.t3.medium",
        )  # fmt: skip


@pytest.mark.django_db
def test_a_launch_is_refused_once_the_cohort_has_spent_its_budget(
    learner, other_learner, cloud_lab_settings
):
    # Another learner's job has been billing for ten hours at $1/hour, and an earlier,
    # finished one cost $0.50: the cohort has spent $10.50.
    started = timezone.now() - timedelta(hours=10)
    _row(other_learner, cloud_lab_settings, cloud_name="long-job", hourly_usd=Decimal("1"),
         billing_started_at=started)  # fmt: skip
    _row(other_learner, cloud_lab_settings, cloud_name="old-job", state="completed",
         estimated_cost_usd=Decimal("0.50"))  # fmt: skip
    notebook = {
        "learner": learner, "lab_settings": cloud_lab_settings, "region": "us-east-1",
        "instance_type": "ml.t3.medium",
    }  # fmt: skip
    cloud_lab_settings.budget_usd = Decimal("10.40")
    with pytest.raises(LaunchRefusedError, match=r"used its budget \(\$10\.50 of \$10\.40\)"):
        lab_services.lab_launch_notebook(**notebook)
    assert not CloudResource.objects.filter(owner=learner).exists()
    cloud_lab_settings.budget_usd = Decimal("10.60")
    assert lab_services.lab_launch_notebook(**notebook).state == "requested"


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_only_writes_that_mirror_the_cloud_commit_without_waiting_for_the_disk():
    from labs.services.events import cloud_mirror_transaction

    with cloud_mirror_transaction():
        assert _synchronous_commit() == "off"
    # The setting lasts for that transaction only: the next one waits for the disk.
    with transaction.atomic():
        assert _synchronous_commit() == "on"
        # Nested in a block of someone else's (a learner's request), it changes nothing.
        with cloud_mirror_transaction():
            assert _synchronous_commit() == "on"
