"""Training and batch transform through unmodified boto3 clients and SageMaker waiters."""

from __future__ import annotations

import time

import numpy as np
import pytest
import xgboost as xgb

from tests.fixtures.localcloud import start_localcloud
from tests.localcloud.support import (
    FAST_WAIT,
    XGBOOST_IMAGES,
    classification_data,
    make_bucket,
    model_from_archive,
    to_csv,
    training_request,
    unique,
    wait_for,
)

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def trained(localcloud):
    """One completed training job (train + validation channels) and what was seen on the way."""
    s3 = localcloud.client("s3", REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    bucket = make_bucket(s3, REGION)
    x, y = classification_data()
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    vx, vy = classification_data(rows=100, seed=1)
    s3.put_object(Bucket=bucket, Key="validation/v.csv", Body=to_csv(np.column_stack([vy, vx])))
    name = unique("train")
    request = training_request(name, bucket, REGION)
    request["InputDataConfig"].append(
        {
            "ChannelName": "validation",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/validation"}
            },
            "ContentType": "text/csv",
        }
    )
    sagemaker.create_training_job(**request)
    seen = []

    def describe():
        job = sagemaker.describe_training_job(TrainingJobName=name)
        seen.append((job["TrainingJobStatus"], job["SecondaryStatus"]))
        return job

    wait_for(describe, lambda job: job["TrainingJobStatus"] != "InProgress")
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig=FAST_WAIT
    )
    job = sagemaker.describe_training_job(TrainingJobName=name)
    return {"bucket": bucket, "name": name, "job": job, "seen": seen, "x": x}


def test_new_training_job_is_in_progress_never_completed_at_once(trained):
    first_status, first_secondary = trained["seen"][0]
    assert (first_status, first_secondary) == ("InProgress", "Starting")


