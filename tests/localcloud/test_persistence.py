"""S3 saved to the data dir, in-process: a save that fails halfway is made good by the next.

The process tests (test_process.py) cover what a restart keeps; this one needs a failure
that only the store's own files can cause.
"""

from __future__ import annotations

import shutil

from moto.s3 import models as s3_models

from localcloud.persistence import S3Store
from tests.localcloud.support import unique

ACCOUNT = "123456789012"


def _backend():
    return s3_models.s3_backends[ACCOUNT]["aws"]


def _saved_objects(root, bucket) -> set[str]:
    return {p.name for p in (root / "s3" / ACCOUNT / bucket / "objects").glob("*.data")}


def test_a_save_that_failed_halfway_is_made_good_by_the_next(tmp_path):
    # given: two buckets saved, then one deleted and an object added to the other
    s3 = _backend()
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
    try:
        assert len(_saved_objects(tmp_path, kept)) == 2
        assert not (tmp_path / "s3" / ACCOUNT / gone).exists()
        again = S3Store(tmp_path)
        s3.delete_object(kept, "first.csv")
        s3.delete_object(kept, "second.csv")
        s3.delete_bucket(kept)
        assert again.restore() >= 2
        restored_keys = set(_backend().buckets[kept].keys.keys())
        assert restored_keys == {"first.csv", "second.csv"}
        assert gone not in _backend().buckets
    finally:
        for bucket in (kept, gone):
            if bucket in _backend().buckets:
                for key in list(_backend().buckets[bucket].keys.keys()):
                    _backend().delete_object(bucket, key)
                _backend().delete_bucket(bucket)


def test_a_bucket_folder_without_its_objects_folder_is_saved_into(tmp_path):
    # given: a bucket saved, then its objects folder lost (a kill during a deletion)
    s3 = _backend()
    bucket = unique("bare")
    s3.create_bucket(bucket, "us-east-1")
    S3Store(tmp_path).sync()
    shutil.rmtree(tmp_path / "s3" / ACCOUNT / bucket / "objects")
    s3.delete_bucket(bucket)
    store = S3Store(tmp_path)
    assert store.restore() == 0
    try:
        # when
        s3.put_object(bucket, "later.csv", b"5,6\n")
        store.sync()
        # then
        assert len(_saved_objects(tmp_path, bucket)) == 1
    finally:
        s3.delete_object(bucket, "later.csv")
        s3.delete_bucket(bucket)
