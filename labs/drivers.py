"""One driver per resource kind: turns a CloudResource row into calls on the cloud
boundary (labs.cloud) and turns the answers into Observations in the portal's terms.

Drivers read rows and call the cloud; they never write the database (services do).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from labs.cloud import images, notebook_files, sagemaker, storage
from labs.cloud.connection import client
from labs.cloud.errors import CloudError, PermanentCloudError
from labs.models import CloudResource, Lab
from labs.selectors import resource_latest
from labs.services.observation import Observation

logger = logging.getLogger(__name__)
State = CloudResource.State
Kind = CloudResource.Kind

DATA_PREFIX = "data/"
MAX_RUNTIME_SECONDS = 3600
LOG_LINES = 20
STARTER_NOTEBOOK = "lab-starter.ipynb"


def _now() -> datetime:
    return datetime.now(UTC)


def _client(resource: CloudResource, service: str):
    return client(
        resource.account.connection(),
        service,
        resource.region,
        learner_tag=f"learner-{resource.owner_id}",
        cohort_tag=str(resource.cohort_id),
    )


def _tags(resource: CloudResource) -> dict[str, str]:
    return {
        "portal:cohort": resource.cohort.slug,
        "portal:learner": str(resource.owner_id),
        "portal:lab": resource.lab,
    }


def _keep_intent(resource: CloudResource, state: str) -> str:
    """A stop or delete the learner asked for stays visible until the cloud catches up."""
    if resource.state == State.DELETING and state not in (State.DELETED, State.FAILED):
        return State.DELETING
    if resource.state == State.STOPPING and state in (
        State.READY,
        State.RUNNING,
        State.PROVISIONING,
    ):
        return State.STOPPING
    return state


class Driver:
    kind = ""

    def submit(self, resource) -> Observation:
        raise NotImplementedError

    def describe(self, resource) -> Observation | None:
        raise NotImplementedError

    def missing(self, resource) -> Observation | None:
        """The List call no longer shows the resource."""
        if resource.state == State.DELETING:
            return Observation(
                state=State.DELETED,
                cloud_status="",
                message="Deleted in the cloud.",
                billing_ended_at=_now(),
            )
        return self.describe(resource)

    def list_summaries(self, connection, region, since) -> dict:
        """{name: JobSummary} for everything modified after ``since``, in one paged call."""
        return {}

    def wants_detail(self, resource) -> bool:
        return False

    def follow(self, connection, region, rows) -> dict[int, Observation]:
        """What changed inside running resources without a status change (one call for
        the whole group), as {resource id: Observation}."""
        return {}

    def needs_followup(self, resource) -> bool:
        """Whether ``followup`` has a step to take right after the submission."""
        return False

    def followup(self, resource) -> Observation | None:
        return None

    def actions_for(self, resource) -> tuple[str, ...]:
        return resource.available_actions

    def stop(self, resource) -> Observation:
        raise PermanentCloudError(f"You can't stop {resource.kind_with_article}.")

    def start(self, resource) -> Observation:
        raise PermanentCloudError(f"You can't start {resource.kind_with_article}.")

    def delete(self, resource) -> Observation:
        raise NotImplementedError


class BucketDriver(Driver):
    kind = Kind.BUCKET

    def submit(self, resource):
        # The bucket shows as Available as soon as it exists; the course data follows
        # in ``followup``, a task of its own (and refresh, should that task be lost).
        bucket = storage.bucket_create(
            _client(resource, "s3"),
            name=resource.cloud_name,
            region=resource.region,
            tags=_tags(resource),
        )
        return Observation(
            state=State.PROVISIONING,
            cloud_status="Available",
            arn=f"arn:aws:s3:::{bucket.name}",
            message=f"Bucket created in {resource.region}; uploading the course data.",
        )

    def needs_followup(self, resource):
        return resource.state == State.PROVISIONING and not resource.details.get("uris")

    def followup(self, resource):
        if not self.needs_followup(resource):
            return None
        uris = storage.dataset_upload(
            _client(resource, "s3"), bucket=resource.cloud_name, prefix=DATA_PREFIX
        )
        return Observation(
            state=State.READY,
            cloud_status="Available",
            message=f"Course data uploaded ({len(uris)} files under {DATA_PREFIX}).",
            details={"uris": uris},
        )

    def describe(self, resource):
        bucket = storage.bucket_describe(_client(resource, "s3"), name=resource.cloud_name)
        if not bucket.exists:
            return Observation(state=State.DELETED, message="The bucket no longer exists.")
        # Ready once the course data is in it (``followup`` finishes an interrupted upload).
        state = State.READY if resource.details.get("uris") else State.PROVISIONING
        return Observation(state=_keep_intent(resource, state), cloud_status="Available")

    def delete(self, resource):
        storage.bucket_empty_and_delete(_client(resource, "s3"), name=resource.cloud_name)
        return Observation(
            state=State.DELETED, cloud_status="", message="Bucket emptied and deleted."
        )


NOTEBOOK_STATES = {
    "Pending": State.PROVISIONING,
    "Updating": State.PROVISIONING,
    "InService": State.READY,
    "Stopping": State.STOPPING,
    "Stopped": State.STOPPED,
    "Failed": State.FAILED,
    "Deleting": State.DELETING,
}


# How long JupyterLab stays signed in once its link is used (the API allows 30 minutes to
# 12 hours): a class's afternoon, so that the session does not end in the middle of a lab.
JUPYTER_SESSION_HOURS = 3


class NotebookDriver(Driver):
    kind = Kind.NOTEBOOK

    def submit(self, resource):
        sm = _client(resource, "sagemaker")
        role = sagemaker.execution_role_arn(
            resource.account.connection(),
            resource.region,
            configured_arn=resource.account.execution_role_arn,
        )
        sagemaker.notebook_create(
            sm,
            name=resource.cloud_name,
            instance_type=resource.instance_type,
            role_arn=role,
            tags=_tags(resource),
        )
        seen = self.describe(resource)
        if seen is None:
            raise PermanentCloudError("The notebook instance was created but cannot be found.")
        return seen

    def list_summaries(self, connection, region, since):
        sm = client(connection, "sagemaker", region)
        return {s.name: s for s in sagemaker.notebook_list(sm, last_modified_after=since)}

    def wants_detail(self, resource):
        # A ready notebook still waiting for its starter notebook gets another look.
        return resource.state == State.READY and not resource.details.get("starter_notebook")

    def describe(self, resource):
        notebook = sagemaker.notebook_describe(
            _client(resource, "sagemaker"), name=resource.cloud_name
        )
        if notebook is None:
            if resource.state == State.DELETING:
                return Observation(
                    state=State.DELETED, message="Deleted in the cloud.", billing_ended_at=_now()
                )
            return Observation(
                state=State.DELETED,
                message="It no longer exists in the cloud.",
                billing_ended_at=_now(),
            )
        state = _keep_intent(resource, NOTEBOOK_STATES.get(notebook.status, State.PROVISIONING))
        seen = Observation(
            state=state,
            cloud_status=notebook.status,
            modified_at=notebook.last_modified,
            failure_reason=notebook.failure_reason,
            arn=notebook.arn,
        )
        if notebook.status == "InService":
            seen.billing_started_at = notebook.last_modified or _now()
        elif notebook.status in ("Stopped", "Failed", "Stopping"):
            seen.billing_ended_at = notebook.last_modified or _now()
            seen.details = {"open_url": ""}
        return seen

    def followup(self, resource):
        if resource.state == State.READY and not resource.details.get("starter_notebook"):
            return self._put_starter_notebook(resource)
        # Deleting a running notebook is two steps on AWS: stop, then delete.
        if resource.state == State.DELETING and resource.cloud_status in ("Stopped", "Failed"):
            sagemaker.notebook_delete(_client(resource, "sagemaker"), name=resource.cloud_name)
            return Observation(
                state=State.DELETING,
                cloud_status="Deleting",
                message="Stopped; now deleting the instance and its files.",
            )
        return None

    def _put_starter_notebook(self, resource) -> Observation:
        from labs.starter_notebook import starter_notebook

        bucket = resource_latest(
            user=resource.owner_id,
            cohort=resource.cohort_id,
            lab=Lab.STORAGE,
            kind=Kind.BUCKET,
            region=resource.region,
            states=(State.READY,),
        )
        content = starter_notebook(
            bucket=bucket.cloud_name if bucket else "", region=resource.region
        )
        try:
            url = sagemaker.notebook_presigned_url(
                _client(resource, "sagemaker"), name=resource.cloud_name
            )
            notebook_files.notebook_put_file(url, path=STARTER_NOTEBOOK, content=content)
        except CloudError as error:
            # Not worth failing the notebook over: the next refresh tries again.
            logger.warning("starter notebook for %s not placed: %s", resource.cloud_name, error)
            return None
        return Observation(
            state=resource.state,
            cloud_status=resource.cloud_status,
            details={"starter_notebook": STARTER_NOTEBOOK},
            message=f"Put {STARTER_NOTEBOOK} in your JupyterLab: open it to start.",
        )

    def stop(self, resource):
        sagemaker.notebook_stop(_client(resource, "sagemaker"), name=resource.cloud_name)
        return self.describe(resource) or Observation(state=State.STOPPING)

    def start(self, resource):
        sagemaker.notebook_start(_client(resource, "sagemaker"), name=resource.cloud_name)
        return self.describe(resource) or Observation(state=State.PROVISIONING)

    def delete(self, resource):
        sm = _client(resource, "sagemaker")
        notebook = sagemaker.notebook_describe(sm, name=resource.cloud_name)
        if notebook is None:
            return Observation(state=State.DELETED, message="Deleted.", billing_ended_at=_now())
        if notebook.status in ("InService", "Pending", "Updating"):
            sagemaker.notebook_stop(sm, name=resource.cloud_name)
            return Observation(
                state=State.DELETING,
                cloud_status="Stopping",
                message="Stopping it first; it is deleted once stopped.",
                billing_ended_at=_now(),
            )
        if notebook.status in ("Stopped", "Failed"):
            sagemaker.notebook_delete(sm, name=resource.cloud_name)
            return Observation(state=State.DELETING, cloud_status="Deleting")
        return Observation(state=State.DELETING, cloud_status=notebook.status)

    def open_url(self, resource):
        url = sagemaker.notebook_presigned_url(
            _client(resource, "sagemaker"),
            name=resource.cloud_name,
            session_seconds=JUPYTER_SESSION_HOURS * 3600,
        )
        return Observation(
            state=resource.state,
            cloud_status=resource.cloud_status,
            secondary_status=resource.secondary_status,
            details={"open_url": url, "open_url_at": _now().isoformat()},
        )


TRAINING_STATES = {
    "InProgress": State.RUNNING,
    "Completed": State.COMPLETED,
    "Failed": State.FAILED,
    "Stopping": State.STOPPING,
    "Stopped": State.STOPPED,
}
WAITING_SECONDARY = (
    "Starting",
    "Downloading",
    "LaunchingMLInstances",
    "PreparingTrainingStack",
    "DownloadingTrainingImage",
    "Pending",
)


FINISHED = (State.COMPLETED, State.FAILED, State.STOPPED)


def _reads_logs(resource) -> bool:
    if resource.state == State.RUNNING and resource.secondary_status == "Training":
        return True
    return resource.state in FINISHED and not resource.details.get("log_final")


def _log_position(resource) -> int:
    """The log time (ms) this resource has read up to; its creation if nothing yet."""
    return int(resource.details.get("log_ms") or resource.created_at.timestamp() * 1000)


def _merge_metric_series(series: dict, history) -> dict[str, list[list[float]]]:
    merged = {name: {int(r): v for r, v in points} for name, points in (series or {}).items()}
    for round_number, values in history:
        for name, value in values.items():
            merged.setdefault(name, {})[round_number] = value
    return {name: [[r, v] for r, v in sorted(points.items())] for name, points in merged.items()}


class JobDriver(Driver):
    """Training and transform jobs. SageMaker keeps finished jobs in its history, so
    "delete" stops a running job (ending the bill) and then drops the row from the
    learner's list; what the job wrote stays in their bucket until the bucket goes."""

    job_label = ""
    left_behind = ""

    def _describe_job(self, sm, name: str):
        raise NotImplementedError

    def _stop_job(self, sm, name: str) -> None:
        raise NotImplementedError

    def _observe(self, resource, job) -> Observation:
        raise NotImplementedError

    def describe(self, resource):
        job = self._describe_job(_client(resource, "sagemaker"), resource.cloud_name)
        if job is None:
            if resource.state == State.DELETING:
                return Observation(state=State.DELETED)
            return Observation(
                state=State.FAILED,
                failure_reason=f"The {self.job_label} no longer exists in the cloud.",
            )
        return self._observe(resource, job)

    def stop(self, resource):
        self._stop_job(_client(resource, "sagemaker"), resource.cloud_name)
        return self.describe(resource) or Observation(state=State.STOPPING)

    def delete(self, resource):
        sm = _client(resource, "sagemaker")
        job = self._describe_job(sm, resource.cloud_name)
        if job and job.status == "InProgress":
            self._stop_job(sm, resource.cloud_name)
            return Observation(
                state=State.DELETING,
                cloud_status="Stopping",
                message="Stopping the job before removing it.",
            )
        return Observation(
            state=State.DELETED,
            cloud_status=job.status if job else "",
            message=f"Removed from your list; {self.left_behind} stays in your bucket.",
        )