def test_training_job_goes_through_aws_secondary_statuses(trained):
    job = trained["job"]
    assert job["TrainingJobStatus"] == "Completed"
    transitions = job["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    for transition in transitions:
        assert transition["StartTime"] <= transition["EndTime"]
        assert transition["StatusMessage"]
    assert job["TrainingStartTime"] <= job["TrainingEndTime"]


def test_training_writes_a_model_archive_plain_xgboost_loads(localcloud, trained):
    s3 = localcloud.client("s3", REGION)
    artifact = trained["job"]["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{trained['bucket']}/output/{trained['name']}/output/model.tar.gz"
    archive = s3.get_object(Bucket=trained["bucket"], Key=artifact.split("/", 3)[3])
    booster = model_from_archive(archive["Body"].read())
    predictions = booster.predict(xgb.DMatrix(trained["x"]))
    assert predictions.shape == (300,)
    assert predictions.min() >= 0 and predictions.max() <= 1


def test_training_reports_final_metrics_and_per_round_logs(localcloud, trained):
    metrics = {m["MetricName"]: m["Value"] for m in trained["job"]["FinalMetricDataList"]}
    assert set(metrics) == {"train:logloss", "validation:logloss"}
    logs = localcloud.client("logs", REGION)
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=trained["name"] + "/"
    )["logStreams"]
    assert len(streams) == 1
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    messages = [event["message"] for event in events]
    rounds = [m for m in messages if m.startswith("[") and "#011train-logloss:" in m]
    assert len(rounds) == 10
    assert rounds[0].startswith("[0]#011train-logloss:")
    assert "#011validation-logloss:" in rounds[-1]
    assert any("training on CPU" in m for m in messages)


def test_batch_transform_writes_out_files_that_match_the_model(localcloud, trained):
    s3 = localcloud.client("s3", REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    bucket, job = trained["bucket"], trained["job"]
    model_name = unique("model")
    sagemaker.create_model(
        ModelName=model_name,
        ExecutionRoleArn=job["RoleArn"],
        PrimaryContainer={
            "Image": XGBOOST_IMAGES[REGION],
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    assert "VpcConfig" not in sagemaker.describe_model(ModelName=model_name)
    x, _ = classification_data(rows=50, seed=3)
    s3.put_object(Bucket=bucket, Key="batch/part-1.csv", Body=to_csv(x[:20]))
    s3.put_object(Bucket=bucket, Key="batch/nested/part-2.csv", Body=to_csv(x[20:]))
    name = unique("transform")
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=model_name,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/batch/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/predictions/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    assert sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == (
        "InProgress"
    )
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig=FAST_WAIT
    )
    assert sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == (
        "Completed"
    )

    archive = s3.get_object(
        Bucket=bucket, Key=job["ModelArtifacts"]["S3ModelArtifacts"].split("/", 3)[3]
    )
    expected = model_from_archive(archive["Body"].read()).predict(xgb.DMatrix(x))
    first = s3.get_object(Bucket=bucket, Key="predictions/part-1.csv.out")["Body"].read()
    second = s3.get_object(Bucket=bucket, Key="predictions/nested/part-2.csv.out")["Body"].read()
    written = [float(line) for line in (first + second).decode().split()]
    np.testing.assert_allclose(written, expected, rtol=1e-6)


def test_stop_training_job_mid_training_ends_stopped_without_model(localcloud):
    s3 = localcloud.client("s3", REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    bucket = make_bucket(s3, REGION)
    x, y = classification_data(rows=2000)
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    name = unique("stop")
    sagemaker.create_training_job(
        **training_request(name, bucket, REGION, {"num_round": "100000", "max_depth": "8"})
    )
    logs = localcloud.client("logs", REGION)

    def rounds_logged() -> int:
        try:
            events = logs.filter_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
            )["events"]
        except logs.exceptions.ResourceNotFoundException:  # No job has logged yet.
            return 0
        return sum(
            1
            for e in events
            if e["logStreamName"].startswith(f"{name}/") and "#011train-" in e["message"]
        )

    # Stopped once its log shows it training: a long job writes each round as it ends,
    # within seconds (its 100000 rounds take far longer).
    wait_for(rounds_logged, lambda count: count > 0, timeout=10)
    sagemaker.stop_training_job(TrainingJobName=name)
    assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig=FAST_WAIT
    )
    job = sagemaker.describe_training_job(TrainingJobName=name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "ModelArtifacts" not in job
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses[-2:] == ["Stopping", "Stopped"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"output/{name}/")
    assert listed["KeyCount"] == 0
    assert rounds_logged() > 0  # What it did before the stop stays in its log.


def test_max_runtime_stops_a_job_that_runs_too_long(localcloud):
    s3 = localcloud.client("s3", REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    bucket = make_bucket(s3, REGION)
    x, y = classification_data(rows=2000)
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    name = unique("slow")
    sagemaker.create_training_job(
        **training_request(
            name, bucket, REGION, {"num_round": "100000", "max_depth": "8"}, max_runtime=1
        )
    )
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig=FAST_WAIT
    )
    job = sagemaker.describe_training_job(TrainingJobName=name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_gpu_instance_type_says_which_device_trained(localcloud):
    s3 = localcloud.client("s3", REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    bucket = make_bucket(s3, REGION)
    x, y = classification_data()
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    name = unique("gpu")
    sagemaker.create_training_job(
        **training_request(name, bucket, REGION, instance_type="ml.g4dn.xlarge")
    )
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig=FAST_WAIT
    )
    assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == (
        "Completed"
    )
    logs = localcloud.client("logs", REGION)
    stream = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name + "/"
    )["logStreams"][0]["logStreamName"]
    messages = " ".join(
        e["message"]
        for e in logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
        )["events"]
    )
    from localcloud.xgboost_algorithm import cuda_device

    if cuda_device()[0]:
        assert "Using device: cuda" in messages
    else:
        assert "ml.g4dn.xlarge has a GPU but" in messages
        assert "falling back to CPU training" in messages
        assert "Using device: cpu" in messages


def test_libsvm_training_data_is_accepted(localcloud):
    s3 = localcloud.client("s3", REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    bucket = make_bucket(s3, REGION)
    x, y = classification_data(rows=200)
    lines = [
        f"{int(label)} " + " ".join(f"{i + 1}:{v:.5f}" for i, v in enumerate(row))
        for label, row in zip(y, x, strict=True)
    ]
    s3.put_object(Bucket=bucket, Key="train/train.libsvm", Body="\n".join(lines).encode())
    name = unique("libsvm")
    request = training_request(name, bucket, REGION)
    request["InputDataConfig"][0]["ContentType"] = "text/libsvm"
    sagemaker.create_training_job(**request)
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig=FAST_WAIT
    )
    job = sagemaker.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


def test_stop_transform_job_ends_stopped(localcloud, trained):
    s3 = localcloud.client("s3", REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    bucket, job = trained["bucket"], trained["job"]
    model_name = unique("model")
    sagemaker.create_model(
        ModelName=model_name,
        ExecutionRoleArn=job["RoleArn"],
        PrimaryContainer={
            "Image": XGBOOST_IMAGES[REGION],
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    x, _ = classification_data(rows=10)
    for index in range(100):
        s3.put_object(Bucket=bucket, Key=f"many/{index:03}.csv", Body=to_csv(x))
    name = unique("transform")
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=model_name,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/many/"}
            },
            "ContentType": "text/csv",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/many-out/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    sagemaker.stop_transform_job(TransformJobName=name)
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig=FAST_WAIT
    )
    assert sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == (
        "Stopped"
    )


def test_the_rounds_show_one_by_one_while_the_job_is_training(tmp_path):
    """Training a lab's data takes a fraction of a second; its rounds are shown spread
    over the Training phase so that the portal's progress bar can grow."""
    cloud = start_localcloud(tmp_path / "data", options=["--delay-scale", "0.25"])
    try:
        s3, sagemaker = cloud.client("s3", REGION), cloud.client("sagemaker", REGION)
        logs = cloud.client("logs", REGION)
        bucket = make_bucket(s3, REGION)
        x, y = classification_data()
        s3.put_object(Bucket=bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
        name = unique("paced")
        sagemaker.create_training_job(**training_request(name, bucket, REGION))

        def rounds_logged() -> int:
            events = logs.filter_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
            )["events"]
            return sum(1 for event in events if "#011train-" in event["message"])

        seen = set()
        while True:
            job = sagemaker.describe_training_job(TrainingJobName=name)
            if job["TrainingJobStatus"] != "InProgress":
                break
            if job["SecondaryStatus"] == "Training":
                seen.add(rounds_logged())
            time.sleep(0.1)
        assert job["TrainingJobStatus"] == "Completed"
        assert rounds_logged() == 10
        assert len(seen - {0, 10}) >= 3, f"rounds logged while training: {sorted(seen)}"
    finally:
        cloud.stop()
