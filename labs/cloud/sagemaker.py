"""SageMaker for the labs: notebook instances, training jobs, models and batch transforms.

Every function takes a client from `labs.cloud.connection.client` as its first argument
("sagemaker", or "logs" for the log readers), everything else keyword-only, and raises
only `CloudError`s. Conventions:

- ``*_create`` adopts: names are deterministic (`labs.cloud.naming.resource_name`), so
  "already exists" means an earlier try made it; the existing resource is described and
  returned as if just created.
- ``*_describe`` returns None for a resource that is not there.
- ``*_list`` pages through the List call and returns `JobSummary` rows (name, status,
  last modified): one List call per (account, region, kind) per refresh cycle tells the
  refresher which resources changed; only those need a Describe.
- ``*_stop`` / ``*_delete`` are idempotent: stopping what already stopped, or deleting
  what is gone, is not an error.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from labs.cloud.connection import CloudConnection, client
from labs.cloud.errors import (
    PermanentCloudError,
    error_code,
    is_already_exists,
    is_not_found,
    translate,
    translating,
)

__all__ = [
    "EXECUTION_ROLE_NAME",
    "JobSummary",
    "NotebookInstance",
    "TrainingJob",
    "TransformJob",
    "Transition",
    "execution_role_arn",
    "model_create",
    "model_delete",
    "model_exists",
    "notebook_create",
    "notebook_delete",
    "notebook_describe",
    "notebook_list",
    "notebook_presigned_url",
    "notebook_start",
    "notebook_stop",
    "parse_metric_lines",
    "training_job_create",
    "training_job_describe",
    "training_job_list",
    "training_job_stop",
    "training_log_tail",
    "training_metric_history",
    "transform_job_create",
    "transform_job_describe",
    "transform_job_list",
    "transform_job_stop",
]

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
EXECUTION_ROLE_NAME = "LabSageMakerExecutionRole"

NOTEBOOK_TERMINAL = frozenset({"Failed", "Deleting"})
TRAINING_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
TRANSFORM_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


# --- Values ------------------------------------------------------------------------------


class Transition(NamedTuple):
    """One secondary-status step of a training job, as SageMaker reports it."""

    status: str
    start: datetime | None
    end: datetime | None
    message: str


@dataclass(frozen=True)
class JobSummary:
    name: str
    status: str
    last_modified: datetime | None
    arn: str = ""
    created_at: datetime | None = None
    instance_type: str = ""  # listed for notebook instances; job summaries have none


@dataclass(frozen=True)
class NotebookInstance:
    name: str
    status: str  # Pending | InService | Stopping | Stopped | Failed | Deleting | Updating
    instance_type: str
    url: str
    failure_reason: str
    last_modified: datetime | None
    arn: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class TrainingJob:
    name: str
    status: str  # InProgress | Completed | Failed | Stopping | Stopped
    secondary_status: str  # Starting | Downloading | Training | Uploading | Completed | ...
    transitions: tuple[Transition, ...]
    failure_reason: str
    final_metrics: dict[str, float]
    model_artifact: str  # s3://.../model.tar.gz, or "" until the job completes
    instance_type: str
    started_at: datetime | None
    ended_at: datetime | None
    billable_seconds: int | None
    arn: str = ""
    hyperparameters: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    created_at: datetime | None = None
    instance_count: int = 1

    @property
    def is_terminal(self) -> bool:
        return self.status in TRAINING_TERMINAL


@dataclass(frozen=True)
class TransformJob:
    name: str
    status: str  # InProgress | Completed | Failed | Stopping | Stopped
    failure_reason: str
    output_path: str
    started_at: datetime | None
    ended_at: datetime | None
    arn: str = ""
    model_name: str = ""
    input_path: str = ""
    instance_type: str = ""
    created_at: datetime | None = None
    instance_count: int = 1

    @property
    def is_terminal(self) -> bool:
        return self.status in TRANSFORM_TERMINAL


# --- Helpers -----------------------------------------------------------------------------


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_TAG_VALUE = re.compile(r"[^\w .:/=+@-]")


def _tags(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    """SageMaker tags; values are cut to its character set and 256 characters."""
    return [
        {"Key": str(key)[:128], "Value": _TAG_VALUE.sub("-", str(value))[:256]}
        for key, value in sorted((tags or {}).items())
    ]


def _call(action: str, function: Any, **kwargs: Any) -> dict[str, Any]:
    with translating(action=action):
        return dict(function(**kwargs))


def _describe_or_none(action: str, function: Any, **kwargs: Any) -> dict[str, Any] | None:
    try:
        return dict(function(**kwargs))
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise translate(exc, action=action) from exc
    except Exception as exc:
        raise translate(exc, action=action) from exc


def _create_or_adopt(action: str, function: Any, **kwargs: Any) -> bool:
    """Call a Create*; True if it created, False if the resource was already there."""
    try:
        function(**kwargs)
    except ClientError as exc:
        if is_already_exists(exc):
            return False
        raise translate(exc, action=action) from exc
    except Exception as exc:
        raise translate(exc, action=action) from exc
    return True


def _summaries(
    sm: Any,
    operation: str,
    result_key: str,
    name_key: str,
    status_key: str,
    arn_key: str,
    request: dict[str, Any],
) -> list[JobSummary]:
    found: list[JobSummary] = []
    with translating(action=f"sagemaker:{operation}"):
        paginator = sm.get_paginator(_snake(operation))
        for page in paginator.paginate(**request):
            for item in page.get(result_key, []):
                found.append(
                    JobSummary(
                        name=item[name_key],
                        status=item.get(status_key, ""),
                        last_modified=_utc(item.get("LastModifiedTime")),
                        arn=item.get(arn_key, ""),
                        created_at=_utc(item.get("CreationTime")),
                        instance_type=item.get("InstanceType", ""),
                    )
                )
    return found


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _list_request(
    name_contains: str,
    status_equals: str | None,
    last_modified_after: datetime | None,
    page_size: int,
) -> dict[str, Any]:
    request: dict[str, Any] = {"PaginationConfig": {"PageSize": page_size}}
    if name_contains:
        request["NameContains"] = name_contains
    if status_equals:
        request["StatusEquals"] = status_equals
    if last_modified_after is not None:
        request["LastModifiedTimeAfter"] = last_modified_after
    return request


def _is_wrong_state(exc: ClientError) -> bool:
    """SageMaker's answer to stopping or deleting something in the wrong status."""
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return error_code(exc) in {"ValidationException", "ResourceInUse"} and bool(
        re.search(r"status|state|not in progress|already", message, re.IGNORECASE)
    )


