"""Bad input answered as AWS answers it: refused requests, or jobs Failed with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.fixtures.localcloud import ROLE_ARN
from tests.localcloud.support import (
    FAST_WAIT,
    XGBOOST_IMAGES,
    classification_data,
    make_bucket,
    to_csv,
    training_request,
    unique,
)

REGION = "us-east-1"


@pytest.fixture(scope="module")
def bucket(localcloud):
    s3 = localcloud.client("s3", REGION)
    name = make_bucket(s3, REGION)
    x, y = classification_data()
    s3.put_object(Bucket=name, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    s3.put_object(
        Bucket=name,
        Key="header/train.csv",
        Body=b"label,f1,f2,f3,f4\n" + to_csv(np.column_stack([y, x])),
    )
    return name


def _failed_job(localcloud, request):
    sagemaker = localcloud.client("sagemaker", REGION)
    sagemaker.create_training_job(**request)
    try:
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=request["TrainingJobName"], WaiterConfig=FAST_WAIT
        )
    except Exception as error:  # the waiter raises on Failed, as against AWS
        assert "Failed" in str(error)
    return sagemaker.describe_training_job(TrainingJobName=request["TrainingJobName"])


def _error(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def test_csv_with_header_fails_the_job_with_the_line_to_fix(localcloud, bucket):
    job = _failed_job(
        localcloud, training_request(unique("header"), bucket, REGION, train_prefix="header/")
    )
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert "train.csv line 1 is a header" in job["FailureReason"]


def test_multiclass_objective_without_num_class_fails_with_reason(localcloud, bucket):
    job = _failed_job(
        localcloud,
        training_request(
            unique("softmax"), bucket, REGION, {"objective": "multi:softmax", "num_round": "5"}
        ),
    )
    assert job["TrainingJobStatus"] == "Failed"
    assert "num_class required for multi:softmax" in job["FailureReason"]


def test_non_numeric_hyperparameter_fails_with_reason(localcloud, bucket):
    job = _failed_job(
        localcloud,
        training_request(unique("depth"), bucket, REGION, {"num_round": "5", "max_depth": "deep"}),
    )
    assert "max_depth" in job["FailureReason"] and "'deep'" in job["FailureReason"]


def test_image_of_another_region_is_refused(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    request = training_request(unique("region"), bucket, REGION, image=XGBOOST_IMAGES["eu-west-1"])
    error = _error(sagemaker.create_training_job, **request)["Error"]
    assert error["Code"] == "ValidationException"
    assert "eu-west-1" in error["Message"] and REGION in error["Message"]
    listed = sagemaker.list_training_jobs(NameContains=request["TrainingJobName"])
    assert listed["TrainingJobSummaries"] == []


def test_unknown_image_is_refused(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    request = training_request(
        unique("image"), bucket, REGION, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"
    )
    assert _error(sagemaker.create_training_job, **request)["Error"]["Code"] == (
        "ValidationException"
    )


def test_duplicate_training_job_name_is_refused(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    request = training_request(unique("twice"), bucket, REGION)
    sagemaker.create_training_job(**request)
    assert _error(sagemaker.create_training_job, **request)["Error"]["Code"] == "ResourceInUse"


def test_invalid_job_name_and_instance_type_are_refused(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    bad_name = _error(
        sagemaker.create_training_job, **training_request("bad_name!", bucket, REGION)
    )["Error"]
    assert bad_name["Code"] == "ValidationException"
    assert "trainingJobName" in bad_name["Message"]
    bad_type = _error(
        sagemaker.create_training_job,
        **training_request(unique("type"), bucket, REGION, instance_type="ml.huge.x"),
    )["Error"]
    assert bad_type["Code"] == "ValidationException"
    assert "resourceConfig.instanceType" in bad_type["Message"]


def test_transform_of_missing_model_and_duplicate_model_are_refused(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    error = _error(
        sagemaker.create_transform_job,
        TransformJobName=unique("orphan"),
        ModelName="no-such-model",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/x/"}
            }
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/y/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )["Error"]
    assert error["Code"] == "ValidationException" and "no-such-model" in error["Message"]
    model = {
        "ModelName": unique("model"),
        "ExecutionRoleArn": ROLE_ARN,
        "PrimaryContainer": {
            "Image": XGBOOST_IMAGES[REGION],
            "ModelDataUrl": f"s3://{bucket}/model.tar.gz",
        },
    }
    sagemaker.create_model(**model)
    assert _error(sagemaker.create_model, **model)["Error"]["Code"] == "ValidationException"


def test_stopping_a_finished_job_is_refused(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    name = unique("done")
    sagemaker.create_training_job(**training_request(name, bucket, REGION))
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig=FAST_WAIT
    )
    error = _error(sagemaker.stop_training_job, TrainingJobName=name)["Error"]
    assert error["Code"] == "ValidationException" and "Completed" in error["Message"]


def test_bucket_names_follow_s3_rules(localcloud):
    s3 = localcloud.client("s3", REGION)
    for bad in ("Bad_Name", "ab", "-leading", "two..dots", "192.168.1.1", "xn--punycode"):
        assert _error(s3.create_bucket, Bucket=bad)["Error"]["Code"] == "InvalidBucketName"
    s3.create_bucket(Bucket=unique("good.name"))


def test_unknown_region_is_a_client_error_not_a_crash(localcloud):
    sagemaker = localcloud.client("sagemaker", "us-east-9")
    response = _error(sagemaker.list_training_jobs)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "us-east-9" in response["Error"]["Message"]


def test_sagemaker_resources_are_listed_only_in_their_region(localcloud, bucket):
    name = unique("here")
    localcloud.client("sagemaker", REGION).create_training_job(
        **training_request(name, bucket, REGION)
    )
    elsewhere = localcloud.client("sagemaker", "us-west-2")
    assert elsewhere.list_training_jobs(NameContains=name)["TrainingJobSummaries"] == []


def test_current_gpu_notebook_instance_types_are_accepted(localcloud):
    sagemaker = localcloud.client("sagemaker", REGION)
    name = unique("gpu-notebook")
    sagemaker.create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.g5.xlarge", RoleArn=ROLE_ARN
    )
    sagemaker.get_waiter("notebook_instance_in_service").wait(
        NotebookInstanceName=name, WaiterConfig=FAST_WAIT
    )
    sagemaker.stop_notebook_instance(NotebookInstanceName=name)
    sagemaker.get_waiter("notebook_instance_stopped").wait(
        NotebookInstanceName=name, WaiterConfig=FAST_WAIT
    )
    sagemaker.delete_notebook_instance(NotebookInstanceName=name)
    error = _error(
        sagemaker.create_notebook_instance,
        NotebookInstanceName=unique("nb"),
        InstanceType="ml.nope.xlarge",
        RoleArn=ROLE_ARN,
    )["Error"]
    assert error["Code"] == "ValidationException"


def test_simulate_principal_policy_answers_for_existing_roles(localcloud):
    iam = localcloud.client("iam", REGION)
    role = iam.create_role(
        RoleName=unique("SageMakerRole"),
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}',
    )["Role"]
    results = iam.simulate_principal_policy(
        PolicySourceArn=role["Arn"], ActionNames=["sagemaker:CreateTrainingJob", "s3:GetObject"]
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("sagemaker:CreateTrainingJob", "allowed"),
        ("s3:GetObject", "allowed"),
    ]
    missing = _error(
        iam.simulate_principal_policy,
        PolicySourceArn="arn:aws:iam::123456789012:role/missing",
        ActionNames=["s3:GetObject"],
    )
    assert missing["Error"]["Code"] == "NoSuchEntity"


def test_unknown_s3_region_is_refused(localcloud):
    scoped = localcloud.client("s3", "us-east-9")
    assert _error(scoped.list_buckets)["Error"]["Code"] == "AuthorizationHeaderMalformed"
    s3 = localcloud.client("s3", REGION)
    error = _error(
        s3.create_bucket,
        Bucket=unique("nowhere"),
        CreateBucketConfiguration={"LocationConstraint": "us-east-9"},
    )["Error"]
    assert error["Code"] == "InvalidLocationConstraint"


def test_training_data_in_another_regions_bucket_fails_the_job(localcloud):
    s3 = localcloud.client("s3", "us-west-2")
    remote = make_bucket(s3, "us-west-2")
    x, y = classification_data()
    s3.put_object(Bucket=remote, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    job = _failed_job(localcloud, training_request(unique("far"), remote, REGION))
    assert job["TrainingJobStatus"] == "Failed"
    assert "us-west-2" in job["FailureReason"] and REGION in job["FailureReason"]


def test_model_with_another_regions_image_is_refused(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    error = _error(
        sagemaker.create_model,
        ModelName=unique("model"),
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={
            "Image": XGBOOST_IMAGES["eu-west-1"],
            "ModelDataUrl": f"s3://{bucket}/model.tar.gz",
        },
    )["Error"]
    assert error["Code"] == "ValidationException" and "eu-west-1" in error["Message"]


def test_transform_input_with_the_label_column_fails_with_reason(localcloud, bucket):
    sagemaker = localcloud.client("sagemaker", REGION)
    s3 = localcloud.client("s3", REGION)
    name = unique("for-transform")
    sagemaker.create_training_job(**training_request(name, bucket, REGION))
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig=FAST_WAIT
    )
    artifact = sagemaker.describe_training_job(TrainingJobName=name)["ModelArtifacts"]
    model = unique("model")
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={
            "Image": XGBOOST_IMAGES[REGION],
            "ModelDataUrl": artifact["S3ModelArtifacts"],
        },
    )
    x, y = classification_data(rows=10)
    s3.put_object(Bucket=bucket, Key="labelled/in.csv", Body=to_csv(np.column_stack([y, x])))
    transform = unique("transform")
    sagemaker.create_transform_job(
        TransformJobName=transform,
        ModelName=model,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/labelled/"}
            },
            "ContentType": "text/csv",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/labelled-out/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    with pytest.raises(Exception, match="Failed"):
        sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=transform, WaiterConfig=FAST_WAIT
        )
    job = sagemaker.describe_transform_job(TransformJobName=transform)
    assert job["TransformJobStatus"] == "Failed"
    assert "in.csv has 5 columns but the model was trained on 4 features" in job["FailureReason"]
