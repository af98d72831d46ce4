"""What the cloud holds for a cohort, found by the portal's tags, and how to remove it.

The instructor dashboard's sweep and the teardown check use this: they list every region
they are given for resources tagged ``portal:cohort=<slug>`` (and, for one learner,
``portal:learner=<id>``), whatever the database says. Listing is by List* calls plus one
ListTags (SageMaker) or GetBucketTagging (S3) per resource found, and one Describe per
running job of the cohort (job listings leave out the instance type, which bills).

Kinds use the portal's names (``bucket``, ``notebook``, ``training_job``, ``model``,
``transform_job``). Finished training and transform jobs stay in SageMaker's history for
good (there is no call to delete them) and cost nothing, so they are reported with
``live=False``; everything else that exists is ``live``.

Like the rest of `labs.cloud`, nothing here imports Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from labs.cloud import sagemaker, storage
from labs.cloud.connection import CloudConnection, client
from labs.cloud.errors import CloudError, is_not_found, translate, translating

__all__ = [
    "CloudItem",
    "item_remove",
    "tagged_items",
]

# SageMaker statuses in which a job still runs (and bills).
RUNNING_JOB_STATUSES = frozenset({"InProgress", "Stopping"})
# Statuses in which an item's instance runs (or is being started), by kind: a stopped
# notebook instance keeps only its storage.
INSTANCE_RUNNING_STATUSES = {
    "notebook": frozenset({"Pending", "InService", "Updating", "Stopping"}),
    "training_job": RUNNING_JOB_STATUSES,
    "transform_job": RUNNING_JOB_STATUSES,
}

# What `item_remove` reports.
GONE = "gone"  # nothing left to do: deleted, or it was not there
WAITING = "waiting"  # asked the cloud to stop it first; call again later to finish
KEPT = "kept"  # a finished job: stays in SageMaker's history, costs nothing


@dataclass(frozen=True)
class CloudItem:
    kind: str
    region: str
    name: str
    status: str
    live: bool
    arn: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = ""  # notebook instances and running jobs
    instance_count: int = 1

    @property
    def runs_instance(self) -> bool:
        """Whether an instance of ``instance_type`` runs for it now, billed by the hour."""
        running = INSTANCE_RUNNING_STATUSES.get(self.kind, frozenset())
        return bool(self.instance_type) and self.status in running

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = dict(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CloudItem:
        return cls(
            kind=str(data["kind"]),
            region=str(data["region"]),
            name=str(data["name"]),
            status=str(data.get("status", "")),
            live=bool(data.get("live", True)),
            arn=str(data.get("arn", "")),
            tags=dict(data.get("tags") or {}),
            instance_type=str(data.get("instance_type") or ""),
            instance_count=int(data.get("instance_count") or 1),
        )


def _matches(tags: Mapping[str, str], match: Mapping[str, str]) -> bool:
    return all(tags.get(key) == value for key, value in match.items())


def _sagemaker_tags(sm: Any, arn: str) -> dict[str, str] | None:
    """The resource's tags; None when it vanished between the List and this call."""
    tags: dict[str, str] = {}
    request: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 100}
    while True:
        try:
            answer = sm.list_tags(**request)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, action="sagemaker:ListTags") from exc
        except Exception as exc:
            raise translate(exc, action="sagemaker:ListTags") from exc
        tags.update({t["Key"]: t["Value"] for t in answer.get("Tags", [])})
        token = answer.get("NextToken")
        if not token:
            return tags
        request["NextToken"] = token


def _models(sm: Any) -> list[tuple[str, str]]:
    found = []
    with translating(action="sagemaker:ListModels"):
        for page in sm.get_paginator("list_models").paginate(PaginationConfig={"PageSize": 100}):
            found.extend((m["ModelName"], m.get("ModelArn", "")) for m in page.get("Models", []))
    return found