# --- Notebook instances ------------------------------------------------------------------


def _stop_job(action: str, stop: Any, describe: Any, terminal: frozenset, **ident: str) -> None:
    """Ask a job to stop (Stopping, then Stopped); one that finished or is gone is fine."""
    try:
        stop(**ident)
    except ClientError as exc:
        if is_not_found(exc):
            return
        if _is_wrong_state(exc):
            current = describe()
            if current is None or current.status in terminal | {"Stopping"}:
                return
        raise translate(exc, action=action) from exc
    except Exception as exc:
        raise translate(exc, action=action) from exc


def _described_after_create(described: Any, what: str, name: str) -> Any:
    if described is None:
        raise PermanentCloudError(
            f"The {what} {name} was created but cannot be found.", code="NotFound"
        )
    return described


def _notebook(answer: Mapping[str, Any]) -> NotebookInstance:
    return NotebookInstance(
        name=answer["NotebookInstanceName"],
        status=answer.get("NotebookInstanceStatus", ""),
        instance_type=answer.get("InstanceType", ""),
        url=answer.get("Url", "") or "",
        failure_reason=answer.get("FailureReason", "") or "",
        last_modified=_utc(answer.get("LastModifiedTime")),
        arn=answer.get("NotebookInstanceArn", ""),
        created_at=_utc(answer.get("CreationTime")),
    )


