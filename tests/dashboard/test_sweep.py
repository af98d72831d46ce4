"""The sweep and the cloud inventory against a real localcloud process (services and task
functions called directly; the end-to-end test goes through a worker)."""

import time

import numpy as np
import pytest

from labs.cloud import images, inventory, pricing
from labs.cloud import sagemaker as sm_api
from labs.dashboard import services, tasks
from labs.dashboard.models import CohortOperation
from tests.dashboard.cloudlist import cohort_live_items
from tests.dashboard.conftest import make_resource
from tests.localcloud.support import classification_data, to_csv, training_request, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _tags(cohort, learner_id, lab="notebook"):
    return [
        {"Key": "portal:cohort", "Value": cohort.slug},
        {"Key": "portal:learner", "Value": str(learner_id)},
        {"Key": "portal:lab", "Value": lab},
    ]


def _notebook(localcloud, lab_settings, region, name, tags):
    sm = localcloud.client("sagemaker", region)
    role = sm_api.execution_role_arn(lab_settings.account.connection(), region, configured_arn="")
    sm.create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=role, Tags=tags
    )


def _bucket(localcloud, region, name, tags):
    s3 = localcloud.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=name, Key="data/train.csv", Body=b"1,2,3\n")
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})


def _model(localcloud, lab_settings, region, name, tags):
    sm = localcloud.client("sagemaker", region)
    role = sm_api.execution_role_arn(lab_settings.account.connection(), region, configured_arn="")
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": images.xgboost_image_uri(region),
            "ModelDataUrl": "s3://nowhere/model.tar.gz",
        },
        ExecutionRoleArn=role,
        Tags=tags,
    )


