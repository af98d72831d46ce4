"""Contract tests: the moto internals localcloud/moto_patches.py relies on, one by one.

If a moto upgrade breaks one of these, fix moto_patches.py (and only it) before anything
else; the end-to-end tests would otherwise fail in far less obvious ways.
"""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest
from moto.core.utils import utcnow
from moto.iam.models import get_account_id_from, iam_backends
from moto.logs.models import logs_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3 import models as s3_models
from moto.s3.exceptions import InvalidBucketName
from moto.sagemaker import models as sm
from moto.sagemaker import responses as sm_responses
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sts.models import sts_backends

ACCOUNT = "000000000042"
REGION = "eu-west-1"


def _training_kwargs(name: str) -> dict:
    return {
        "training_job_name": name,
        "hyper_parameters": {"num_round": "1"},
        "algorithm_specification": {"TrainingImage": "x", "TrainingInputMode": "File"},
        "role_arn": "arn:aws:iam::000000000042:role/r",
        "input_data_config": [],
        "output_data_config": {"S3OutputPath": "s3://b/o"},
        "resource_config": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "vpc_config": None,
        "stopping_condition": {"MaxRuntimeInSeconds": 60},
        "tags": [],
        "enable_network_isolation": False,
        "enable_inter_container_traffic_encryption": False,
        "enable_managed_spot_training": False,
        "checkpoint_config": None,
        "debug_hook_config": None,
        "debug_rule_configurations": None,
        "tensor_board_output_config": None,
        "experiment_config": None,
    }


@pytest.fixture
def backend():
    return sm.sagemaker_backends[ACCOUNT][REGION]


def test_moto_is_the_pinned_version():
    assert importlib.metadata.version("moto") == "5.2.5", "re-check every contract below"


def test_server_application_pieces_exist():
    assert callable(create_backend_app)
    assert DomainDispatcherApplication(create_backend_app)
    assert hasattr(MotoRequestHandler, "make_environ")


def test_request_routing_looks_up_modules_and_models_through_patchable_names():
    from moto import backends
    from moto.core import utils

    assert {"s3", "sagemaker", "logs"} <= set(backends.list_of_moto_modules())
    # Looked up through the module on each call, so replacing the function takes effect.
    source = inspect.getsource(DomainDispatcherApplication.get_backend_for_host)
    assert "backends.list_of_moto_modules()" in source
    assert utils.get_service_model("s3") is utils.get_service_model("s3")  # cached


def test_backends_list_their_regions():
    assert REGION in sm.sagemaker_backends[ACCOUNT].regions
    assert "us-east-9" not in sm.sagemaker_backends[ACCOUNT].regions
    assert REGION in logs_backends[ACCOUNT].regions


def test_account_for_unknown_access_key_is_the_default():
    assert get_account_id_from("AKIAUNKNOWN") == "123456789012"


def test_responses_call_backend_create_methods_by_keyword():
    # The wrappers take the first argument by name and the rest as **kwargs.
    for method, first in [
        ("create_training_job", "training_job_name=self._get_param"),
        ("create_transform_job", "transform_job_name=self._get_param"),
        ("create_model", "model_name=model_name"),
        ("create_notebook_instance", "notebook_instance_name=self._get_param"),
    ]:
        source = inspect.getsource(getattr(sm_responses.SageMakerResponse, method))
        assert first in source, method
    source = inspect.getsource(sm_responses.SageMakerResponse.create_transform_job)
    assert "model_name=self._get_param" in source


def test_training_job_response_is_built_from_snake_case_attributes(backend):
    job = backend.create_training_job(**_training_kwargs("contract-train"))
    assert backend.training_jobs["contract-train"] is job
    assert job.training_job_status == "Completed"  # the premature status we replace
    assert job.algorithm_specification["MetricDefinitions"]  # the made-up one we drop
    job.failure_reason = "because"
    job.secondary_status_transitions = [{"Status": "Starting"}]
    job.final_metric_data_list = None
    job.training_end_time = None
    response = job.response_object
    assert response["FailureReason"] == "because"
    assert response["SecondaryStatusTransitions"] == [{"Status": "Starting"}]
    assert "FinalMetricDataList" not in response
    assert "TrainingEndTime" not in response
    assert response["TrainingJobArn"].endswith("training-job/contract-train")
    assert hasattr(job, "last_modified_time") and hasattr(job, "arn")