def notebook_describe(sm: Any, *, name: str) -> NotebookInstance | None:
    answer = _describe_or_none(
        "sagemaker:DescribeNotebookInstance",
        sm.describe_notebook_instance,
        NotebookInstanceName=name,
    )
    return _notebook(answer) if answer is not None else None


def notebook_create(
    sm: Any,
    *,
    name: str,
    instance_type: str,
    role_arn: str,
    tags: Mapping[str, str] | None = None,
    volume_size_gb: int = 5,
    lifecycle_config_name: str = "",
) -> NotebookInstance:
    """Create a notebook instance (it starts Pending, then InService), or adopt it."""
    request: dict[str, Any] = {
        "NotebookInstanceName": name,
        "InstanceType": instance_type,
        "RoleArn": role_arn,
        "VolumeSizeInGB": volume_size_gb,
        "Tags": _tags(tags),
    }
    if lifecycle_config_name:
        request["LifecycleConfigName"] = lifecycle_config_name
    _create_or_adopt("sagemaker:CreateNotebookInstance", sm.create_notebook_instance, **request)
    described = notebook_describe(sm, name=name)
    if described is None:
        raise PermanentCloudError(
            f"The notebook instance {name} was created but cannot be found.", code="NotFound"
        )
    return described


def notebook_list(
    sm: Any,
    *,
    name_contains: str = "",
    last_modified_after: datetime | None = None,
    page_size: int = 100,
) -> list[JobSummary]:
    return _summaries(
        sm,
        "ListNotebookInstances",
        "NotebookInstances",
        "NotebookInstanceName",
        "NotebookInstanceStatus",
        "NotebookInstanceArn",
        _list_request(name_contains, None, last_modified_after, page_size),
    )


def notebook_stop(sm: Any, *, name: str) -> None:
    """Stop it (files on its volume are kept). Already stopping/stopped/gone is fine."""
    try:
        sm.stop_notebook_instance(NotebookInstanceName=name)
    except ClientError as exc:
        if is_not_found(exc):
            return
        if _is_wrong_state(exc):
            current = notebook_describe(sm, name=name)
            if current is None or current.status in {"Stopping", "Stopped", "Failed"}:
                return
        raise translate(exc, action="sagemaker:StopNotebookInstance") from exc
    except Exception as exc:
        raise translate(exc, action="sagemaker:StopNotebookInstance") from exc


def notebook_start(sm: Any, *, name: str) -> None:
    """Start a stopped notebook instance again. Already pending/in service is fine."""
    try:
        sm.start_notebook_instance(NotebookInstanceName=name)
    except ClientError as exc:
        if is_not_found(exc):
            raise PermanentCloudError(
                f"The notebook instance {name} no longer exists.", code="NotFound"
            ) from exc
        if _is_wrong_state(exc):
            current = notebook_describe(sm, name=name)
            if current is not None and current.status in {"Pending", "InService"}:
                return
        raise translate(exc, action="sagemaker:StartNotebookInstance") from exc
    except Exception as exc:
        raise translate(exc, action="sagemaker:StartNotebookInstance") from exc


def notebook_delete(sm: Any, *, name: str) -> None:
    """Delete a stopped (or failed) notebook instance. Already deleting or gone is fine.

    SageMaker refuses to delete one that is running: stop it first, wait for Stopped.
    """
    try:
        sm.delete_notebook_instance(NotebookInstanceName=name)
    except ClientError as exc:
        if is_not_found(exc):
            return
        if _is_wrong_state(exc):
            current = notebook_describe(sm, name=name)
            if current is None or current.status == "Deleting":
                return
            raise PermanentCloudError(
                f"The notebook instance {name} is {current.status}; it must be stopped "
                "before it can be deleted.",
                code=error_code(exc),
            ) from exc
        raise translate(exc, action="sagemaker:DeleteNotebookInstance") from exc
    except Exception as exc:
        raise translate(exc, action="sagemaker:DeleteNotebookInstance") from exc


def notebook_presigned_url(sm: Any, *, name: str, session_seconds: int = 1800) -> str:
    """A short-lived URL that opens JupyterLab in the notebook instance (no AWS login)."""
    answer = _call(
        "sagemaker:CreatePresignedNotebookInstanceUrl",
        sm.create_presigned_notebook_instance_url,
        NotebookInstanceName=name,
        SessionExpirationDurationInSeconds=session_seconds,
    )
    return str(answer["AuthorizedUrl"])


