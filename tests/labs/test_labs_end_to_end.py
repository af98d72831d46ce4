"""Each lab from click to "Check my progress" passing, through Redis, a real worker
process, a real beat process and a real localcloud process."""

import json
import urllib.request

import pytest
from django.db import transaction

from curriculum.models import LessonCompletion
from curriculum.services import lesson_sync_from_directory
from labs.cloud import storage
from labs.models import CloudResource
from labs.services import labs as lab_services
from tests.labs.conftest import wait_for, wait_for_check, wait_for_state

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRAINING_FORM = {
    "instance_type": "ml.m5.large",
    "num_round": "20",
    "max_depth": "4",
    "eta": "0.3",
    "subsample": "0.9",
    "eval_metric": "auc",
}


@pytest.fixture
def stack(celery_worker, celery_beat, cloud_lab_settings, learner_client):
    lesson_sync_from_directory()
    return cloud_lab_settings


def _launch(client, lab, data):
    response = client.post(f"/labs/{lab}/launch/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    return CloudResource.objects.filter(lab=lab).order_by("-created_at").first()


def _check(client, lab):
    client.post(f"/labs/{lab}/check/", {"purpose": "progress"})
    check_id = client.get(f"/labs/{lab}/").context["check"].pk
    return wait_for_check(check_id)


def _bucket(client):
    page = client.get("/labs/storage/")
    return _launch(client, "storage", {"bucket_name": page.context["proposed_bucket"]})


def test_storage_training_and_transform_labs_end_to_end(
    stack, learner_client, learner, localcloud
):
    # L1: a bucket in the learner's region, holding the course data.
    bucket = wait_for_state(_bucket(learner_client).pk, "ready")
    s3 = localcloud.client("s3", "us-east-1")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket.cloud_name)["Contents"]}
    assert {"data/train.csv", "data/validation.csv", "data/test.csv"} <= keys
    assert _check(learner_client, "storage").state == "passed"

    # L3: training runs through Starting/Downloading/Training/Uploading to Completed.
    job = _launch(learner_client, "training", TRAINING_FORM)
    wait_for_state(job.pk, "completed", timeout=120)
    # The final log lines arrive with the same refresh, a moment after the status.
    job = wait_for(
        lambda: (row := CloudResource.objects.get(pk=job.pk)).details.get("log_final") and row,
        what="the job's final log lines",
    )
    assert job.progress_done == job.progress_total == 20
    assert job.log_tail
    assert any("validation" in name for name in job.metrics)
    assert job.details["final_metrics"]
    assert job.details["model_artifact"].endswith("/output/model.tar.gz")
    statuses = [event.cloud_status for event in job.events.all()]
    assert "InProgress" in statuses and "Completed" in statuses
    assert job.billing_ended_at is not None and job.billing_started_at is None
    assert _check(learner_client, "training").state == "passed"

    # L4: model + batch transform; predictions scored against the true labels.
    transform = _launch(learner_client, "transform", {"instance_type": "ml.m5.large"})
    transform = wait_for_state(transform.pk, "completed", timeout=120)
    assert transform.details["total"] == 1000
    assert transform.details["accuracy"] >= 0.80
    assert CloudResource.objects.get(kind="model").state == "ready"
    assert _check(learner_client, "transform").state == "passed"
    page = learner_client.get("/labs/transform/").content.decode()
    assert "Accuracy on the test set" in page

    # A newer job that failed does not undo the completed one Lab 4 uses.
    failed = lab_services.lab_launch_training(
        learner=learner, lab_settings=stack, region="us-east-1", instance_type="ml.m5.large",
        hyperparameters={"objective": "multi:softmax", "num_round": "5"},
    )  # fmt: skip
    wait_for_state(failed.pk, "failed", timeout=60)
    check = _check(learner_client, "training")
    assert check.state == "passed", check.message
    assert f"Your newest training job {failed.cloud_name} is Failed" in check.message
    assert f"Your earlier job {job.cloud_name} completed" in check.message

    # One round passes Lab 3's metric but not Lab 4's accuracy: both checks say why.
    short = _launch(learner_client, "training", {**TRAINING_FORM, "num_round": "1"})
    wait_for_state(short.pk, "completed", timeout=120)
    check = _check(learner_client, "training")
    assert "Before Lab 4: this model was trained for 1 round." in check.message
    transform = _launch(learner_client, "transform", {"instance_type": "ml.m5.large"})
    wait_for_state(transform.pk, "completed", timeout=120)
    check = _check(learner_client, "transform")
    assert check.state == "not_yet"
    assert f"training job {short.cloud_name}, which was trained for 1 round" in check.message
    assert "always answers 0 already scores 0.739" in check.message

    # Passing checks tick the labs off in the course.
    assert (
        LessonCompletion.objects.filter(
            user=learner, lesson__lab__in=["storage", "training", "transform"]
        ).count()
        == 3
    )


