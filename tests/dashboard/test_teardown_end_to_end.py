"""Tearing down a cohort through Redis, a real worker and beat process, and a real
localcloud process: afterwards, listing every allowed region shows nothing of it."""

import pytest

from labs.dashboard.models import CohortOperation
from labs.models import CloudResource
from labs.services import labs as lab_services
from tests.dashboard.cloudlist import cohort_live_items
from tests.labs.conftest import wait_for, wait_for_state

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture
def stack(celery_worker, celery_beat, cloud_lab_settings, course):
    return cloud_lab_settings


def _bucket(learner, lab_settings, region):
    return lab_services.lab_launch_bucket(
        learner=learner,
        lab_settings=lab_settings,
        region=region,
        bucket_name=f"td-{lab_settings.cohort.slug}-{learner.pk}-{region}",
    )


def _notebook(learner, lab_settings, region):
    return lab_services.lab_launch_notebook(
        learner=learner, lab_settings=lab_settings, region=region, instance_type="ml.t3.medium"
    )


def test_teardown_deletes_every_kind_in_every_region_and_the_check_finds_nothing(
    stack, cohort, learner, other_learner, instructor_client, localcloud
):
    # given: buckets and notebooks in both allowed regions and a training job
    made = [
        _bucket(learner, stack, "us-east-1"),
        _bucket(other_learner, stack, "eu-west-1"),
        _notebook(learner, stack, "eu-west-1"),
        _notebook(other_learner, stack, "us-east-1"),
    ]
    for resource in made:
        wait_for_state(resource.pk, "ready", timeout=90)
    job = lab_services.lab_launch_training(
        learner=learner,
        lab_settings=stack,
        region="us-east-1",
        instance_type="ml.m5.large",
        hyperparameters={"objective": "binary:logistic", "num_round": "200", "max_depth": "4"},
    )
    wait_for_state(job.pk, ("provisioning", "running", "completed"), timeout=90)
    before = cohort_live_items(localcloud, REGIONS, cohort.slug)
    assert {kind for _, kind, _, _ in before} >= {"bucket", "notebook"}

    # when
    response = instructor_client.post(
        f"/dashboard/{cohort.pk}/actions/teardown/", {"confirm": "yes"}
    )
    assert response.status_code == 302

    # then: the check, run by the worker, lists both regions and finds nothing
    def finished():
        return CohortOperation.objects.filter(
            kind="teardown", state__in=("done", "failed")
        ).first()

    operation = wait_for(finished, timeout=180, what="the teardown check")
    assert operation.state == "done", operation.summary
    assert "nothing of the cohort is left in the cloud" in operation.summary
    assert "set the budget to $0 in Settings" in operation.summary  # The labs stay open.
    assert operation.regions == sorted(REGIONS)
    assert [item for item in operation.found if item["live"]] == []
    assert set(CloudResource.objects.filter(cohort=cohort).values_list("state", flat=True)) == {
        "deleted"
    }
    assert cohort_live_items(localcloud, REGIONS, cohort.slug) == []
    for resource in CloudResource.objects.filter(cohort=cohort):
        messages = list(resource.events.values_list("message", flat=True))
        assert any("tearing down the whole cohort" in m for m in messages), messages

    # and the dashboard says so
    page = instructor_client.get(f"/dashboard/{cohort.pk}/").content.decode()
    assert "nothing of the cohort is left in the cloud" in page