def _region_items(
    connection: CloudConnection, region: str, match: Mapping[str, str]
) -> list[CloudItem]:
    sm = client(connection, "sagemaker", region)
    candidates: list[CloudItem] = []
    for summary in sagemaker.notebook_list(sm):
        candidates.append(
            CloudItem(
                "notebook",
                region,
                summary.name,
                summary.status,
                True,
                summary.arn,
                instance_type=summary.instance_type,
            )
        )
    for summary in sagemaker.training_job_list(sm):
        live = summary.status in RUNNING_JOB_STATUSES
        candidates.append(
            CloudItem("training_job", region, summary.name, summary.status, live, summary.arn)
        )
    for summary in sagemaker.transform_job_list(sm):
        live = summary.status in RUNNING_JOB_STATUSES
        candidates.append(
            CloudItem("transform_job", region, summary.name, summary.status, live, summary.arn)
        )
    for name, arn in _models(sm):
        candidates.append(CloudItem("model", region, name, "Created", True, arn))
    items = []
    for item in candidates:
        if not item.arn:
            continue
        tags = _sagemaker_tags(sm, item.arn)
        if tags is not None and _matches(tags, match):
            items.append(_with_instance_type(sm, replace(item, tags=tags)))
    return items


def _with_instance_type(sm: Any, item: CloudItem) -> CloudItem:
    """A running job's instance type and count, which job listings leave out: one
    Describe each, only for the cohort's running jobs (what may bill). A refused Describe
    leaves them unknown rather than failing the listing."""
    if item.instance_type or item.kind not in ("training_job", "transform_job") or not item.live:
        return item
    describe = (
        sagemaker.training_job_describe
        if item.kind == "training_job"
        else sagemaker.transform_job_describe
    )
    try:
        job = describe(sm, name=item.name)
    except CloudError as error:
        if error.retryable:
            raise
        return item
    if job is None:
        return item
    return replace(item, instance_type=job.instance_type, instance_count=job.instance_count)


def _bucket_items(
    connection: CloudConnection, any_region: str, match: Mapping[str, str]
) -> list[CloudItem]:
    # Bucket listing is global: one call covers every region; each bucket's own region
    # is asked for so that it is reported (and deleted) where it lives.
    s3 = client(connection, "s3", any_region)
    items = []
    for bucket in storage.list_tagged_buckets(s3, match=match):
        region = storage.bucket_region(s3, name=bucket.name)
        if region is None:
            continue
        items.append(
            CloudItem("bucket", region, bucket.name, "Available", True, "", dict(bucket.tags))
        )
    return items


def tagged_items(
    connection: CloudConnection, regions: Iterable[str], *, match: Mapping[str, str]
) -> list[CloudItem]:
    """Every bucket (any region) and every SageMaker notebook instance, training job,
    transform job and model in ``regions`` whose tags include all of ``match``."""
    ordered = sorted(set(regions))
    if not ordered:
        return []
    items = _bucket_items(connection, ordered[0], match)
    for region in ordered:
        items.extend(_region_items(connection, region, match))
    return sorted(items, key=lambda i: (i.region, i.kind, i.name))


def item_remove(connection: CloudConnection, item: CloudItem) -> str:
    """Take one step towards removing ``item``: GONE, WAITING (call again) or KEPT.

    A running notebook instance is stopped first (AWS deletes only stopped ones), so it
    answers WAITING until it has stopped. Jobs are stopped; once finished they are KEPT in
    SageMaker's history, which costs nothing.
    """
    if item.kind == "bucket":
        storage.bucket_empty_and_delete(client(connection, "s3", item.region), name=item.name)
        return GONE
    sm = client(connection, "sagemaker", item.region)
    if item.kind == "notebook":
        notebook = sagemaker.notebook_describe(sm, name=item.name)
        if notebook is None:
            return GONE
        if notebook.status in ("InService", "Pending", "Updating"):
            sagemaker.notebook_stop(sm, name=item.name)
            return WAITING
        if notebook.status in ("Stopped", "Failed"):
            sagemaker.notebook_delete(sm, name=item.name)
            return WAITING
        return WAITING  # Stopping or Deleting: the cloud is on its way.
    if item.kind == "training_job":
        job = sagemaker.training_job_describe(sm, name=item.name)
        if job is None:
            return GONE
        if job.status == "InProgress":
            sagemaker.training_job_stop(sm, name=item.name)
        return WAITING if job.status in RUNNING_JOB_STATUSES else KEPT
    if item.kind == "transform_job":
        job = sagemaker.transform_job_describe(sm, name=item.name)
        if job is None:
            return GONE
        if job.status == "InProgress":
            sagemaker.transform_job_stop(sm, name=item.name)
        return WAITING if job.status in RUNNING_JOB_STATUSES else KEPT
    if item.kind == "model":
        sagemaker.model_delete(sm, name=item.name)
        return GONE
    raise ValueError(f"Unknown cloud item kind {item.kind!r}.")
