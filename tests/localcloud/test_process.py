"""The localcloud process itself: restart keeps S3, SIGTERM ends everything it started."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import psutil

from tests.fixtures.localcloud import REPO_ROOT, ROLE_ARN, start_localcloud
from tests.localcloud.support import (
    classification_data,
    make_bucket,
    to_csv,
    training_request,
    unique,
)


def test_restart_keeps_buckets_and_objects(tmp_path):
    # given
    cloud = start_localcloud(tmp_path / "data")
    try:
        s3 = cloud.client("s3", "eu-west-1")
        bucket = make_bucket(s3, "eu-west-1")
        s3.put_object(
            Bucket=bucket,
            Key="notes/hello.txt",
            Body=b"still here",
            ContentType="text/plain",
            Metadata={"learner": "ada"},
        )
        s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"deleted before restart")
        s3.delete_object(Bucket=bucket, Key="gone.txt")
        empty = make_bucket(cloud.client("s3", "us-east-1"), "us-east-1")
        x, y = classification_data(rows=100)
        s3.put_object(Bucket=bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
        sagemaker = cloud.client("sagemaker", "eu-west-1")
        job = unique("persist")
        sagemaker.create_training_job(**training_request(job, bucket, "eu-west-1"))
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=job, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    finally:
        # when
        assert cloud.stop() == 0
    cloud.start()
    try:
        # then
        assert f"localcloud listening on {cloud.url}" in cloud.read_log()
        s3 = cloud.client("s3", "eu-west-1")
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert {bucket, empty} <= names
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
        got = s3.get_object(Bucket=bucket, Key="notes/hello.txt")
        assert got["Body"].read() == b"still here"
        assert got["ContentType"] == "text/plain"
        assert got["Metadata"] == {"learner": "ada"}
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        # What the training job wrote survives as well as what the learner uploaded.
        assert keys == [
            "notes/hello.txt",
            f"output/{job}/output/model.tar.gz",
            "train/train.csv",
        ]
    finally:
        cloud.stop()


def _saved_keys(data_dir, bucket) -> set[str]:
    """The object keys localcloud has written to disk for a bucket."""
    folders = list((data_dir / "s3").glob(f"*/{bucket}/objects"))
    return {json.loads(p.read_text())["key"] for f in folders for p in f.glob("*.json")}


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _wait_until_saved(data_dir, bucket, keys: set[str]) -> None:
    _wait_until(lambda: _saved_keys(data_dir, bucket) == keys, f"{bucket} on disk: {keys}?")


def test_restart_keeps_objects_and_buckets_deleted_and_made_again(tmp_path):
    # given: what was saved, then deleted, then made again the same
    data_dir = tmp_path / "data"
    cloud = start_localcloud(data_dir)
    try:
        s3 = cloud.client("s3", "us-east-1")
        bucket, again = make_bucket(s3, "us-east-1"), make_bucket(s3, "us-east-1")
        s3.put_object(Bucket=bucket, Key="same.txt", Body=b"same bytes")
        s3.put_object(Bucket=bucket, Key="other.txt", Body=b"other")
        s3.put_object(Bucket=again, Key="data.csv", Body=b"1,2")
        _wait_until_saved(data_dir, bucket, {"same.txt", "other.txt"})
        _wait_until_saved(data_dir, again, {"data.csv"})
        s3.delete_object(Bucket=bucket, Key="same.txt")
        s3.delete_object(Bucket=again, Key="data.csv")
        s3.delete_bucket(Bucket=again)
        _wait_until_saved(data_dir, bucket, {"other.txt"})
        _wait_until(lambda: not list((data_dir / "s3").glob(f"*/{again}")), "bucket folder gone")
        s3.put_object(Bucket=bucket, Key="same.txt", Body=b"same bytes")
        make_bucket(s3, "us-east-1", name=again)
        s3.put_object(Bucket=again, Key="data.csv", Body=b"1,2")
        _wait_until_saved(data_dir, again, {"data.csv"})
        # A file left by an earlier run (a crash between its two writes) is not an object.
        stray = next((data_dir / "s3").glob(f"*/{bucket}/objects")) / "0123abcd.data"
        stray.write_bytes(b"half written")
    finally:
        # when
        assert cloud.stop() == 0
    cloud.start()
    try:
        # then
        s3 = cloud.client("s3", "us-east-1")
        assert s3.get_object(Bucket=bucket, Key="same.txt")["Body"].read() == b"same bytes"
        assert s3.get_object(Bucket=again, Key="data.csv")["Body"].read() == b"1,2"
        listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
        assert listed == {"same.txt", "other.txt"}
        s3.put_object(Bucket=bucket, Key="after-restart.txt", Body=b"new")
        _wait_until_saved(data_dir, bucket, {"same.txt", "other.txt", "after-restart.txt"})
        _wait_until(lambda: not stray.exists(), "the stray file removed")
    finally:
        cloud.stop()


def test_sigterm_ends_every_jupyterlab_server_it_started(tmp_path):
    cloud = start_localcloud(tmp_path / "data")
    try:
        sagemaker = cloud.client("sagemaker", "us-east-1")
        name = unique("nb")
        sagemaker.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE_ARN
        )
        sagemaker.get_waiter("notebook_instance_in_service").wait(
            NotebookInstanceName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        children = psutil.Process(cloud.pid).children(recursive=True)
        assert any("jupyterlab" in " ".join(c.cmdline()) for c in children)
    finally:
        assert cloud.stop() == 0
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []


def test_env_command_prints_what_a_learners_own_jupyter_needs(tmp_path):
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "localcloud",
            "env",
            "--region",
            "eu-west-1",
            "--port",
            "4999",
            "--data-dir",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "export AWS_ENDPOINT_URL='http://127.0.0.1:4999'" in printed
    assert "export AWS_DEFAULT_REGION='eu-west-1'" in printed
    config = (tmp_path / "env" / "sagemaker-config.yaml").read_text()
    assert "TelemetryOptOut: true" in config
    assert (
        tmp_path / "env" / "ipython" / "profile_default" / "startup" / "00-localcloud.py"
    ).is_file()


def test_restart_after_a_kill_ends_the_orphaned_jupyterlab_servers(tmp_path):
    cloud = start_localcloud(tmp_path / "data")
    try:
        sagemaker = cloud.client("sagemaker", "us-east-1")
        sagemaker.create_notebook_instance(
            NotebookInstanceName=unique("nb"), InstanceType="ml.t3.medium", RoleArn=ROLE_ARN
        )
        servers = []
        deadline = time.monotonic() + 60
        while not servers and time.monotonic() < deadline:
            children = psutil.Process(cloud.pid).children(recursive=True)
            servers = [c for c in children if "jupyterlab" in " ".join(c.cmdline())]
            time.sleep(0.1)
        assert servers
        # when: localcloud dies without cleaning up, then starts again
        cloud.process.kill()
        cloud.process.wait()
        assert all(server.is_running() for server in servers)
        cloud.start()
        # then
        _gone, alive = psutil.wait_procs(servers, timeout=5)
        assert alive == []
    finally:
        cloud.stop()
