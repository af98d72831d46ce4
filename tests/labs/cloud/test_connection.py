"""The client factory: explicit regions, standard retries, caching, assumed roles, no leaks."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from labs.cloud import connection as connection_module
from labs.cloud.connection import CloudConnection, client, session_name
from labs.cloud.errors import PermanentCloudError, TransientCloudError

ROLE_ARN = "arn:aws:iam::111122223333:role/LabLearner"
EXTERNAL_ID = "ext-id-Very-Secret-42"


def access_key(boto_client: Any) -> str:
    return boto_client._request_signer._credentials.access_key


@pytest.fixture
def role_connection(localcloud: Any, monkeypatch: pytest.MonkeyPatch) -> CloudConnection:
    # The server's own credentials (what boto3's default chain finds) call AssumeRole.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    connection_module.clear_caches()
    return CloudConnection(
        kind="assume_role",
        endpoint_url=localcloud.url,
        role_arn=ROLE_ARN,
        external_id=EXTERNAL_ID,
    )


def test_clients_have_explicit_region_standard_retries_and_timeouts(
    connection: CloudConnection,
) -> None:
    sm = client(connection, "sagemaker", "eu-west-1")

    config = sm.meta.config
    assert sm.meta.region_name == "eu-west-1"
    assert sm.meta.endpoint_url == connection.endpoint_url
    # botocore reads "max_attempts": 5 as five retries after the first try.
    assert config.retries == {"mode": "standard", "total_max_attempts": 6}
    assert (config.connect_timeout, config.read_timeout) == (5, 30)


def test_client_cache_returns_the_same_object(connection: CloudConnection) -> None:
    first = client(connection, "s3", "us-east-1")

    assert client(connection, "s3", "us-east-1") is first
    assert client(connection, "s3", "us-east-1", learner_tag="7", cohort_tag="c") is first
    assert client(connection, "s3", "eu-west-1") is not first
    assert client(connection, "sagemaker", "us-east-1") is not first
    other = CloudConnection(kind="localcloud", endpoint_url=connection.endpoint_url + "/")
    assert client(other, "s3", "us-east-1") is not first


def test_client_cache_is_thread_safe(connection: CloudConnection) -> None:
    results: list[Any] = []
    barrier = threading.Barrier(16)

    def fetch() -> None:
        barrier.wait()
        results.append(client(connection, "logs", "ap-south-1"))

    threads = [threading.Thread(target=fetch) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 16
    assert all(result is results[0] for result in results)


def test_localcloud_clients_work_against_the_endpoint(connection: CloudConnection) -> None:
    sts = client(connection, "sts", "us-east-1")

    assert sts.get_caller_identity()["Account"].isdigit()


def test_repr_and_str_never_show_the_external_id() -> None:
    conn = CloudConnection(kind="assume_role", role_arn=ROLE_ARN, external_id=EXTERNAL_ID)

    assert EXTERNAL_ID not in repr(conn)
    assert EXTERNAL_ID not in str(conn)
    assert ROLE_ARN in repr(conn)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "magic"},
        {"kind": "localcloud"},
        {"kind": "assume_role"},
    ],
)
def test_incomplete_connections_are_refused(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        CloudConnection(**kwargs)


def test_a_region_is_required(connection: CloudConnection) -> None:
    with pytest.raises(PermanentCloudError):
        client(connection, "s3", "")


def test_assumed_role_session_names_the_learner(role_connection: CloudConnection) -> None:
    sts = client(role_connection, "sts", "us-east-1", learner_tag="alice", cohort_tag="spring")

    identity = sts.get_caller_identity()

    assert identity["Account"] == "111122223333"
    assert identity["Arn"] == "arn:aws:sts::111122223333:assumed-role/LabLearner/portal-alice"


def test_assumed_role_credentials_are_shared_per_learner(
    role_connection: CloudConnection,
) -> None:
    alice_s3 = client(role_connection, "s3", "us-east-1", learner_tag="alice")
    alice_sm = client(role_connection, "sagemaker", "eu-west-1", learner_tag="alice")
    bob_s3 = client(role_connection, "s3", "us-east-1", learner_tag="bob")

    assert client(role_connection, "s3", "us-east-1", learner_tag="alice") is alice_s3
    assert bob_s3 is not alice_s3
    assert access_key(alice_s3) == access_key(alice_sm)
    assert access_key(alice_s3) != access_key(bob_s3)
    assert access_key(alice_s3).startswith("ASIA")


def test_assumed_role_is_fetched_once_under_concurrency(
    role_connection: CloudConnection,
) -> None:
    keys: list[str] = []
    barrier = threading.Barrier(12)

    def fetch(service: str) -> None:
        barrier.wait()
        keys.append(access_key(client(role_connection, service, "us-east-1", learner_tag="carol")))

    threads = [
        threading.Thread(target=fetch, args=(["s3", "sagemaker", "logs"][i % 3],))
        for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 12
    assert len(set(keys)) == 1


def test_credentials_are_renewed_when_close_to_expiry(
    role_connection: CloudConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client(role_connection, "s3", "us-east-1", learner_tag="dave")
    # given: a margin as long as the session, so every credential counts as about to expire
    monkeypatch.setattr(connection_module, "CREDENTIAL_MARGIN", timedelta(seconds=900))

    second = client(role_connection, "s3", "us-east-1", learner_tag="dave")

    assert second is not first
    assert access_key(second) != access_key(first)
    assert second.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_credentials_appear_in_no_repr(role_connection: CloudConnection) -> None:
    s3 = client(role_connection, "s3", "us-east-1", learner_tag="erin")
    credentials = s3._request_signer._credentials
    cached = list(connection_module._credentials.values())

    for text in (repr(role_connection), str(role_connection), repr(cached)):
        assert credentials.access_key not in text
        assert credentials.secret_key not in text
        assert credentials.token not in text
        assert EXTERNAL_ID not in text


def test_session_names_are_valid_for_sts() -> None:
    for tag in ["", "7", "alice smith/ünïcode", "x" * 200]:
        name = session_name(tag)
        assert 2 <= len(name) <= 64
        assert all(ch.isalnum() or ch in "_+=,.@-" for ch in name)


def test_assume_role_without_server_credentials_is_a_permanent_error(
    localcloud: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    connection_module.clear_caches()
    conn = CloudConnection(kind="assume_role", endpoint_url=localcloud.url, role_arn=ROLE_ARN)

    with pytest.raises((PermanentCloudError, TransientCloudError)) as caught:
        client(conn, "s3", "us-east-1", learner_tag="frank")

    assert caught.value.code == "NoCredentials"


def test_endpoints_come_only_from_the_connection(
    connection: CloudConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    connection_module.clear_caches()

    aws = client(CloudConnection(kind="default_chain"), "sagemaker", "eu-west-1")
    local = client(connection, "sagemaker", "eu-west-1")

    assert aws.meta.endpoint_url == "https://api.sagemaker.eu-west-1.amazonaws.com"
    assert local.meta.endpoint_url == connection.endpoint_url
