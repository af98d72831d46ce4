"""S3 for the labs: the learner's bucket, the course data set in it, and clean-up.

Every function takes an S3 client from `labs.cloud.connection.client` as its first
argument (everything else is keyword-only) and raises only `CloudError`s. A missing bucket
or object is a value (``exists=False``, ``None``), not an exception.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from labs.cloud.errors import (
    PermanentCloudError,
    TransientCloudError,
    error_code,
    is_not_found,
    translate,
    translating,
)
from labs.cloud.naming import bucket_name_problem

__all__ = [
    "DATASET_KEYS",
    "Bucket",
    "TaggedBucket",
    "bucket_create",
    "bucket_describe",
    "bucket_empty_and_delete",
    "bucket_region",
    "dataset_upload",
    "list_tagged_buckets",
    "object_keys",
    "object_text",
    "s3_uri",
    "split_s3_uri",
    "tag_set",
]

# The data set files uploaded by `dataset_upload`, by their short name.
DATASET_KEYS = ("train", "validation", "test", "test-features")
MAX_LISTED_KEYS = 1000


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    exists: bool
    object_count: int = 0  # objects under the prefix that was asked about
    keys: tuple[str, ...] = ()  # their keys, at most MAX_LISTED_KEYS of them

    @property
    def uri(self) -> str:
        return f"s3://{self.name}/"


@dataclass(frozen=True)
class TaggedBucket:
    name: str
    tags: Mapping[str, str]


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """("bucket", "key/prefix") from "s3://bucket/key/prefix"."""
    if not uri.startswith("s3://"):
        raise ValueError(f"Not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def tag_set(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    """Tags as AWS lists them, [{"Key": ..., "Value": ...}], sorted by key."""
    return [{"Key": str(k), "Value": str(v)} for k, v in sorted((tags or {}).items())]


def _region_of(s3: Any) -> str:
    return str(s3.meta.region_name)


def bucket_region(s3: Any, *, name: str) -> str | None:
    """The region a bucket lives in, or None when there is no such bucket."""
    try:
        answer = s3.get_bucket_location(Bucket=name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise translate(exc, action="s3:GetBucketLocation") from exc
    except Exception as exc:
        raise translate(exc) from exc
    constraint = answer.get("LocationConstraint")
    # us-east-1 answers with no constraint; very old Ireland buckets answer "EU".
    if not constraint:
        return "us-east-1"
    return "eu-west-1" if constraint == "EU" else str(constraint)


def bucket_create(
    s3: Any,
    *,
    name: str,
    region: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Bucket:
    """Create the bucket in ``region`` (default: the client's), tagged; adopt it if it is ours.

    Creating twice is fine: "BucketAlreadyOwnedByYou" means a previous try may have made it.
    The bucket is adopted (and tagged again) only if it already carries ``tags``, or carries
    no tags and holds nothing (a try that stopped before tagging): any other bucket of the
    account, such as the SDK's default bucket or another learner's, is not handed over to
    whoever typed its name. A name taken by another account, a bucket of this account that
    is not adoptable, or one in a different region raises PermanentCloudError with a
    sentence.
    """
    problem = bucket_name_problem(name)
    if problem:
        raise PermanentCloudError(problem, code="InvalidBucketName")
    region = region or _region_of(s3)
    request: dict[str, Any] = {"Bucket": name}
    # us-east-1 is S3's original region: naming it as a constraint is an error there.
    if region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    # Asked first: in us-east-1, CreateBucket answers 200 for a bucket the account already
    # has, as if it had just made it.
    adopted = _account_has(s3, name=name)
    if not adopted:
        try:
            s3.create_bucket(**request)
        except ClientError as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise translate(exc, action="s3:CreateBucket") from exc
            adopted = True  # Made meanwhile, by a try running at the same time.
        except Exception as exc:
            raise translate(exc, action="s3:CreateBucket") from exc

    if adopted:
        actual = bucket_region(s3, name=name)
        if actual is None:  # Deleted between the two calls; let the caller try again.
            raise TransientCloudError(
                f"The bucket {name} disappeared while it was being created; we will try again.",
                code="NoSuchBucket",
            )
        if actual != region:
            # The account may be shared by a whole cohort: the bucket need not be this
            # learner's, so neither its owner nor its region is named.
            raise PermanentCloudError(
                f"A bucket named {name} already exists in this cloud account, in another "
                "region. Bucket names are unique across all regions, so pick another name.",
                code="BucketInOtherRegion",
            )
        if not _adoptable(s3, name=name, tags=tags or {}):
            raise PermanentCloudError(
                f"A bucket named {name} already exists in this cloud account, and it is not "
                "one the portal made for you. Bucket names are unique, so pick another name.",
                code="BucketNotYours",
            )
    if tags:
        with translating(action="s3:PutBucketTagging"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_set(tags)})
    if adopted:
        return bucket_describe(s3, name=name, prefix="")
    return Bucket(name=name, region=region, exists=True)


def _account_has(s3: Any, *, name: str) -> bool:
    """Whether this account has a bucket of that name: ListBuckets lists the account's own
    only (another account's bucket is then for CreateBucket to refuse)."""
    with translating(action="s3:ListAllMyBuckets"):
        listed = s3.list_buckets(Prefix=name).get("Buckets", [])
    return any(bucket["Name"] == name for bucket in listed)


def _adoptable(s3: Any, *, name: str, tags: Mapping[str, str]) -> bool:
    existing = bucket_tags(s3, name=name)
    if existing:
        return _carries(existing, tags)
    return not object_keys(s3, bucket=name, limit=1)


def _listed(s3: Any, *, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """The objects under ``prefix`` as ListObjectsV2 lists them, page after page."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def object_keys(
    s3: Any, *, bucket: str, prefix: str = "", limit: int = MAX_LISTED_KEYS
) -> list[str]:
    """Keys under ``prefix`` (at most ``limit``); [] when the bucket does not exist."""
    keys: list[str] = []
    try:
        for item in _listed(s3, bucket=bucket, prefix=prefix):
            keys.append(item["Key"])
            if len(keys) >= limit:
                return keys
    except ClientError as exc:
        if is_not_found(exc):
            return []
        raise translate(exc, action="s3:ListBucket") from exc
    except Exception as exc:
        raise translate(exc) from exc
    return keys


def bucket_describe(s3: Any, *, name: str, prefix: str = "data/") -> Bucket:
    """The bucket's region and the objects under ``prefix``; ``exists=False`` if it is gone.

    Costs two calls (region, listing). A bucket owned by another account raises
    PermanentCloudError: it "exists", but not for us.
    """
    region = bucket_region(s3, name=name)
    if region is None:
        return Bucket(name=name, region="", exists=False)
    keys = object_keys(s3, bucket=name, prefix=prefix, limit=MAX_LISTED_KEYS + 1)
    return Bucket(
        name=name,
        region=region,
        exists=True,
        object_count=len(keys),
        keys=tuple(keys[:MAX_LISTED_KEYS]),
    )


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _remote_etags(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """{key: ETag} of the objects under ``prefix``: one listing for the whole data set,
    rather than a HEAD per file (the prefix holds a few files, so one page)."""
    return {
        item["Key"]: str(item.get("ETag", "")).strip('"')
        for item in _listed(s3, bucket=bucket, prefix=prefix)
    }


def dataset_upload(
    s3: Any,
    *,
    bucket: str,
    prefix: str = "data/",
    files: Mapping[str, Path] | None = None,
) -> dict[str, str]:
    """Upload the course data set under ``prefix``; return {short name: S3 URI}.

    Short names are "train", "validation", "test" and "test-features" (the test set without
    its label column: the batch transform input). Files already there with the same content
    are left alone (compared by MD5 against the ETag), so running it twice uploads once.
    """
    if files is None:
        from labs.dataset import dataset_files

        files = dataset_files()
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    uris: dict[str, str] = {}
    try:
        there = _remote_etags(s3, bucket, prefix)
        for short_name, path in files.items():
            data = Path(path).read_bytes()
            key = f"{prefix}{Path(path).name}"
            if there.get(key) != _md5(data):
                s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/csv")
            uris[short_name] = s3_uri(bucket, key)
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            raise PermanentCloudError(
                f"The bucket {bucket} does not exist; create it first.", code="NoSuchBucket"
            ) from exc
        raise translate(exc, action="s3:PutObject") from exc
    except Exception as exc:
        raise translate(exc) from exc
    return uris


def object_text(s3: Any, *, bucket: str, key: str, max_bytes: int = 5_000_000) -> str | None:
    """The object's content as UTF-8 text (first ``max_bytes``), or None if it is missing."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")
        data = answer["Body"].read()
    except ClientError as exc:
        if error_code(exc) == "InvalidRange":  # An empty object answers a ranged GET so.
            return ""
        if is_not_found(exc):
            return None
        raise translate(exc, action="s3:GetObject") from exc
    except Exception as exc:
        raise translate(exc) from exc
    return bytes(data).decode("utf-8", errors="replace")


def _delete_batch(s3: Any, bucket: str, objects: list[dict[str, str]]) -> None:
    if not objects:
        return
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    errors = answer.get("Errors") or []
    if errors:
        raise TransientCloudError(
            f"{len(errors)} objects in bucket {bucket} could not be deleted yet; "
            "we will try again.",
            code=str(errors[0].get("Code", "")),
        )


def _empty(s3: Any, bucket: str) -> None:
    batch: list[dict[str, str]] = []
    # Listing versions also covers unversioned buckets (VersionId "null"), and removes
    # the old versions and delete markers a learner's notebook may have left behind.
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            batch.append({"Key": item["Key"], "VersionId": item["VersionId"]})
            if len(batch) == 1000:
                _delete_batch(s3, bucket, batch)
                batch = []
    _delete_batch(s3, bucket, batch)


def bucket_empty_and_delete(s3: Any, *, name: str) -> bool:
    """Delete every object (and version) in the bucket, then the bucket.

    Returns False when there was no bucket to delete (which is fine), True otherwise.
    """
    for _ in range(3):
        try:
            _empty(s3, name)
            s3.delete_bucket(Bucket=name)
            return True
        except ClientError as exc:
            if is_not_found(exc):
                return False
            if error_code(exc) == "BucketNotEmpty":
                continue  # Something wrote while we emptied; empty it again.
            raise translate(exc, action="s3:DeleteBucket") from exc
        except TransientCloudError:
            raise
        except Exception as exc:
            raise translate(exc) from exc
    raise TransientCloudError(
        f"The bucket {name} keeps receiving new objects; we will try deleting it again.",
        code="BucketNotEmpty",
    )


def list_tagged_buckets(
    s3: Any, *, match: Mapping[str, str], name_prefix: str = ""
) -> list[TaggedBucket]:
    """Buckets whose tags include every (key, value) in ``match``.

    S3 cannot filter by tag, so this costs one GetBucketTagging per bucket whose name starts
    with ``name_prefix``; use a prefix ("lab-") to keep it cheap. For the cost sweep.
    """
    found: list[TaggedBucket] = []
    with translating(action="s3:ListAllMyBuckets"):
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    for name in names:
        if not name.startswith(name_prefix):
            continue
        tags = bucket_tags(s3, name=name)
        if tags and _carries(tags, match):
            found.append(TaggedBucket(name=name, tags=tags))
    return found


def bucket_tags(s3: Any, *, name: str) -> dict[str, str]:
    """The bucket's tags; {} when it has none or is gone."""
    try:
        tag_list = s3.get_bucket_tagging(Bucket=name).get("TagSet", [])
    except ClientError as exc:
        if is_not_found(exc) or error_code(exc) in {"NoSuchTagSet", "NoSuchTagSetError"}:
            return {}
        raise translate(exc, action="s3:GetBucketTagging") from exc
    except Exception as exc:
        raise translate(exc) from exc
    return {t["Key"]: t["Value"] for t in tag_list}


def _carries(tags: Mapping[str, str], match: Mapping[str, str]) -> bool:
    return all(tags.get(k) == v for k, v in match.items())
