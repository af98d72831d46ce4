"""S3 through a real localcloud: create/adopt, regions, the data set upload, clean-up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from labs.cloud.connection import CloudConnection, client
from labs.cloud.errors import PermanentCloudError
from labs.cloud.naming import proposed_bucket_name
from labs.cloud.storage import (
    bucket_create,
    bucket_describe,
    bucket_empty_and_delete,
    bucket_region,
    bucket_tags,
    dataset_upload,
    list_tagged_buckets,
    object_keys,
    object_text,
    split_s3_uri,
)
from labs.dataset import dataset_files


@contextmanager
def counting(boto_client: Any, event: str) -> Iterator[list[str]]:
    """Records the operations the client calls inside the block: those of one operation
    ("before-call.s3.PutObject"), or of a whole service ("before-call.s3")."""
    calls: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    boto_client.meta.events.register(event, record)
    try:
        yield calls
    finally:
        boto_client.meta.events.unregister(event, record)


def name_for(unique: str, region: str = "us-east-1") -> str:
    return proposed_bucket_name(
        cohort_slug="test", username=f"learner-{unique}", user_id=1, region=region
    )


def test_create_then_describe_in_us_east_1(s3: Any, unique: str) -> None:
    name = name_for(unique)

    created = bucket_create(s3, name=name, region="us-east-1", tags={"learner": "1"})
    described = bucket_describe(s3, name=name)

    assert (created.name, created.region, created.exists) == (name, "us-east-1", True)
    assert (described.exists, described.region, described.object_count) == (True, "us-east-1", 0)


def test_creating_twice_adopts_the_bucket(connection: CloudConnection, unique: str) -> None:
    s3 = client(connection, "s3", "eu-west-1")
    name = name_for(unique, "eu-west-1")
    bucket_create(s3, name=name, region="eu-west-1")

    again = bucket_create(s3, name=name, region="eu-west-1", tags={"lab": "L1"})

    assert (again.name, again.region, again.exists) == (name, "eu-west-1", True)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names.count(name) == 1
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "lab", "Value": "L1"}]


def test_a_second_try_adopts_its_own_tagged_bucket_even_with_the_data_in(
    connection: CloudConnection, unique: str
) -> None:
    s3 = client(connection, "s3", "eu-west-1")
    name = name_for(unique, "eu-west-1")
    mine = {"portal:learner": "7", "portal:cohort": "c"}
    bucket_create(s3, name=name, region="eu-west-1", tags=mine)
    s3.put_object(Bucket=name, Key="data/train.csv", Body=b"1,2\n")

    again = bucket_create(s3, name=name, region="eu-west-1", tags=mine)

    assert (again.name, again.exists) == (name, True)


@pytest.mark.parametrize(
    "tags",
    [{"portal:learner": "8", "portal:cohort": "c"}, None],
    ids=["other learner", "untagged"],
)
def test_a_bucket_of_the_account_that_is_not_yours_is_never_adopted(
    connection: CloudConnection, unique: str, tags
) -> None:
    # Such as the SDK's default bucket, or another learner's, typed as a "new" bucket name.
    s3 = client(connection, "s3", "eu-west-1")
    name = name_for(unique, "eu-west-1")
    bucket_create(s3, name=name, region="eu-west-1", tags=tags)
    s3.put_object(Bucket=name, Key="someone/model.tar.gz", Body=b"theirs")

    with pytest.raises(PermanentCloudError) as caught:
        bucket_create(s3, name=name, region="eu-west-1", tags={"portal:learner": "7"})

    assert caught.value.code == "BucketNotYours"
    assert "not one the portal made for you" in caught.value.message
    assert s3.get_object(Bucket=name, Key="someone/model.tar.gz")["Body"].read() == b"theirs"
    assert bucket_tags(s3, name=name) == (tags or {})


def test_a_bucket_made_in_eu_west_1_reports_eu_west_1(
    connection: CloudConnection, s3: Any, unique: str
) -> None:
    eu = client(connection, "s3", "eu-west-1")
    name = name_for(unique, "eu-west-1")

    bucket_create(eu, name=name)

    # Seen from a us-east-1 client too: the region is the bucket's, not the caller's.
    assert bucket_describe(s3, name=name).region == "eu-west-1"
    assert bucket_region(eu, name=name) == "eu-west-1"


def test_adopting_a_bucket_of_the_account_in_another_region_is_refused(
    connection: CloudConnection, unique: str
) -> None:
    name = f"lab-region-clash-{unique}"
    bucket_create(client(connection, "s3", "eu-west-1"), name=name)

    with pytest.raises(PermanentCloudError) as caught:
        bucket_create(client(connection, "s3", "eu-central-1"), name=name)

    assert caught.value.code == "BucketInOtherRegion"
    # The account may be a whole cohort's: the message names neither owner nor region.
    assert "already exists in this cloud account" in caught.value.message
    assert "eu-west-1" not in caught.value.message


def test_a_name_taken_by_another_account_is_a_permanent_error(
    localcloud: Any, s3: Any, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"lab-taken-{unique}"
    bucket_create(s3, name=name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    other_account = CloudConnection(
        kind="assume_role",
        endpoint_url=localcloud.url,
        role_arn="arn:aws:iam::210987654321:role/Other",
    )

    with pytest.raises(PermanentCloudError) as caught:
        bucket_create(client(other_account, "s3", "us-east-1", learner_tag="x"), name=name)

    assert caught.value.code == "BucketAlreadyExists"
    assert "already taken by another AWS account" in caught.value.message


@pytest.mark.parametrize("bad", ["Bad_Name", "my..bucket", "192.168.1.1", "xn--abc"])
def test_invalid_names_are_refused_before_calling_the_cloud(s3: Any, bad: str) -> None:
    with (
        counting(s3, "before-call.s3.CreateBucket") as calls,
        pytest.raises(PermanentCloudError) as caught,
    ):
        bucket_create(s3, name=bad)

    assert calls == []
    assert caught.value.code == "InvalidBucketName"
    assert caught.value.message.startswith("A bucket name")


def test_describe_of_a_missing_bucket_is_a_value(s3: Any, unique: str) -> None:
    bucket = bucket_describe(s3, name=f"lab-missing-{unique}")

    assert bucket.exists is False
    assert bucket.object_count == 0


def test_dataset_upload_puts_the_files_once(s3: Any, unique: str) -> None:
    name = name_for(unique)
    bucket_create(s3, name=name)

    with counting(s3, "before-call.s3") as first:
        uris = dataset_upload(s3, bucket=name)
    with counting(s3, "before-call.s3") as second:
        again = dataset_upload(s3, bucket=name)

    assert (
        uris
        == again
        == {
            "train": f"s3://{name}/data/train.csv",
            "validation": f"s3://{name}/data/validation.csv",
            "test": f"s3://{name}/data/test.csv",
            "test-features": f"s3://{name}/data/test-features.csv",
        }
    )
    # One listing tells what is there already; then only what is missing is sent.
    assert first == ["ListObjectsV2"] + ["PutObject"] * 4
    assert second == ["ListObjectsV2"]
    described = bucket_describe(s3, name=name, prefix="data/")
    assert described.object_count == 4
    assert set(described.keys) == {split_s3_uri(uri)[1] for uri in uris.values()}
    assert object_text(s3, bucket=name, key="data/train.csv") == (
        dataset_files()["train"].read_text()
    )


def test_dataset_upload_replaces_a_changed_file(s3: Any, unique: str) -> None:
    name = name_for(unique)
    bucket_create(s3, name=name)
    dataset_upload(s3, bucket=name)
    s3.put_object(Bucket=name, Key="data/train.csv", Body=b"tampered\n")

    with counting(s3, "before-call.s3.PutObject") as calls:
        dataset_upload(s3, bucket=name)

    assert len(calls) == 1
    assert object_text(s3, bucket=name, key="data/train.csv") == (
        dataset_files()["train"].read_text()
    )


def test_upload_to_a_missing_bucket_says_create_it_first(s3: Any, unique: str) -> None:
    with pytest.raises(PermanentCloudError, match="create it first"):
        dataset_upload(s3, bucket=f"lab-missing-{unique}")


def test_object_text_of_missing_things_is_none(s3: Any, unique: str) -> None:
    name = name_for(unique)
    bucket_create(s3, name=name)
    s3.put_object(Bucket=name, Key="empty.txt", Body=b"")

    assert object_text(s3, bucket=name, key="nope.csv") is None
    assert object_text(s3, bucket=f"lab-missing-{unique}", key="x") is None
    assert object_text(s3, bucket=name, key="empty.txt") == ""


def test_empty_and_delete_removes_objects_versions_and_the_bucket(s3: Any, unique: str) -> None:
    name = name_for(unique)
    bucket_create(s3, name=name)
    dataset_upload(s3, bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="notes.txt", Body=b"v1")
    s3.put_object(Bucket=name, Key="notes.txt", Body=b"v2")
    s3.delete_object(Bucket=name, Key="notes.txt")

    assert bucket_empty_and_delete(s3, name=name) is True

    assert bucket_describe(s3, name=name).exists is False
    assert bucket_empty_and_delete(s3, name=name) is False
    assert object_keys(s3, bucket=name) == []


def test_tagged_buckets_are_found_by_their_tags(s3: Any, unique: str) -> None:
    mine = f"lab-tags-{unique}-a"
    other = f"lab-tags-{unique}-b"
    bucket_create(s3, name=mine, tags={"cohort": f"c-{unique}", "learner": "7", "lab": "L1"})
    bucket_create(s3, name=other, tags={"cohort": "another", "learner": "7"})

    found = list_tagged_buckets(s3, match={"cohort": f"c-{unique}"}, name_prefix="lab-tags-")

    assert [b.name for b in found] == [mine]
    assert found[0].tags["lab"] == "L1"