# --- Training jobs -----------------------------------------------------------------------


def _training_job(answer: Mapping[str, Any]) -> TrainingJob:
    transitions = tuple(
        Transition(
            status=t.get("Status", ""),
            start=_utc(t.get("StartTime")),
            end=_utc(t.get("EndTime")),
            message=t.get("StatusMessage", "") or "",
        )
        for t in answer.get("SecondaryStatusTransitions") or []
    )
    metrics: dict[str, float] = {}
    for metric in answer.get("FinalMetricDataList") or []:
        try:
            metrics[metric["MetricName"]] = float(metric["Value"])
        except (KeyError, TypeError, ValueError):
            continue
    billable = answer.get("BillableTimeInSeconds")
    return TrainingJob(
        name=answer["TrainingJobName"],
        status=answer.get("TrainingJobStatus", ""),
        secondary_status=answer.get("SecondaryStatus", "") or "",
        transitions=transitions,
        failure_reason=answer.get("FailureReason", "") or "",
        final_metrics=metrics,
        model_artifact=(answer.get("ModelArtifacts") or {}).get("S3ModelArtifacts", "") or "",
        instance_type=(answer.get("ResourceConfig") or {}).get("InstanceType", ""),
        started_at=_utc(answer.get("TrainingStartTime")),
        ended_at=_utc(answer.get("TrainingEndTime")),
        billable_seconds=int(billable) if billable is not None else None,
        arn=answer.get("TrainingJobArn", ""),
        hyperparameters=dict(answer.get("HyperParameters") or {}),
        last_modified=_utc(answer.get("LastModifiedTime")),
        created_at=_utc(answer.get("CreationTime")),
        instance_count=int((answer.get("ResourceConfig") or {}).get("InstanceCount") or 1),
    )


def training_job_describe(sm: Any, *, name: str) -> TrainingJob | None:
    answer = _describe_or_none(
        "sagemaker:DescribeTrainingJob", sm.describe_training_job, TrainingJobName=name
    )
    return _training_job(answer) if answer is not None else None


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ContentType": "text/csv",
        "CompressionType": "None",
    }


def training_job_create(
    sm: Any,
    *,
    name: str,
    image_uri: str,
    role_arn: str,
    instance_type: str,
    train_s3: str,
    validation_s3: str,
    output_s3: str,
    hyperparameters: Mapping[str, str],
    max_runtime_seconds: int = 3600,
    tags: Mapping[str, str] | None = None,
    instance_count: int = 1,
    volume_size_gb: int = 10,
) -> TrainingJob:
    """Start a built-in XGBoost training job on CSV channels, or adopt the existing one.

    ``train_s3`` / ``validation_s3`` are S3 prefixes (a full key is a prefix too);
    ``output_s3`` is where SageMaker writes ``<job>/output/model.tar.gz``.
    """
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "InputDataConfig": [_channel("train", train_s3), _channel("validation", validation_s3)],
        "OutputDataConfig": {"S3OutputPath": output_s3},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": instance_count,
            "VolumeSizeInGB": volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
        "HyperParameters": {str(k): str(v) for k, v in hyperparameters.items()},
        "Tags": _tags(tags),
    }
    _create_or_adopt("sagemaker:CreateTrainingJob", sm.create_training_job, **request)
    return _described_after_create(training_job_describe(sm, name=name), "training job", name)


def training_job_list(
    sm: Any,
    *,
    name_contains: str = "",
    status_equals: str | None = None,
    last_modified_after: datetime | None = None,
    page_size: int = 100,
) -> list[JobSummary]:
    """Training jobs (status, last modified) in the client's region; every page is read."""
    return _summaries(
        sm,
        "ListTrainingJobs",
        "TrainingJobSummaries",
        "TrainingJobName",
        "TrainingJobStatus",
        "TrainingJobArn",
        _list_request(name_contains, status_equals, last_modified_after, page_size),
    )


