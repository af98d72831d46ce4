"""S3 as the compute agent sees it: s3:// URLs over the objects moto stores."""

from __future__ import annotations

from localcloud import moto_patches


class StorageError(Exception):
    """A missing bucket or object, with a sentence that names it."""


def split_url(url: str) -> tuple[str, str]:
    """('bucket', 'key/prefix') of an s3:// URL."""
    if not url.startswith("s3://"):
        raise StorageError(f"'{url}' is not an s3:// URL.")
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def join_url(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *(part.strip("/") for part in parts)])


def list_objects(account: str, url: str) -> list[tuple[str, int]]:
    """(key, size) of every object under the URL's prefix (folders left out)."""
    bucket, prefix = split_url(url)
    if moto_patches.s3_bucket_region(account, bucket) is None:
        raise StorageError(f"Bucket {bucket} does not exist.")
    return [
        (k, size)
        for k, size in moto_patches.s3_list_keys(account, bucket, prefix)
        if not k.endswith("/")
    ]


def read(account: str, bucket: str, key: str) -> bytes:
    return moto_patches.s3_read(account, bucket, key)


def write(account: str, url: str, data: bytes, content_type: str) -> None:
    bucket, key = split_url(url)
    if moto_patches.s3_bucket_region(account, bucket) is None:
        raise StorageError(f"Output bucket {bucket} does not exist.")
    moto_patches.s3_write(account, bucket, key, data, content_type)


def check_region(account: str, url: str, region: str, what: str) -> None:
    """SageMaker reads and writes S3 only in the job's own region, as on AWS."""
    bucket, _ = split_url(url)
    bucket_region = moto_patches.s3_bucket_region(account, bucket)
    if bucket_region is None:
        raise StorageError(f"{what} bucket {bucket} does not exist.")
    if bucket_region != region:
        raise StorageError(
            f"{what} bucket {bucket} is in {bucket_region}, but the job runs in {region}; "
            f"SageMaker uses S3 buckets of the job's own region only."
        )