def _long_training_job(localcloud, region, name, tags):
    """A job that trains until it is stopped, reading a bucket nobody tagged."""
    s3 = localcloud.client("s3", region)
    data_bucket = f"untagged-{name}"
    s3.create_bucket(Bucket=data_bucket)
    x, y = classification_data(rows=500)
    s3.put_object(Bucket=data_bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    request = training_request(
        name, data_bucket, region, {"num_round": "100000"}, instance_type="ml.m5.xlarge"
    )
    sm = localcloud.client("sagemaker", region)
    sm.create_training_job(**request, Tags=tags)
    wait_for(
        lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"],
        lambda status: status == "Training",
    )


def _run_until_done(step, operation_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while step(operation_id=operation_id):
        assert time.monotonic() < deadline, "the cloud did not finish in time"
        time.sleep(0.5)


def test_sweep_finds_only_the_cohorts_resources_unknown_to_the_portal_and_deletes_them(
    cloud_lab_settings, cohort, learner, instructor, other_cohort, localcloud
):
    # given: orphans in two regions, one resource the portal knows, another cohort's
    slug = cohort.slug
    _notebook(localcloud, cloud_lab_settings, "eu-west-1", f"nb-orphan-{slug}", _tags(cohort, 7))
    _bucket(localcloud, "us-east-1", f"orphan-{slug}", _tags(cohort, 7, "storage"))
    _model(localcloud, cloud_lab_settings, "us-east-1", f"model-orphan-{slug}", _tags(cohort, 8))
    _bucket(localcloud, "eu-west-1", f"known-{slug}", _tags(cohort, learner.pk, "storage"))
    make_resource(
        learner,
        cloud_lab_settings,
        kind="bucket",
        lab="storage",
        region="eu-west-1",
        cloud_name=f"known-{slug}",
    )
    _bucket(localcloud, "us-east-1", f"theirs-{slug}", _tags(other_cohort, 9, "storage"))
    _long_training_job(localcloud, "us-east-1", f"job-orphan-{slug}", _tags(cohort, 8, "training"))

    # when
    sweep = services.cohort_sweep_request(cohort=cohort, actor=instructor)
    tasks.cohort_sweep_task(sweep.pk)
    tasks.cohort_sweep_task(sweep.pk)  # a second run (a redelivered message) is harmless

    # then: each with what it costs (a job's instance type is not in its listing)
    sweep.refresh_from_db()
    assert sweep.state == "done"
    notebook_hourly = pricing.hourly_price("ml.t3.medium", "eu-west-1")
    job_hourly = pricing.hourly_price("ml.m5.xlarge", "us-east-1")
    found = sorted((i["region"], i["kind"], i["name"], i["costs"]) for i in sweep.found)
    assert found == [
        (
            "eu-west-1",
            "notebook",
            f"nb-orphan-{slug}",
            f"ml.t3.medium, about {pricing.format_usd(notebook_hourly)}/hour",
        ),
        ("us-east-1", "bucket", f"orphan-{slug}", "its storage"),
        ("us-east-1", "model", f"model-orphan-{slug}", "nothing"),
        (
            "us-east-1",
            "training_job",
            f"job-orphan-{slug}",
            f"ml.m5.xlarge, about {pricing.format_usd(job_hourly)}/hour",
        ),
    ]
    assert sweep.summary.endswith(
        "4 resources tagged for the cohort that the portal does not know; those running "
        f"cost about {pricing.format_usd(notebook_hourly + job_hourly)}/hour together."
    )

    # and deleting them removes them from the cloud (the job is stopped and stays in
    # SageMaker's history), the known bucket stays
    deletion = services.cohort_sweep_delete_request(source=sweep, actor=instructor)
    _run_until_done(services.cohort_sweep_delete_run, deletion.pk)
    deletion.refresh_from_db()
    assert deletion.state == "done", deletion.summary
    assert deletion.resources_touched == 4
    left = cohort_live_items(localcloud, ["us-east-1", "eu-west-1"], slug)
    assert left == [("s3", "bucket", f"known-{slug}", "Available")]
    assert not services.cohort_sweep_delete_run(operation_id=deletion.pk)  # runs twice


def test_inventory_lists_one_learner_only_when_asked(cloud_lab_settings, cohort, localcloud):
    slug = cohort.slug
    _bucket(localcloud, "eu-west-1", f"one-{slug}", _tags(cohort, 1, "storage"))
    _bucket(localcloud, "eu-west-1", f"two-{slug}", _tags(cohort, 2, "storage"))
    connection = cloud_lab_settings.account.connection()

    everyone = inventory.tagged_items(
        connection, ["us-east-1", "eu-west-1"], match={"portal:cohort": slug}
    )
    one = inventory.tagged_items(
        connection, ["eu-west-1"], match={"portal:cohort": slug, "portal:learner": "1"}
    )

    assert sorted(i.name for i in everyone) == [f"one-{slug}", f"two-{slug}"]
    assert [(i.name, i.region, i.live) for i in one] == [(f"one-{slug}", "eu-west-1", True)]
    assert inventory.CloudItem.from_dict(one[0].as_dict()) == one[0]


def test_teardown_check_with_nothing_left_reports_every_region_and_runs_twice(
    cloud_lab_settings, cohort, instructor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        operation = services.cohort_teardown(cohort=cohort, actor=instructor)

    tasks.cohort_teardown_check_task(operation.pk)
    tasks.cohort_teardown_check_task(operation.pk)

    operation.refresh_from_db()
    assert operation.state == "done"
    assert operation.summary.startswith(
        "Checked 2 regions (eu-west-1, us-east-1): nothing of the cohort is left in the cloud."
    )
    assert CohortOperation.objects.count() == 1


def test_found_items_name_only_the_cohorts_own_learners(cohort, learner, other_learner):
    from portal.models import Cohort

    elsewhere = Cohort.objects.create(name="Other school", slug="other")
    other_learner.enrolments.all().delete()
    other_learner.enrolments.create(cohort=elsewhere, role="learner")

    def item(learner_tag):
        tags = {"portal:cohort": cohort.slug, "portal:learner": learner_tag}
        return inventory.CloudItem("notebook", "us-east-1", "nb", "InService", True, tags=tags)

    # Tags can be typed by anyone with console access: a superscript two is no id.
    rows = services._found(
        [item(str(learner.pk)), item(str(other_learner.pk)), item("²"), item("")], cohort
    )

    assert [row["learner_name"] for row in rows] == [
        learner.username,
        "not in this cohort",
        "",
        "",
    ]


def test_a_found_jobs_cost_counts_its_instances_and_a_missing_type_is_no_price():
    job = inventory.CloudItem(
        "training_job", "us-east-1", "job", "InProgress", True, "arn:job",
        instance_type="ml.m5.xlarge", instance_count=2,
    )  # fmt: skip
    untyped = inventory.CloudItem.from_dict({**job.as_dict(), "instance_type": None})

    costs = services._costs(job)
    untyped_costs = services._costs(untyped)

    hourly = pricing.hourly_price("ml.m5.xlarge", "us-east-1") * 2
    assert costs["costs"] == f"2 × ml.m5.xlarge, {pricing.format_hourly(hourly)}"
    assert costs["hourly_usd"] == str(hourly)
    assert inventory.CloudItem.from_dict(job.as_dict()) == job
    assert untyped.instance_type == "" and not untyped.runs_instance
    assert untyped_costs == {
        "costs": "running, instance type unknown",
        "runs_instance": True,
        "hourly_usd": "",
    }
