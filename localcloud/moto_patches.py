"""Every place where localcloud touches moto's internals (moto 5.2.5).

Nothing else in localcloud imports from moto. Each internal relied on here has a contract
test in tests/localcloud/test_moto_contract.py, so a moto upgrade that changes one fails
there, loudly, instead of quietly changing what learners see.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from moto import backends as moto_backends
from moto.core import utils as moto_utils
from moto.core.utils import utcnow
from moto.iam.models import get_account_id_from, iam_backends
from moto.logs.models import logs_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3 import models as s3_models
from moto.s3.exceptions import InvalidBucketName, InvalidLocationConstraintException
from moto.sagemaker import models as sm
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sts.models import sts_backends

from localcloud import validation

DEFAULT_ACCOUNT = "123456789012"

_installed = False
_lock = threading.RLock()
_listeners: list[Listener] = []


class Listener(Protocol):
    """What the compute agent hears from moto's SageMaker backend."""

    def training_job_created(self, account: str, region: str, name: str) -> None: ...

    def transform_job_created(self, account: str, region: str, name: str) -> None: ...

    def notebook_changed(self, account: str, region: str, name: str, action: str) -> None: ...

    def s3_changed(self) -> None: ...


def moto_wsgi_app() -> DomainDispatcherApplication:
    """moto's own server application, which routes every AWS request to its backend."""
    return DomainDispatcherApplication(create_backend_app)


def moto_request_handler() -> type[MotoRequestHandler]:
    """moto's request handler, which normalises requests the way its backends expect."""
    return MotoRequestHandler


def account_for_access_key(access_key: str) -> str:
    return get_account_id_from(access_key)


def known_regions(service: str) -> set[str]:
    """Regions moto keeps a backend for; a request for any other region crashes moto."""
    backends = {"sagemaker": sm.sagemaker_backends, "logs": logs_backends}[service]
    return set(backends[DEFAULT_ACCOUNT].regions)


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- installing the fixes --------------------------------------------------------------


def install(listener: Listener) -> None:
    """Wrap moto's backends so resources start their real lifecycles. Idempotent."""
    global _installed
    with _lock:
        if _installed:
            _listeners[:] = [listener]
            return
        _listeners.append(listener)
        _patch_training_jobs()
        _patch_transform_jobs()
        _patch_models()
        _patch_notebook_instances()
        _patch_s3_bucket_names()
        _patch_request_routing()
        _installed = True


def _notify(method: str, *args: str) -> None:
    for listener in _listeners:
        getattr(listener, method)(*args)


def _patch_training_jobs() -> None:
    original = sm.SageMakerModelBackend.create_training_job

    def create_training_job(self: Any, training_job_name: str, **kwargs: Any) -> Any:
        existing = self.training_jobs.get(training_job_name)
        if existing is not None:
            raise ResourceInUseException(
                message=f"Training job names must be unique within an AWS account and region, "
                f"and a training job with this name already exists ({existing.arn})"
            )
        given_metrics = kwargs["algorithm_specification"].get("MetricDefinitions")
        job = original(self, training_job_name=training_job_name, **kwargs)
        # moto creates jobs already Completed; AWS starts them InProgress/Starting.
        now = utcnow()
        job.training_job_status = "InProgress"
        job.secondary_status = "Starting"
        job.secondary_status_transitions = [
            {
                "Status": "Starting",
                "StartTime": now,
                "StatusMessage": "Launching requested ML instances",
            }
        ]
        job.final_metric_data_list = None
        job.training_start_time = None
        job.training_end_time = None
        job.failure_reason = None
        # moto replaces the metric definitions with a made-up one; keep the caller's.
        if given_metrics:
            job.algorithm_specification["MetricDefinitions"] = given_metrics
        else:
            job.algorithm_specification.pop("MetricDefinitions", None)
        job.model_artifacts = None
        _notify("training_job_created", self.account_id, self.region_name, training_job_name)
        return job

    sm.SageMakerModelBackend.create_training_job = create_training_job