class TrainingJobDriver(JobDriver):
    kind = Kind.TRAINING_JOB
    job_label = "training job"
    left_behind = "its model.tar.gz"

    def _describe_job(self, sm, name):
        return sagemaker.training_job_describe(sm, name=name)

    def _stop_job(self, sm, name):
        sagemaker.training_job_stop(sm, name=name)

    def submit(self, resource):
        bucket = resource.params["bucket"]
        role = sagemaker.execution_role_arn(
            resource.account.connection(),
            resource.region,
            configured_arn=resource.account.execution_role_arn,
        )
        job = sagemaker.training_job_create(
            _client(resource, "sagemaker"),
            name=resource.cloud_name,
            image_uri=images.xgboost_image_uri(resource.region),
            role_arn=role,
            instance_type=resource.instance_type,
            train_s3=storage.s3_uri(bucket, f"{DATA_PREFIX}train.csv"),
            validation_s3=storage.s3_uri(bucket, f"{DATA_PREFIX}validation.csv"),
            output_s3=storage.s3_uri(bucket, "models/"),
            hyperparameters=resource.params["hyperparameters"],
            max_runtime_seconds=MAX_RUNTIME_SECONDS,
            tags=_tags(resource),
        )
        return self._observe(resource, job)

    def list_summaries(self, connection, region, since):
        sm = client(connection, "sagemaker", region)
        return {s.name: s for s in sagemaker.training_job_list(sm, last_modified_after=since)}

    def follow(self, connection, region, rows):
        # Rounds advance without a status change. One FilterLogEvents call reads the new
        # log lines of every job of the region that is training or has just finished (its
        # last rounds and final lines), from the oldest point any of them has read.
        training = [r for r in rows if _reads_logs(r)]
        if not training:
            return {}
        since = min(_log_position(r) for r in training)
        logs = client(connection, "logs", region)
        lines = sagemaker.training_log_lines_since(
            logs, since_ms=since, job_names=[r.cloud_name for r in training]
        )
        by_job: dict[str, list] = {}
        for line in lines:
            by_job.setdefault(line.job_name, []).append(line)
        seen = {}
        for resource in training:
            read_up_to = _log_position(resource)
            # Lines at exactly the last time read may be new or already seen.
            new = [
                line
                for line in by_job.get(resource.cloud_name, ())
                if line.timestamp_ms > read_up_to
                or (line.timestamp_ms == read_up_to and line.message not in resource.log_tail)
            ]
            if new:
                seen[resource.pk] = self._progress(resource, new)
            elif resource.state in FINISHED:
                # Read after the cloud said it finished, with nothing new: its last lines
                # came in an earlier read, while it still showed as training.
                seen[resource.pk] = Observation(
                    state=resource.state,
                    cloud_status=resource.cloud_status,
                    secondary_status=resource.secondary_status,
                    details={"log_final": True},
                )
        return seen

    def _progress(self, resource, lines) -> Observation:
        history = sagemaker.parse_metric_lines(line.message for line in lines)
        metrics = _merge_metric_series(resource.metrics, history)
        rounds = [int(r) for series in metrics.values() for r, _ in series]
        return Observation(
            state=resource.state,
            cloud_status=resource.cloud_status,
            secondary_status=resource.secondary_status,
            metrics=metrics,
            progress_done=max(rounds) + 1 if rounds else resource.progress_done,
            log_tail=(resource.log_tail + [line.message for line in lines])[-LOG_LINES:],
            details={"log_ms": lines[-1].timestamp_ms, "log_final": resource.state in FINISHED},
        )

    def _observe(self, resource, job) -> Observation:
        state = TRAINING_STATES.get(job.status, State.RUNNING)
        if state == State.RUNNING and job.secondary_status in WAITING_SECONDARY:
            state = State.PROVISIONING
        seen = Observation(
            state=_keep_intent(resource, state),
            cloud_status=job.status,
            secondary_status=job.secondary_status,
            modified_at=job.last_modified,
            failure_reason=job.failure_reason,
            arn=job.arn,
            progress_total=int(
                resource.params.get("hyperparameters", {}).get("num_round", 0) or 0
            ),
            details={
                "transitions": [
                    [t.status, t.start.isoformat() if t.start else "", t.message]
                    for t in job.transitions
                ]
            },
        )
        if seen.state == State.DELETING and job.status in ("Completed", "Failed", "Stopped"):
            seen.state = State.DELETED
        # SageMaker bills from TrainingStartTime (the instance is the job's, downloading
        # the data) until the model is saved.
        if job.started_at:
            seen.billing_started_at = job.started_at
        if job.status in ("Completed", "Failed", "Stopped"):
            start = seen.billing_started_at or job.started_at
            if start:
                seconds = job.billable_seconds
                seen.billing_ended_at = (
                    start + timedelta(seconds=seconds) if seconds else (job.ended_at or _now())
                )
        if job.final_metrics:
            seen.details["final_metrics"] = job.final_metrics
        if job.model_artifact and job.status == "Completed":
            seen.details["model_artifact"] = job.model_artifact
        # Every round is done once the model is being saved, whether or not the log's
        # last lines were read while it trained.
        # (A stopped job uploads what it has too: its rounds stay as the log counted them.)
        finished_training = job.status == "Completed" or (
            job.status == "InProgress" and job.secondary_status == "Uploading"
        )
        if finished_training and seen.progress_total:
            seen.progress_done = seen.progress_total
        return seen