def test_transform_job_response_is_built_from_snake_case_attributes(backend):
    backend.create_model(
        model_name="contract-model",
        execution_role_arn="r",
        primary_container={},
        vpc_config=None,
        containers=None,
        tags=None,
    )
    job = backend.create_transform_job(
        transform_job_name="contract-transform",
        model_name="contract-model",
        max_concurrent_transforms=None,
        model_client_config=None,
        max_payload_in_mb=None,
        batch_strategy=None,
        environment=None,
        transform_input={},
        transform_output={},
        data_capture_config=None,
        transform_resources={},
        data_processing=None,
        tags=None,
        experiment_config=None,
    )
    assert backend.transform_jobs["contract-transform"] is job
    job.transform_job_status = "Stopping"
    job.failure_reason = None
    job.transform_end_time = None
    response = job.response_object
    assert response["TransformJobStatus"] == "Stopping"
    assert "FailureReason" not in response and "TransformEndTime" not in response


def test_model_response_is_a_property_that_returns_empty_vpc_config(backend):
    assert isinstance(sm.Model.__dict__["response_object"], property)
    model = backend._models["contract-model"]
    assert model.response_object["VpcConfig"] == {}  # what moto_patches removes


def test_notebook_instance_internals(backend):
    assert "ml.g5.xlarge" not in inspect.getsource(
        sm.FakeSagemakerNotebookInstance.validate_instance_type
    )  # the stale list we replace
    assert "self.validate_instance_type(instance_type)" in inspect.getsource(
        sm.FakeSagemakerNotebookInstance.__init__
    )
    instance = backend.create_notebook_instance(
        notebook_instance_name="contract-nb", instance_type="ml.t3.medium", role_arn="r"
    )
    assert backend.notebook_instances["contract-nb"] is instance
    assert instance.status == "InService"  # the premature status we replace
    instance.status = "Failed"
    instance.last_modified_time = utcnow()
    assert instance.to_dict()["NotebookInstanceStatus"] == "Failed"
    assert "FailureReason" not in instance.to_dict()
    assert instance.arn.endswith("notebook-instance/contract-nb")
    with pytest.raises(ValidationError):
        backend.get_notebook_instance("missing")
    for method in (
        "start_notebook_instance",
        "stop_notebook_instance",
        "delete_notebook_instance",
    ):
        assert list(inspect.signature(getattr(sm.SageMakerModelBackend, method)).parameters) == [
            "self",
            "notebook_instance_name",
        ]


def test_sagemaker_exceptions_and_arn_formatter():
    assert ResourceInUseException(message="x").code == "ResourceInUse"
    assert ValidationError(message="x").code == "ValidationException"
    assert sm.arn_formatter("model", "m", ACCOUNT, REGION) == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/m"
    )


def test_logs_backend_writes_events():
    backend = logs_backends[ACCOUNT][REGION]
    backend.create_log_group("/contract", tags={})
    backend.create_log_stream("/contract", "stream")
    assert "stream" in backend.groups["/contract"].streams
    now = int(utcnow().timestamp() * 1000)
    backend.put_log_events("/contract", "stream", [{"timestamp": now, "message": "hello"}])
    events = backend.groups["/contract"].streams["stream"].events
    assert [event.message for event in events] == ["hello"]


def test_s3_backend_reads_and_writes_objects():
    backend = s3_models.s3_backends[ACCOUNT]["aws"]
    source = inspect.getsource(s3_models.S3Backend.create_bucket)
    assert "MIN_BUCKET_NAME_LENGTH" in source  # moto checks the length only
    bucket = backend.create_bucket("contract-bucket-000000000042", REGION)
    assert backend.buckets["contract-bucket-000000000042"] is bucket
    assert bucket.region_name == REGION
    key = backend.put_object(
        "contract-bucket-000000000042", "a/b.txt", b"data", disable_notification=True
    )
    key.set_metadata({"Content-Type": "text/plain"})
    assert isinstance(key, s3_models.FakeKey)
    assert key.size == 4 and key.etag and key.metadata["Content-Type"] == "text/plain"
    assert backend.get_object("contract-bucket-000000000042", "a/b.txt").value == b"data"
    keys = backend.get_bucket("contract-bucket-000000000042").keys
    assert list(keys.keys()) == ["a/b.txt"] and keys["a/b.txt"] is key
    assert InvalidBucketName().code == "InvalidBucketName"


def test_sts_assume_role_gives_credentials():
    role = sts_backends[ACCOUNT]["aws"].assume_role(
        region_name=REGION,
        role_session_name="s",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/r",
        policy="",
        duration=900,
        external_id="",
    )
    assert role.access_key_id and role.secret_access_key and role.session_token
    assert get_account_id_from(role.access_key_id) == ACCOUNT


def test_iam_lookups_raise_for_missing_principals():
    backend = iam_backends[ACCOUNT]["aws"]
    for lookup in (backend.get_role, backend.get_user, backend.get_group):
        with pytest.raises(Exception):  # noqa: B017 (any moto error means "missing")
            lookup("missing")
