"""Translating botocore's exceptions into ours: retryable or not, with a learner's sentence."""

from __future__ import annotations

import pickle
import socket
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber

from labs.cloud.connection import CloudConnection, client
from labs.cloud.errors import (
    CloudError,
    PermanentCloudError,
    TransientCloudError,
    is_already_exists,
    is_not_found,
    translate,
)
from labs.cloud.sagemaker import training_job_list
from labs.cloud.storage import object_text


def client_error(code: str, message: str = "", status: int = 400, **extra: str) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message, **extra},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "SomeOperation")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", 400),
        ("ThrottlingException", 400),
        ("SlowDown", 503),
        ("RequestLimitExceeded", 400),
        ("TooManyRequestsException", 429),
        ("ServiceUnavailable", 503),
        ("InternalFailure", 500),
        ("InternalError", 500),
        ("", 502),
        ("RequestTimeout", 400),
    ],
)
def test_throttling_and_server_errors_are_transient(code: str, status: int) -> None:
    error = translate(client_error(code, "Rate exceeded", status))

    assert isinstance(error, TransientCloudError)
    assert error.retryable is True
    assert "try again" in error.message


def test_access_denied_names_the_missing_permission_from_the_message() -> None:
    exc = client_error(
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/Lab/portal-7 is not authorized to "
        "perform: s3:CreateBucket on resource: arn:aws:s3:::lab-x because no "
        "identity-based policy allows the s3:CreateBucket action",
        403,
    )

    error = translate(exc)

    assert isinstance(error, PermanentCloudError)
    assert error.retryable is False
    assert error.code == "AccessDenied"
    assert error.message == (
        "The cloud account refused this action: its role lacks permission for s3:CreateBucket."
    )


def test_access_denied_without_details_uses_the_action_we_were_attempting() -> None:
    error = translate(
        client_error("AccessDeniedException", "Access Denied", 403),
        action="sagemaker:CreateTrainingJob",
    )

    assert error.message.endswith("lacks permission for sagemaker:CreateTrainingJob.")


def test_resource_limit_names_the_quota() -> None:
    exc = client_error(
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 "
        "Instances, with current utilization of 0 Instances and a request delta of 1 "
        "Instances. Please use AWS Service Quotas to request an increase for this quota.",
    )

    error = translate(exc)

    assert isinstance(error, PermanentCloudError)
    assert "quota (ml.p3.2xlarge for training job usage)" in error.message
    assert "quota increase" in error.message


def test_bucket_taken_by_someone_else_says_pick_another_name() -> None:
    error = translate(
        client_error("BucketAlreadyExists", "not available", 409, BucketName="lab-x")
    )

    assert isinstance(error, PermanentCloudError)
    assert "lab-x is already taken by another AWS account" in error.message


def test_validation_errors_are_permanent_and_carry_the_clouds_reason() -> None:
    error = translate(
        client_error("ValidationException", "Hyperparameter num_round must be an integer")
    )

    assert isinstance(error, PermanentCloudError)
    assert error.message == (
        "The cloud rejected the request: Hyperparameter num_round must be an integer."
    )


def test_expired_credentials_are_transient() -> None:
    assert translate(client_error("ExpiredToken", "expired")).retryable is True


def test_messages_never_carry_keys_or_tokens() -> None:
    exc = client_error(
        "ValidationException",
        "Bad value ASIAIOSFODNN7EXAMPLE with token "
        "FwoGZXIvYXdzEJr//////////wEaDOnJ7k1vQpX2Y3Q6TiKCAXs5+example+token+material",
    )

    error = translate(exc)

    assert "ASIAIOSFODNN7EXAMPLE" not in error.message
    assert "FwoGZXIvYXdzEJr" not in error.message
    assert "[redacted]" in error.message


def test_param_validation_names_parameters_but_not_values() -> None:
    exc = ParamValidationError(
        report="Invalid type for parameter ExternalId, value: s3cr3t-value, type: <class 'int'>"
    )

    error = translate(exc)

    assert isinstance(error, PermanentCloudError)
    assert "ExternalId" in error.message
    assert "s3cr3t-value" not in error.message


def test_unreachable_endpoint_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # One attempt only: the portal's own clients would retry five times, with back-off.
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1),
    )

    with pytest.raises(TransientCloudError) as caught:
        object_text(s3, bucket="any-bucket", key="k")

    assert caught.value.code == "EndpointConnectionError"
    assert "could not be reached" in caught.value.message


def test_throttling_from_a_list_call_surfaces_as_transient() -> None:
    # No server throttles on demand, so this one test answers with a Stubber.
    sm = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(sm) as stub:
        stub.add_client_error(
            "list_training_jobs", service_error_code="ThrottlingException", http_status_code=400
        )
        with pytest.raises(TransientCloudError) as caught:
            training_job_list(sm, name_contains="x")

    assert caught.value.code == "ThrottlingException"


def test_real_server_errors_translate(connection: CloudConnection) -> None:
    s3 = client(connection, "s3", "us-east-1")

    # given: a name S3 itself refuses (our own check is bypassed on purpose)
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket="Bad_Name")
    error = translate(caught.value)

    assert isinstance(error, PermanentCloudError)
    assert error.code == "InvalidBucketName"
    assert "naming rules" in error.message


def test_not_found_and_already_exists_are_recognised() -> None:
    assert is_not_found(client_error("NoSuchBucket"))
    assert is_not_found(client_error("ValidationException", "Could not find training job 'x'."))
    assert is_not_found(client_error("ValidationException", "RecordNotFound"))
    assert not is_not_found(client_error("ValidationException", "num_round is missing"))
    assert is_already_exists(
        client_error("ResourceInUse", "a training job with this name already exists (arn)")
    )
    assert is_already_exists(
        client_error("ValidationException", "Cannot create a duplicate Notebook Instance")
    )
    assert is_already_exists(
        client_error("ValidationException", 'Cannot create already existing model "m".')
    )
    assert not is_already_exists(
        client_error("ResourceInUse", "The model is in use by an endpoint")
    )


def test_cloud_errors_survive_pickling_for_celery() -> None:
    error = PermanentCloudError("The bucket does not exist.", code="NoSuchBucket")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is PermanentCloudError
    assert (copy.message, copy.code, copy.retryable) == (error.message, error.code, False)


def test_translate_passes_our_own_errors_through() -> None:
    error = TransientCloudError("busy", code="X")

    assert translate(error) is error
    assert isinstance(translate(RuntimeError("boom")), CloudError)
    assert "boom" not in translate(RuntimeError("boom")).message