def test_notebook_lab_open_stop_start_delete(stack, learner_client):
    notebook = _launch(learner_client, "notebook", {"instance_type": "ml.t3.medium"})
    notebook = wait_for_state(notebook.pk, "ready", timeout=60)
    assert notebook.cloud_status == "InService"
    assert _check(learner_client, "notebook").state == "passed"

    # The starter notebook is put into JupyterLab once it is InService.
    wait_for(
        lambda: CloudResource.objects.get(pk=notebook.pk).details.get("starter_notebook"),
        what="the starter notebook",
    )

    # Open JupyterLab: the link is made by a worker and really opens the server.
    learner_client.post(f"/labs/resources/{notebook.pk}/open/")
    url = wait_for(
        lambda: CloudResource.objects.get(pk=notebook.pk).details.get("open_url"),
        what="a JupyterLab link",
    )
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
    card = learner_client.get(f"/labs/resources/{notebook.pk}/status/").content.decode()
    assert url.replace("&", "&amp;") in card
    assert "JupyterLab then stays signed in for 3 hours" in card
    base, _, query = url.partition("/lab?")
    with urllib.request.urlopen(
        f"{base}/api/contents/lab-starter.ipynb?{query}", timeout=10
    ) as answer:
        cells = json.load(answer)["content"]["cells"]
    assert any("list_buckets" in "".join(cell["source"]) for cell in cells)

    learner_client.post(f"/labs/resources/{notebook.pk}/stop/")
    stopped = wait_for_state(notebook.pk, "stopped", timeout=60)
    assert stopped.billing_started_at is None and stopped.estimated_cost_usd >= 0
    learner_client.post(f"/labs/resources/{notebook.pk}/start/")
    wait_for_state(notebook.pk, "ready", timeout=60)
    learner_client.post(f"/labs/resources/{notebook.pk}/delete/")
    wait_for_state(notebook.pk, "deleted", timeout=60)


def test_a_bad_hyperparameter_shows_failed_with_the_reason(stack, learner, cohort):
    bucket = lab_services.lab_launch_bucket(
        learner=learner,
        lab_settings=stack,
        region="us-east-1",
        bucket_name=f"bad-hp-{learner.pk}-bucket",
    )
    wait_for_state(bucket.pk, "ready")
    job = lab_services.lab_launch_training(
        learner=learner,
        lab_settings=stack,
        region="us-east-1",
        instance_type="ml.m5.large",
        hyperparameters={"objective": "multi:softmax", "num_round": "5"},
    )
    job = wait_for_state(job.pk, "failed", timeout=60)
    assert "num_class" in job.failure_reason


def test_clean_up_leaves_nothing_in_the_cloud(stack, learner_client, localcloud):
    bucket = wait_for_state(_bucket(learner_client).pk, "ready")
    learner_client.post("/labs/region/", {"region": "eu-west-1", "lab": "storage"})
    other = wait_for_state(_bucket(learner_client).pk, "ready")
    assert other.region == "eu-west-1"

    learner_client.post("/labs/storage/check/", {"purpose": "cleanup"})
    check = wait_for_check(learner_client.get("/labs/storage/").context["check"].pk, timeout=60)
    assert check.state == "passed", check.message
    assert "us-east-1" in check.message and "eu-west-1" in check.message
    for row in (bucket, other):
        s3 = localcloud.client("s3", row.region)
        assert not storage.bucket_describe(s3, name=row.cloud_name).exists


def test_clean_up_clicked_during_a_launch_deletes_it_once_the_cloud_answers(
    stack, learner, localcloud
):
    # Both in one transaction: the clean-up surely finds the launch not yet answered.
    with transaction.atomic():
        bucket = lab_services.lab_launch_bucket(
            learner=learner, lab_settings=stack, region="us-east-1", bucket_name="cleanup-race-1"
        )
        lab_services.lab_cleanup(
            learner=learner, lab_settings=stack, lab="storage", region="us-east-1"
        )
    bucket = wait_for_state(bucket.pk, "deleted", timeout=60)
    assert "clean-up deletes it now" in " ".join(e.message for e in bucket.events.all())
    s3 = localcloud.client("s3", "us-east-1")
    assert not storage.bucket_describe(s3, name="cleanup-race-1").exists


def test_a_bucket_name_taken_in_the_account_fails_and_its_delete_touches_nothing(
    stack, learner_client, learner, localcloud
):
    # Say, the SDK's default bucket, made by a classmate's notebook cell, with their model.
    s3 = localcloud.client("s3", "us-east-1")
    theirs = f"sagemaker-us-east-1-taken-{learner.pk}"
    s3.create_bucket(Bucket=theirs)
    s3.put_object(Bucket=theirs, Key="classmate/model.tar.gz", Body=b"their work")

    row = _launch(learner_client, "storage", {"bucket_name": theirs})
    failed = wait_for_state(row.pk, "failed")
    assert "not one the portal made for you" in failed.failure_reason
    page = learner_client.get("/labs/storage/").content.decode()
    card = page[page.index(f'id="resource-{row.pk}"') :].split("</article>")[0]
    # The lab time will not delete it either: it only leaves the list.
    assert "removed from your list at" in card and "with the data in it" not in card

    learner_client.post(f"/labs/resources/{row.pk}/delete/")
    gone = wait_for_state(row.pk, "deleted")
    assert "nothing was deleted there" in gone.events.last().message
    body = s3.get_object(Bucket=theirs, Key="classmate/model.tar.gz")["Body"].read()
    assert body == b"their work"

    # The lab's clean-up does not look for a bucket that was never the learner's.
    learner_client.post("/labs/storage/check/", {"purpose": "cleanup"})
    check_id = learner_client.get("/labs/storage/").context["check"].pk
    assert wait_for_check(check_id).state == "passed"
    assert s3.head_bucket(Bucket=theirs)["ResponseMetadata"]["HTTPStatusCode"] == 200
