"""SageMaker through a real localcloud: adopt on create, list for the refresher, lifecycles."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Any

import pytest

from labs.cloud import sagemaker as cloud_sm
from labs.cloud.connection import CloudConnection, client
from labs.cloud.errors import PermanentCloudError
from labs.cloud.images import xgboost_image_uri
from labs.cloud.naming import resource_name
from labs.cloud.sagemaker import (
    EXECUTION_ROLE_NAME,
    TrainingJob,
    execution_role_arn,
    model_create,
    model_delete,
    model_exists,
    notebook_create,
    notebook_delete,
    notebook_describe,
    notebook_list,
    notebook_presigned_url,
    notebook_start,
    notebook_stop,
    parse_metric_lines,
    training_job_create,
    training_job_describe,
    training_job_list,
    training_job_stop,
    training_log_tail,
    training_metric_history,
    transform_job_create,
    transform_job_describe,
    transform_job_list,
    transform_job_stop,
)
from labs.cloud.storage import bucket_create, dataset_upload, object_text
from labs.dataset import prediction_accuracy

from .conftest import wait_for

REGION = "us-east-1"


def a_name(kind: str, lab: str = "L3") -> str:
    return resource_name(
        kind=kind, cohort_slug="test", user_id=1, lab=lab, attempt=uuid.uuid4().int % 10**9
    )


@pytest.fixture(scope="module")
def data(connection: CloudConnection) -> dict[str, str]:
    """A bucket holding the course data set; {short name: S3 URI} plus "bucket"."""
    s3 = client(connection, "s3", REGION)
    bucket = f"lab-sm-tests-{uuid.uuid4().hex[:10]}"
    bucket_create(s3, name=bucket)
    return {"bucket": bucket, **dataset_upload(s3, bucket=bucket)}


@pytest.fixture(scope="module")
def role(connection: CloudConnection) -> str:
    return execution_role_arn(connection, REGION)


def start_training(
    sm: Any, data: dict[str, str], role: str, name: str, **hyperparameters: str
) -> TrainingJob:
    return training_job_create(
        sm,
        name=name,
        image_uri=xgboost_image_uri(sm.meta.region_name),
        role_arn=role,
        instance_type="ml.m5.large",
        train_s3=data["train"],
        validation_s3=data["validation"],
        output_s3=f"s3://{data['bucket']}/models/",
        hyperparameters={"objective": "binary:logistic", "num_round": "20", **hyperparameters},
        max_runtime_seconds=600,
        tags={"cohort": "test", "learner": "1", "lab": "L3"},
    )


def finished(sm: Any, name: str, timeout: float = 120) -> TrainingJob:
    return wait_for(
        lambda: training_job_describe(sm, name=name),
        lambda job: job is not None and job.is_terminal,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def trained(connection: CloudConnection, data: dict[str, str], role: str) -> TrainingJob:
    sm = client(connection, "sagemaker", REGION)
    name = a_name("training_job")
    start_training(sm, data, role, name, eval_metric="auc")
    return finished(sm, name)


def test_training_job_create_twice_returns_the_same_job(
    sm: Any, data: dict[str, str], role: str
) -> None:
    name = a_name("training_job")

    first = start_training(sm, data, role, name)
    second = start_training(sm, data, role, name)

    assert first.arn == second.arn
    assert first.created_at == second.created_at
    assert [s.name for s in training_job_list(sm, name_contains=name)] == [name]
    assert second.status in {"InProgress", "Completed"}


def test_training_job_completes_with_metrics_artifact_and_billing(trained: TrainingJob) -> None:
    assert trained.status == "Completed"
    assert trained.secondary_status == "Completed"
    assert [t.status for t in trained.transitions][0] == "Starting"
    assert trained.transitions[-1].status == "Completed"
    assert trained.final_metrics["validation:auc"] > 0.85
    assert trained.model_artifact.endswith(f"/{trained.name}/output/model.tar.gz")
    assert trained.instance_type == "ml.m5.large"
    assert trained.started_at is not None and trained.ended_at is not None
    assert trained.started_at.tzinfo is UTC
    assert trained.billable_seconds is not None
    assert trained.hyperparameters["num_round"] == "20"


def test_metric_history_and_log_tail_come_from_cloudwatch(logs: Any, trained: TrainingJob) -> None:
    history = training_metric_history(logs, job_name=trained.name)
    tail = training_log_tail(logs, job_name=trained.name, limit=5)

    assert [round_ for round_, _ in history] == list(range(20))
    assert set(history[-1][1]) == {"train:auc", "validation:auc"}
    assert history[-1][1]["validation:auc"] == pytest.approx(
        trained.final_metrics["validation:auc"], abs=1e-4
    )
    assert len(tail) == 5
    assert any("[19]" in line for line in tail)


def test_log_readers_of_a_job_without_logs_return_empty(logs: Any) -> None:
    assert training_log_tail(logs, job_name="no-such-job-xyz") == []
    assert training_metric_history(logs, job_name="no-such-job-xyz") == []


def test_list_reports_statuses_and_filters(
    sm: Any, trained: TrainingJob, data: dict[str, str], role: str
) -> None:
    assert trained.last_modified is not None
    before = trained.last_modified + timedelta(milliseconds=1)
    running = a_name("training_job")
    start_training(sm, data, role, running, num_round="2000")

    listed = {s.name: s for s in training_job_list(sm, name_contains="train-test-u1")}
    completed = training_job_list(sm, status_equals="Completed")
    recent = training_job_list(sm, last_modified_after=before)

    assert listed[trained.name].status == "Completed"
    assert listed[running].status == "InProgress"
    assert listed[trained.name].last_modified == trained.last_modified
    assert trained.name in {s.name for s in completed}
    assert running not in {s.name for s in completed}
    assert running in {s.name for s in recent}
    assert trained.name not in {s.name for s in recent}
    training_job_stop(sm, name=running)


def test_list_pages_through_everything(sm: Any, trained: TrainingJob) -> None:
    everything = training_job_list(sm, page_size=1)

    assert trained.name in {s.name for s in everything}
    assert len(everything) == len({s.name for s in everything}) >= 2


def test_training_jobs_belong_to_their_region(
    connection: CloudConnection, sm: Any, data: dict[str, str], role: str
) -> None:
    eu = client(connection, "sagemaker", "eu-west-1")
    name = a_name("training_job", lab="L3-eu")

    job = start_training(eu, data, role, name)

    assert ":eu-west-1:" in job.arn
    assert name in {s.name for s in training_job_list(eu, name_contains=name)}
    assert training_job_list(sm, name_contains=name) == []
    assert training_job_describe(sm, name=name) is None
    training_job_stop(eu, name=name)


def test_a_bad_hyperparameter_fails_the_job_with_a_reason(
    sm: Any, data: dict[str, str], role: str
) -> None:
    name = a_name("training_job", lab="L3-bad")

    start_training(sm, data, role, name, max_depth="deep")
    job = finished(sm, name)

    assert job.status == "Failed"
    assert "max_depth" in job.failure_reason


def test_stopping_a_running_job_and_stopping_again(
    sm: Any, data: dict[str, str], role: str
) -> None:
    name = a_name("training_job", lab="L3-stop")
    start_training(sm, data, role, name, num_round="5000")

    training_job_stop(sm, name=name)
    training_job_stop(sm, name=name)
    job = finished(sm, name)

    assert job.status in {"Stopped", "Completed"}
    training_job_stop(sm, name=name)  # finished: nothing to do
    training_job_stop(sm, name="never-existed-123")


def test_missing_resources_describe_as_none(sm: Any) -> None:
    assert training_job_describe(sm, name="never-existed-123") is None
    assert transform_job_describe(sm, name="never-existed-123") is None
    assert notebook_describe(sm, name="never-existed-123") is None
    assert model_exists(sm, name="never-existed-123") is False


def test_model_and_batch_transform_predict_the_test_set(
    s3: Any, sm: Any, trained: TrainingJob, data: dict[str, str], role: str
) -> None:
    model = a_name("model", lab="L4")
    transform = a_name("transform_job", lab="L4")
    image = xgboost_image_uri(REGION)
    output = f"s3://{data['bucket']}/predictions/{transform}/"

    arn = model_create(
        sm, name=model, image_uri=image, model_data_url=trained.model_artifact, role_arn=role
    )
    assert (
        model_create(
            sm, name=model, image_uri=image, model_data_url=trained.model_artifact, role_arn=role
        )
        == arn
    )
    first = transform_job_create(
        sm,
        name=transform,
        model_name=model,
        input_s3_prefix=data["test-features"],
        output_s3=output,
        instance_type="ml.m5.large",
        tags={"lab": "L4"},
    )
    again = transform_job_create(
        sm,
        name=transform,
        model_name=model,
        input_s3_prefix=data["test-features"],
        output_s3=output,
        instance_type="ml.m5.large",
    )
    done = wait_for(
        lambda: transform_job_describe(sm, name=transform),
        lambda job: job is not None and job.is_terminal,
    )

    assert first.arn == again.arn
    assert [s.name for s in transform_job_list(sm, name_contains=transform)] == [transform]
    assert done.status == "Completed", done.failure_reason
    assert (done.output_path, done.input_path, done.model_name) == (
        output,
        data["test-features"],
        model,
    )
    text = object_text(
        s3, bucket=data["bucket"], key=f"predictions/{transform}/test-features.csv.out"
    )
    assert text is not None
    assert prediction_accuracy(text) > 0.8
    transform_job_stop(sm, name=transform)  # finished: nothing to do
    model_delete(sm, name=model)
    model_delete(sm, name=model)
    assert model_exists(sm, name=model) is False


def test_notebook_instance_lifecycle(sm: Any, role: str) -> None:
    name = a_name("notebook", lab="L2")

    first = notebook_create(
        sm, name=name, instance_type="ml.t3.medium", role_arn=role, tags={"lab": "L2"}
    )
    second = notebook_create(sm, name=name, instance_type="ml.t3.medium", role_arn=role)
    assert first.arn == second.arn
    assert first.status in {"Pending", "InService"}
    assert [(s.name, s.status != "") for s in notebook_list(sm, name_contains=name)] == [
        (name, True)
    ]

    ready = wait_for(lambda: notebook_describe(sm, name=name), lambda nb: nb.status == "InService")
    assert ready.instance_type == "ml.t3.medium"
    assert notebook_presigned_url(sm, name=name).startswith("http")

    with pytest.raises(PermanentCloudError, match="must be stopped before it can be deleted"):
        notebook_delete(sm, name=name)

    notebook_stop(sm, name=name)
    notebook_stop(sm, name=name)
    wait_for(lambda: notebook_describe(sm, name=name), lambda nb: nb.status == "Stopped")
    notebook_stop(sm, name=name)

    notebook_start(sm, name=name)
    notebook_start(sm, name=name)
    wait_for(lambda: notebook_describe(sm, name=name), lambda nb: nb.status == "InService")
    notebook_stop(sm, name=name)
    wait_for(lambda: notebook_describe(sm, name=name), lambda nb: nb.status == "Stopped")

    notebook_delete(sm, name=name)
    notebook_delete(sm, name=name)
    wait_for(lambda: notebook_describe(sm, name=name), lambda nb: nb is None)
    notebook_delete(sm, name=name)
    notebook_stop(sm, name=name)


def test_starting_a_deleted_notebook_says_it_is_gone(sm: Any) -> None:
    with pytest.raises(PermanentCloudError, match="no longer exists"):
        notebook_start(sm, name="never-existed-123")


def test_execution_role_is_created_once_on_localcloud(connection: CloudConnection) -> None:
    cloud_sm._role_cache.clear()
    first = execution_role_arn(connection, REGION)
    cloud_sm._role_cache.clear()
    second = execution_role_arn(connection, "eu-west-1")

    assert first == second
    assert first.endswith(f":role/{EXECUTION_ROLE_NAME}")
    iam = client(connection, "iam", REGION)
    trust = iam.get_role(RoleName=EXECUTION_ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    assert "sagemaker.amazonaws.com" in str(trust)


def test_execution_role_on_aws_comes_from_configuration() -> None:
    aws = CloudConnection(kind="assume_role", role_arn="arn:aws:iam::1:role/Portal")
    configured = "arn:aws:iam::111122223333:role/SageMakerLabs"

    assert execution_role_arn(aws, REGION, configured_arn=configured) == configured
    with pytest.raises(PermanentCloudError, match="No SageMaker execution role is configured"):
        execution_role_arn(aws, REGION)


def test_parse_metric_lines_reads_the_built_in_xgboost_format() -> None:
    lines = [
        "[2024-06-01:10:00:00:INFO] Running XGBoost training",
        "[0]#011train-logloss:0.61234#011validation-logloss:0.62345",
        "[1]\ttrain-logloss:0.5\tvalidation-logloss:0.55\tvalidation-error@0.5:0.2",
        "[12]#011train-logloss:0.3#011validation-logloss:0.4",
        "[12]#011train-logloss:0.29#011validation-logloss:0.39",  # repeated: last one wins
        "[3] something that is not a metric line",
        "[4]#011validation-auc:nan",
    ]

    history = parse_metric_lines(lines)

    assert history == [
        (0, {"train:logloss": 0.61234, "validation:logloss": 0.62345}),
        (1, {"train:logloss": 0.5, "validation:logloss": 0.55, "validation:error@0.5": 0.2}),
        (4, {"validation:auc": pytest.approx(float("nan"), nan_ok=True)}),
        (12, {"train:logloss": 0.29, "validation:logloss": 0.39}),
    ]