def training_job_stop(sm: Any, *, name: str) -> None:
    """Ask the job to stop (it goes Stopping, then Stopped). Finished or gone is fine."""
    _stop_job(
        "sagemaker:StopTrainingJob",
        sm.stop_training_job,
        lambda: training_job_describe(sm, name=name),
        TRAINING_TERMINAL,
        TrainingJobName=name,
    )


# --- Training logs and metrics -----------------------------------------------------------


def _log_streams(logs: Any, job_name: str) -> list[str]:
    try:
        answer = logs.describe_log_streams(
            logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{job_name}/"
        )
    except ClientError as exc:
        if is_not_found(exc):
            return []
        raise translate(exc, action="logs:DescribeLogStreams") from exc
    except Exception as exc:
        raise translate(exc, action="logs:DescribeLogStreams") from exc
    return [stream["logStreamName"] for stream in answer.get("logStreams", [])]


def _events(logs: Any, stream: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return dict(
            logs.get_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, **kwargs)
        )
    except ClientError as exc:
        if is_not_found(exc):
            return {"events": []}
        raise translate(exc, action="logs:GetLogEvents") from exc
    except Exception as exc:
        raise translate(exc, action="logs:GetLogEvents") from exc


def training_log_tail(logs: Any, *, job_name: str, limit: int = 50) -> list[str]:
    """The last ``limit`` log lines of the job (all its instances), oldest first.

    [] while the job has not written anything yet. Takes a CloudWatch Logs client.
    """
    events: list[tuple[int, str]] = []
    for stream in _log_streams(logs, job_name):
        answer = _events(logs, stream, startFromHead=False, limit=limit)
        events.extend((e.get("timestamp", 0), e.get("message", "")) for e in answer["events"])
    events.sort(key=lambda event: event[0])
    return [message.rstrip("\n") for _, message in events[-limit:]]


# "[12]#011train-logloss:0.3#011validation-logloss:0.4" ("#011" is a tab as CloudWatch shows it)
_ROUND = re.compile(r"\[(\d+)\]((?:(?:#011|\t)[^\s:#]+:[^\s#]+)+)")
_PAIR = re.compile(r"(?:#011|\t)([^\s:#]+):([^\s#]+)")


def _metric_name(raw: str) -> str:
    """ "validation-logloss" -> "validation:logloss", the name DescribeTrainingJob uses."""
    channel, dash, metric = raw.partition("-")
    return f"{channel}:{metric}" if dash and metric else raw


def parse_metric_lines(lines: Iterable[str]) -> list[tuple[int, dict[str, float]]]:
    """Per-round metrics from built-in XGBoost log lines, sorted by round.

    A round seen twice (a restarted instance, overlapping reads) keeps its last values.
    """
    rounds: dict[int, dict[str, float]] = {}
    for line in lines:
        match = _ROUND.search(line)
        if not match:
            continue
        values: dict[str, float] = {}
        for raw_name, raw_value in _PAIR.findall(match.group(2)):
            try:
                values[_metric_name(raw_name)] = float(raw_value)
            except ValueError:
                continue
        if values:
            rounds[int(match.group(1))] = values
    return sorted(rounds.items())


