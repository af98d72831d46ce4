"""Jobs beyond the machine's compute slots wait in Starting, as on AWS while capacity is
found, and can be stopped while they wait."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.fixtures.localcloud import start_localcloud
from tests.localcloud.support import (
    FAST_WAIT,
    classification_data,
    make_bucket,
    to_csv,
    training_request,
    unique,
    wait_for,
)

REGION = "us-east-1"


@pytest.fixture(scope="module")
def one_slot_cloud(tmp_path_factory):
    cloud = start_localcloud(
        tmp_path_factory.mktemp("one-slot") / "data", options=["--compute-slots", "1"]
    )
    yield cloud
    cloud.stop()


def _status(sagemaker, name):
    job = sagemaker.describe_training_job(TrainingJobName=name)
    return job["TrainingJobStatus"], job["SecondaryStatus"]


def test_a_job_waits_in_starting_while_the_only_slot_trains(one_slot_cloud):
    s3 = one_slot_cloud.client("s3", REGION)
    sagemaker = one_slot_cloud.client("sagemaker", REGION)
    bucket = make_bucket(s3, REGION)
    x, y = classification_data(rows=2000)
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=to_csv(np.column_stack([y, x])))
    long_job, waiting, next_job = unique("long"), unique("waiting"), unique("next")
    sagemaker.create_training_job(
        **training_request(long_job, bucket, REGION, {"num_round": "100000", "max_depth": "8"})
    )
    wait_for(lambda: _status(sagemaker, long_job), lambda s: s[1] == "Training")

    sagemaker.create_training_job(**training_request(waiting, bucket, REGION))
    sagemaker.create_training_job(**training_request(next_job, bucket, REGION))
    time.sleep(1.0)  # Far past the Starting delay at the tests' delay scale.
    assert _status(sagemaker, waiting) == ("InProgress", "Starting")
    assert _status(sagemaker, next_job) == ("InProgress", "Starting")

    # A waiting job can be stopped: it never trains.
    sagemaker.stop_training_job(TrainingJobName=waiting)
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=waiting, WaiterConfig=FAST_WAIT
    )
    job = sagemaker.describe_training_job(TrainingJobName=waiting)
    assert job["TrainingJobStatus"] == "Stopped"
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert "Training" not in statuses and statuses[-1] == "Stopped"

    # The slot frees when the long job ends, and the next one trains to the end.
    sagemaker.stop_training_job(TrainingJobName=long_job)
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=next_job, WaiterConfig=FAST_WAIT
    )
    assert _status(sagemaker, next_job) == ("Completed", "Completed")
    assert _status(sagemaker, long_job) == ("Stopped", "Stopped")
