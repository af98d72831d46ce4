"""S3 saved to the data dir, in-process: a save that fails halfway is made good by the next.

The process tests (test_process.py) cover what a restart keeps; these need failures that
only the store's own files can cause.
"""

from __future__ import annotations

import shutil

import pytest
from moto.s3 import models as s3_models

from localcloud.persistence import S3Store
from tests.localcloud.support import unique

ACCOUNT = "123456789012"


@pytest.fixture
def s3():
    """This process's moto S3, empty for the test and given back after: other tests leave
    buckets in it, and a store saves (and restores) every bucket moto holds."""
    backends = [per_account["aws"] for _, per_account in list(s3_models.s3_backends.items())]
    held = [backend.buckets for backend in backends]
    held_names = s3_models.s3_backends.bucket_accounts
    for backend in backends:
        backend.buckets = {}
    s3_models.s3_backends.bucket_accounts = {}
    try:
        yield s3_models.s3_backends[ACCOUNT]["aws"]
    finally:
        for backend, buckets in zip(backends, held, strict=True):
            backend.buckets = buckets
        s3_models.s3_backends.bucket_accounts = held_names


def _saved_objects(root, bucket) -> set[str]:
    return {p.name for p in (root / "s3" / ACCOUNT / bucket / "objects").glob("*.data")}


def test_a_save_that_failed_halfway_is_made_good_by_the_next(tmp_path, s3):
    # given: two buckets saved, then one deleted and an object added to the other
    kept, gone = unique("kept"), unique("gone")
    for bucket in (kept, gone):
        s3.create_bucket(bucket, "us-east-1")
        s3.put_object(bucket, "first.csv", b"1,2\n")
    store = S3Store(tmp_path)
    store.sync()
    s3.delete_object(gone, "first.csv")
    s3.delete_bucket(gone)
    s3.put_object(kept, "second.csv", b"3,4\n")
    # when: the save fails (a file stands where the folder was), then works again
    objects_dir = tmp_path / "s3" / ACCOUNT / kept / "objects"
    shutil.rmtree(objects_dir)
    objects_dir.write_bytes(b"not a folder")
    store.sync()
    objects_dir.unlink()
    store.sync()
    # then: both of the kept bucket's objects are saved, and the deleted bucket is gone
    assert len(_saved_objects(tmp_path, kept)) == 2
    assert not (tmp_path / "s3" / ACCOUNT / gone).exists()
    # and a restart brings back exactly that
    for key in ("first.csv", "second.csv"):
        s3.delete_object(kept, key)
    s3.delete_bucket(kept)
    assert S3Store(tmp_path).restore() == 2
    assert set(s3.buckets) == {kept}
    assert set(s3.buckets[kept].keys.keys()) == {"first.csv", "second.csv"}


def test_a_bucket_folder_without_its_objects_folder_is_saved_into(tmp_path, s3):
    # given: a bucket saved, then its objects folder lost (a kill during a deletion)
    bucket = unique("bare")
    s3.create_bucket(bucket, "us-east-1")
    S3Store(tmp_path).sync()
    shutil.rmtree(tmp_path / "s3" / ACCOUNT / bucket / "objects")
    s3.delete_bucket(bucket)
    store = S3Store(tmp_path)
    assert store.restore() == 0
    # when
    s3.put_object(bucket, "later.csv", b"5,6\n")
    store.sync()
    # then
    assert len(_saved_objects(tmp_path, bucket)) == 1