def training_metric_history(
    logs: Any, *, job_name: str, max_events: int = 20_000
) -> list[tuple[int, dict[str, float]]]:
    """[(round, {"validation:logloss": 0.41, ...}), ...] read from the job's whole log."""
    lines: list[str] = []
    for stream in _log_streams(logs, job_name):
        token: str | None = None
        while len(lines) < max_events:
            kwargs: dict[str, Any] = {"startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            answer = _events(logs, stream, **kwargs)
            lines.extend(e.get("message", "") for e in answer["events"])
            next_token = answer.get("nextForwardToken")
            # CloudWatch Logs signals the end by returning the token it was given.
            if not answer["events"] or not next_token or next_token == token:
                break
            token = next_token
    return parse_metric_lines(lines)


@dataclass(frozen=True)
class LogLine:
    job_name: str
    timestamp_ms: int
    message: str


def training_log_lines_since(
    logs: Any, *, since_ms: int, job_names: Iterable[str] = (), max_events: int = 50_000
) -> list[LogLine]:
    """Every training log line of the region written at or after ``since_ms``, for all
    jobs at once (one paged FilterLogEvents call), oldest first; ``job_names`` narrows it.

    This is how the refresher follows many jobs while they train: the cost is one call
    per region and cycle (plus a page per 10,000 lines), not one per job.
    """
    wanted = set(job_names)
    lines: list[LogLine] = []
    request: dict[str, Any] = {"logGroupName": TRAINING_LOG_GROUP, "startTime": since_ms}
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**request):
            for event in page.get("events", []):
                job = event.get("logStreamName", "").split("/", 1)[0]
                if wanted and job not in wanted:
                    continue
                lines.append(
                    LogLine(
                        job, int(event.get("timestamp", 0)), event.get("message", "").rstrip("\n")
                    )
                )
            if len(lines) >= max_events:
                break
    except ClientError as exc:
        if is_not_found(exc):
            return []  # No job has written a log in this region yet.
        raise translate(exc, action="logs:FilterLogEvents") from exc
    except Exception as exc:
        raise translate(exc, action="logs:FilterLogEvents") from exc
    lines.sort(key=lambda line: line.timestamp_ms)
    return lines


# --- Models ------------------------------------------------------------------------------