def _patch_transform_jobs() -> None:
    original = sm.SageMakerModelBackend.create_transform_job

    def create_transform_job(
        self: Any, transform_job_name: str, model_name: str, **kwargs: Any
    ) -> Any:
        existing = self.transform_jobs.get(transform_job_name)
        if existing is not None:
            raise ResourceInUseException(
                message=f"Job name must be unique within an AWS account and region, and a job "
                f"with this name already exists ({existing.arn})"
            )
        if model_name not in self._models:
            arn = sm.arn_formatter("model", model_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find model "{arn}".')
        job = original(
            self, transform_job_name=transform_job_name, model_name=model_name, **kwargs
        )
        job.transform_job_status = "InProgress"
        job.failure_reason = None
        job.labeling_job_arn = None
        job.auto_ml_job_arn = None
        job.transform_start_time = None
        job.transform_end_time = None
        _notify("transform_job_created", self.account_id, self.region_name, transform_job_name)
        return job

    sm.SageMakerModelBackend.create_transform_job = create_transform_job


def _patch_models() -> None:
    original_create = sm.SageMakerModelBackend.create_model

    def create_model(self: Any, model_name: str, **kwargs: Any) -> Any:
        if model_name in self._models:
            arn = self._models[model_name].arn
            raise ValidationError(message=f'Cannot create already existing model "{arn}".')
        return original_create(self, model_name=model_name, **kwargs)

    sm.SageMakerModelBackend.create_model = create_model

    original_response = sm.Model.response_object

    def response_object(self: Any) -> dict[str, Any]:
        response = original_response.fget(self)
        # AWS leaves out what was not given; an empty VpcConfig breaks sagemaker SDK 3.x.
        for key in ("VpcConfig", "Containers"):
            if not response.get(key):
                response.pop(key, None)
        return response

    sm.Model.response_object = property(response_object)


def _patch_notebook_instances() -> None:
    notebook_cls = sm.FakeSagemakerNotebookInstance
    backend_cls = sm.SageMakerModelBackend

    def validate_instance_type(self: Any, instance_type: str) -> None:
        # moto's own list is stale (no ml.g5.*); the botocore model is AWS's current enum.
        message = validation.enum_error("sagemaker", "InstanceType", instance_type, "instanceType")
        if message:
            raise ValidationError(message=message)

    notebook_cls.validate_instance_type = validate_instance_type

    original_to_dict = notebook_cls.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        result = original_to_dict(self)
        reason = getattr(self, "failure_reason", None)
        if reason:
            result["FailureReason"] = reason
        return {k: v for k, v in result.items() if v is not None}

    notebook_cls.to_dict = to_dict

    original_create = backend_cls.create_notebook_instance

    def create_notebook_instance(self: Any, notebook_instance_name: str, **kwargs: Any) -> Any:
        instance = original_create(self, notebook_instance_name=notebook_instance_name, **kwargs)
        instance.status = "Pending"
        _notify(
            "notebook_changed", self.account_id, self.region_name, notebook_instance_name, "start"
        )
        return instance

    def _transition(instance: Any, allowed: tuple[str, ...], target: str) -> None:
        if instance.status not in allowed:
            raise ValidationError(
                message=f"Status ({instance.status}) not in ([{', '.join(allowed)}]). Unable "
                f"to transition to ({target}) for Notebook Instance ({instance.arn})"
            )
        instance.status = target
        instance.failure_reason = None
        instance.last_modified_time = utcnow()

    def start_notebook_instance(self: Any, notebook_instance_name: str) -> None:
        instance = self.get_notebook_instance(notebook_instance_name)
        _transition(instance, ("Stopped", "Failed"), "Pending")
        _notify(
            "notebook_changed", self.account_id, self.region_name, notebook_instance_name, "start"
        )

    def stop_notebook_instance(self: Any, notebook_instance_name: str) -> None:
        instance = self.get_notebook_instance(notebook_instance_name)
        _transition(instance, ("InService", "Pending"), "Stopping")
        _notify(
            "notebook_changed", self.account_id, self.region_name, notebook_instance_name, "stop"
        )

    def delete_notebook_instance(self: Any, notebook_instance_name: str) -> None:
        instance = self.get_notebook_instance(notebook_instance_name)
        _transition(instance, ("Stopped", "Failed"), "Deleting")
        _notify(
            "notebook_changed", self.account_id, self.region_name, notebook_instance_name, "delete"
        )

    backend_cls.create_notebook_instance = create_notebook_instance
    backend_cls.start_notebook_instance = start_notebook_instance
    backend_cls.stop_notebook_instance = stop_notebook_instance
    backend_cls.delete_notebook_instance = delete_notebook_instance


def _patch_s3_bucket_names() -> None:
    original = s3_models.S3Backend.create_bucket

    def create_bucket(self: Any, bucket_name: str, region_name: str, *args: Any, **kw: Any) -> Any:
        if not validation.is_valid_bucket_name(bucket_name):
            raise InvalidBucketName()
        if region_name not in validation.known_regions("s3"):
            raise InvalidLocationConstraintException()
        return original(self, bucket_name, region_name, *args, **kw)

    s3_models.S3Backend.create_bucket = create_bucket


# --- SageMaker records -----------------------------------------------------------------


def _patch_request_routing() -> None:
    """moto lists its own package directory (a stat per module, twice) on every request to
    find the backend, and loads each service's model on first use in every thread that
    misses it at once. Both never change while the process runs: list once, load now."""
    modules = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules
    for service in ("s3", "sagemaker", "logs", "sts", "iam"):
        moto_utils.get_service_model(service)


def _sagemaker(account: str, region: str) -> Any:
    return sm.sagemaker_backends[account][region]


def describe_training_job(account: str, region: str, name: str) -> dict[str, Any] | None:
    job = _sagemaker(account, region).training_jobs.get(name)
    return None if job is None else job.response_object


def describe_transform_job(account: str, region: str, name: str) -> dict[str, Any] | None:
    job = _sagemaker(account, region).transform_jobs.get(name)
    return None if job is None else job.response_object


def describe_model(account: str, region: str, name: str) -> dict[str, Any] | None:
    model = _sagemaker(account, region)._models.get(name)
    return None if model is None else model.response_object


def describe_notebook_instance(account: str, region: str, name: str) -> dict[str, Any] | None:
    instance = _sagemaker(account, region).notebook_instances.get(name)
    return None if instance is None else instance.to_dict()


def update_training_job(account: str, region: str, name: str, **fields: Any) -> None:
    """Set fields of a training job by their DescribeTrainingJob names (None removes)."""
    job = _sagemaker(account, region).training_jobs.get(name)
    if job is None:
        return
    for field, value in fields.items():
        setattr(job, _camel_to_snake(field), value)
    job.last_modified_time = utcnow()


def update_transform_job(account: str, region: str, name: str, **fields: Any) -> None:
    job = _sagemaker(account, region).transform_jobs.get(name)
    if job is None:
        return
    for field, value in fields.items():
        setattr(job, _camel_to_snake(field), value)
    job.last_modified_time = utcnow()


_NOTEBOOK_FIELDS = {"NotebookInstanceStatus": "status", "FailureReason": "failure_reason"}


def update_notebook_instance(account: str, region: str, name: str, **fields: Any) -> None:
    instance = _sagemaker(account, region).notebook_instances.get(name)
    if instance is None:
        return
    for field, value in fields.items():
        setattr(instance, _NOTEBOOK_FIELDS[field], value)
    instance.last_modified_time = utcnow()


def remove_notebook_instance(account: str, region: str, name: str) -> None:
    _sagemaker(account, region).notebook_instances.pop(name, None)


# --- CloudWatch Logs -------------------------------------------------------------------


def put_log_events(
    account: str, region: str, group: str, stream: str, messages: list[tuple[datetime, str]]
) -> None:
    backend = logs_backends[account][region]
    with _lock:
        if group not in backend.groups:
            backend.create_log_group(group, tags={})
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
    events = [
        {"timestamp": int(when.timestamp() * 1000), "message": message}
        for when, message in messages
    ]
    backend.put_log_events(group, stream, events)


# --- S3 --------------------------------------------------------------------------------


def _s3(account: str) -> Any:
    return s3_models.s3_backends[account]["aws"]


def s3_bucket_region(account: str, bucket: str) -> str | None:
    try:
        return _s3(account).get_bucket(bucket).region_name
    except Exception:
        return None


def s3_list_keys(account: str, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """(key, size) of every current object under prefix, in key order."""
    keys = _s3(account).get_bucket(bucket).keys
    found = []
    for name in sorted(keys.keys()):
        if name.startswith(prefix):
            key = keys[name]
            if isinstance(key, s3_models.FakeKey):
                found.append((name, key.size))
    return found


def s3_read(account: str, bucket: str, key: str) -> bytes:
    return _s3(account).get_object(bucket, key).value


def s3_write(account: str, bucket: str, key: str, data: bytes, content_type: str) -> None:
    new_key = _s3(account).put_object(bucket, key, data)
    new_key.set_metadata({"Content-Type": content_type})
    _notify("s3_changed")


class StoredBucket:
    """What persistence needs to know of one bucket."""

    def __init__(self, account: str, name: str, region: str, keys: dict[str, Any]) -> None:
        self.account = account
        self.name = name
        self.region = region
        self._keys = keys

    def objects(self) -> Iterator[tuple[str, str, dict[str, str], Callable[[], bytes]]]:
        """(key, etag, metadata, read) for every current object."""
        for name in list(self._keys.keys()):
            key = self._keys.get(name)
            if isinstance(key, s3_models.FakeKey):
                yield name, key.etag, dict(key.metadata), (lambda k=key: k.value)


def s3_buckets() -> list[StoredBucket]:
    found = []
    for account, per_account in list(s3_models.s3_backends.items()):
        backend = per_account["aws"]
        for name, bucket in list(backend.buckets.items()):
            found.append(StoredBucket(account, name, bucket.region_name, bucket.keys))
    return found


def s3_restore_bucket(account: str, name: str, region: str) -> None:
    _s3(account).create_bucket(name, region)


def s3_restore_object(
    account: str, bucket: str, key: str, data: bytes, metadata: dict[str, str]
) -> None:
    new_key = _s3(account).put_object(bucket, key, data, disable_notification=True)
    new_key.set_metadata(dict(metadata))


# --- IAM and STS -----------------------------------------------------------------------


def iam_principal_exists(account: str, arn: str) -> bool:
    backend = iam_backends[account]["aws"]
    kind, _, name = arn.split(":", 5)[-1].partition("/")
    name = name.rsplit("/", 1)[-1]
    try:
        {"role": backend.get_role, "user": backend.get_user, "group": backend.get_group}[kind](
            name
        )
    except Exception:
        return False
    return True


def assume_role(region: str, role_arn: str, session_name: str) -> dict[str, str]:
    """Temporary credentials for role_arn, which STS GetCallerIdentity maps back to it."""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else DEFAULT_ACCOUNT
    role = sts_backends[account]["aws"].assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy="",
        duration=43200,
        external_id="",
    )
    return {
        "AccessKeyId": role.access_key_id,
        "SecretAccessKey": role.secret_access_key,
        "SessionToken": role.session_token,
    }