class ModelDriver(Driver):
    kind = Kind.MODEL

    def submit(self, resource):
        role = sagemaker.execution_role_arn(
            resource.account.connection(),
            resource.region,
            configured_arn=resource.account.execution_role_arn,
        )
        arn = sagemaker.model_create(
            _client(resource, "sagemaker"),
            name=resource.cloud_name,
            image_uri=images.xgboost_image_uri(resource.region),
            model_data_url=resource.params["model_artifact"],
            role_arn=role,
            tags=_tags(resource),
        )
        return Observation(
            state=State.READY,
            cloud_status="Created",
            arn=arn,
            message="Model created from your training job's model.tar.gz.",
        )

    def describe(self, resource):
        if sagemaker.model_exists(_client(resource, "sagemaker"), name=resource.cloud_name):
            return Observation(state=_keep_intent(resource, State.READY), cloud_status="Created")
        return Observation(state=State.DELETED, message="The model no longer exists.")

    def delete(self, resource):
        sagemaker.model_delete(_client(resource, "sagemaker"), name=resource.cloud_name)
        return Observation(state=State.DELETED, cloud_status="", message="Model deleted.")


TRANSFORM_STATES = TRAINING_STATES


class TransformJobDriver(JobDriver):
    kind = Kind.TRANSFORM_JOB
    job_label = "transform job"
    left_behind = "its predictions file"

    def _describe_job(self, sm, name):
        return sagemaker.transform_job_describe(sm, name=name)

    def _stop_job(self, sm, name):
        sagemaker.transform_job_stop(sm, name=name)

    def submit(self, resource):
        model = resource.parent
        if model is None:
            raise PermanentCloudError("This transform has no model to use.")
        model.account = resource.account
        if model.state != State.READY:
            # The model's own task may not have run yet; creating adopts, so this is safe.
            ModelDriver().submit(model)
        bucket = resource.params["bucket"]
        job = sagemaker.transform_job_create(
            _client(resource, "sagemaker"),
            name=resource.cloud_name,
            model_name=model.cloud_name,
            input_s3_prefix=storage.s3_uri(bucket, f"{DATA_PREFIX}test-features.csv"),
            output_s3=self._output_prefix(resource),
            instance_type=resource.instance_type,
            tags=_tags(resource),
        )
        return self._observe(resource, job)

    @staticmethod
    def _output_prefix(resource) -> str:
        return storage.s3_uri(resource.params["bucket"], f"predictions/{resource.cloud_name}/")

    def list_summaries(self, connection, region, since):
        sm = client(connection, "sagemaker", region)
        return {s.name: s for s in sagemaker.transform_job_list(sm, last_modified_after=since)}

    def _observe(self, resource, job) -> Observation:
        state = _keep_intent(resource, TRANSFORM_STATES.get(job.status, State.RUNNING))
        if state == State.DELETING and job.status in ("Completed", "Failed", "Stopped"):
            state = State.DELETED
        seen = Observation(
            state=state,
            cloud_status=job.status,
            failure_reason=job.failure_reason,
            arn=job.arn,
            billing_started_at=job.started_at,
        )
        if job.status in ("Completed", "Failed", "Stopped"):
            seen.billing_ended_at = job.ended_at or _now()
        if job.status == "Completed" and "accuracy" not in resource.details:
            seen.details = self._score(resource)
        return seen

    def _score(self, resource) -> dict:
        from labs.dataset import prediction_accuracy, read_predictions, test_labels

        bucket, prefix = storage.split_s3_uri(self._output_prefix(resource))
        text = storage.object_text(
            _client(resource, "s3"), bucket=bucket, key=f"{prefix}test-features.csv.out"
        )
        if text is None:
            return {"accuracy": "", "score_problem": "The predictions file is missing."}
        labels = test_labels()
        try:
            accuracy = prediction_accuracy(text, labels)
        except ValueError as problem:
            return {"accuracy": "", "score_problem": str(problem)}
        scores = read_predictions(text)
        sample = [
            [i + 1, labels[i], scores[i], int(scores[i] >= 0.5)]
            for i in range(min(10, len(labels)))
        ]
        return {
            "accuracy": accuracy,
            "correct": round(accuracy * len(labels)),
            "total": len(labels),
            "sample": sample,
            "output": storage.s3_uri(bucket, f"{prefix}test-features.csv.out"),
        }


_DRIVERS = {
    d.kind: d
    for d in (
        BucketDriver(),
        NotebookDriver(),
        TrainingJobDriver(),
        ModelDriver(),
        TransformJobDriver(),
    )
}


def for_kind(kind: str) -> Driver:
    return _DRIVERS[kind]