def model_create(
    sm: Any,
    *,
    name: str,
    image_uri: str,
    model_data_url: str,
    role_arn: str,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Register the trained artifact as a model (or adopt it); returns the model ARN."""
    _create_or_adopt(
        "sagemaker:CreateModel",
        sm.create_model,
        ModelName=name,
        PrimaryContainer={"Image": image_uri, "ModelDataUrl": model_data_url},
        ExecutionRoleArn=role_arn,
        Tags=_tags(tags),
    )
    answer = _describe_or_none("sagemaker:DescribeModel", sm.describe_model, ModelName=name)
    if answer is None:
        raise PermanentCloudError(
            f"The model {name} was created but cannot be found.", code="NotFound"
        )
    return str(answer.get("ModelArn", ""))


def model_exists(sm: Any, *, name: str) -> bool:
    return (
        _describe_or_none("sagemaker:DescribeModel", sm.describe_model, ModelName=name) is not None
    )


def model_delete(sm: Any, *, name: str) -> None:
    """Delete the model (its artifact in S3 stays). A missing model is fine."""
    try:
        sm.delete_model(ModelName=name)
    except ClientError as exc:
        if is_not_found(exc):
            return
        raise translate(exc, action="sagemaker:DeleteModel") from exc
    except Exception as exc:
        raise translate(exc, action="sagemaker:DeleteModel") from exc


# --- Batch transform ---------------------------------------------------------------------


def _transform_job(answer: Mapping[str, Any]) -> TransformJob:
    source = ((answer.get("TransformInput") or {}).get("DataSource") or {}).get(
        "S3DataSource"
    ) or {}
    return TransformJob(
        name=answer["TransformJobName"],
        status=answer.get("TransformJobStatus", ""),
        failure_reason=answer.get("FailureReason", "") or "",
        output_path=(answer.get("TransformOutput") or {}).get("S3OutputPath", ""),
        started_at=_utc(answer.get("TransformStartTime")),
        ended_at=_utc(answer.get("TransformEndTime")),
        arn=answer.get("TransformJobArn", ""),
        model_name=answer.get("ModelName", ""),
        input_path=source.get("S3Uri", ""),
        instance_type=(answer.get("TransformResources") or {}).get("InstanceType", ""),
        created_at=_utc(answer.get("CreationTime")),
        instance_count=int((answer.get("TransformResources") or {}).get("InstanceCount") or 1),
    )


def transform_job_describe(sm: Any, *, name: str) -> TransformJob | None:
    answer = _describe_or_none(
        "sagemaker:DescribeTransformJob", sm.describe_transform_job, TransformJobName=name
    )
    return _transform_job(answer) if answer is not None else None


def transform_job_create(
    sm: Any,
    *,
    name: str,
    model_name: str,
    input_s3_prefix: str,
    output_s3: str,
    instance_type: str,
    tags: Mapping[str, str] | None = None,
    instance_count: int = 1,
) -> TransformJob:
    """Batch-predict every CSV line under ``input_s3_prefix`` (features only, no label).

    SageMaker writes ``<input file name>.out`` under ``output_s3``, one prediction per
    line, in the order of the input lines.
    """
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model_name,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_s3_prefix}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": output_s3,
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
        "BatchStrategy": "MultiRecord",
        "Tags": _tags(tags),
    }
    _create_or_adopt("sagemaker:CreateTransformJob", sm.create_transform_job, **request)
    return _described_after_create(transform_job_describe(sm, name=name), "transform job", name)


def transform_job_list(
    sm: Any,
    *,
    name_contains: str = "",
    status_equals: str | None = None,
    last_modified_after: datetime | None = None,
    page_size: int = 100,
) -> list[JobSummary]:
    return _summaries(
        sm,
        "ListTransformJobs",
        "TransformJobSummaries",
        "TransformJobName",
        "TransformJobStatus",
        "TransformJobArn",
        _list_request(name_contains, status_equals, last_modified_after, page_size),
    )


def transform_job_stop(sm: Any, *, name: str) -> None:
    """Ask the job to stop. Finished or gone is fine."""
    _stop_job(
        "sagemaker:StopTransformJob",
        sm.stop_transform_job,
        lambda: transform_job_describe(sm, name=name),
        TRANSFORM_TERMINAL,
        TransformJobName=name,
    )


# --- Execution role ----------------------------------------------------------------------

_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
# Launches look the role up each time; one IAM call per connection every few minutes will do.
ROLE_CACHE_SECONDS = 300.0
_role_cache: dict[CloudConnection, tuple[str, float]] = {}


def execution_role_arn(
    connection: CloudConnection, region: str, *, configured_arn: str = ""
) -> str:
    """The role SageMaker runs jobs and notebooks as.

    On real AWS it is created by whoever set the account up and given to the portal in its
    configuration (``configured_arn``). On localcloud the portal creates it on first use:
    `LabSageMakerExecutionRole`, trusted by sagemaker.amazonaws.com.
    """
    if configured_arn:
        return configured_arn
    if not connection.is_localcloud:
        raise PermanentCloudError(
            "No SageMaker execution role is configured for this cloud account; ask your "
            "instructor to add its ARN to the account settings.",
            code="NoExecutionRole",
        )
    cached = _role_cache.get(connection)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    arn = _localcloud_role(client(connection, "iam", region))
    _role_cache[connection] = (arn, time.monotonic() + ROLE_CACHE_SECONDS)
    return arn


def _localcloud_role(iam: Any) -> str:
    try:
        return str(iam.get_role(RoleName=EXECUTION_ROLE_NAME)["Role"]["Arn"])
    except ClientError as exc:
        if not is_not_found(exc):
            raise translate(exc, action="iam:GetRole") from exc
    except Exception as exc:
        raise translate(exc, action="iam:GetRole") from exc
    try:
        arn = str(
            iam.create_role(
                RoleName=EXECUTION_ROLE_NAME,
                AssumeRolePolicyDocument=_TRUST_POLICY,
                Description="Runs the portal's SageMaker labs (created by the portal).",
            )["Role"]["Arn"]
        )
    except ClientError as exc:
        if not is_already_exists(exc):
            raise translate(exc, action="iam:CreateRole") from exc
        # Another worker created it between our two calls.
        with translating(action="iam:GetRole"):
            return str(iam.get_role(RoleName=EXECUTION_ROLE_NAME)["Role"]["Arn"])
    except Exception as exc:
        raise translate(exc, action="iam:CreateRole") from exc
    # The emulator may not know AWS's managed policies; the role works without it there.
    with contextlib.suppress(ClientError):
        iam.attach_role_policy(RoleName=EXECUTION_ROLE_NAME, PolicyArn=_MANAGED_POLICY)
    return arn
