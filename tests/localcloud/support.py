"""Small data sets and request builders shared by the localcloud tests."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from typing import Any

import numpy as np

from tests.fixtures.localcloud import ROLE_ARN

# boto3 waiters polling every second (their default is up to 60 s between looks).
FAST_WAIT = {"Delay": 1, "MaxAttempts": 120}

# What sagemaker.image_uris.retrieve("xgboost", region, "1.7-1") returns.
XGBOOST_IMAGES = {
    "us-east-1": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "eu-west-1": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "us-west-2": "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def classification_data(rows: int = 300, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    # Multiples of 1/256 are written exactly to CSV and read back exactly as float32, so
    # predictions from the file and from the array agree bit for bit.
    x = rng.integers(0, 256, size=(rows, features)) / 256
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.75).astype(float)
    return x, y


def to_csv(values: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, values, delimiter=",", fmt="%.8f")
    return buffer.getvalue().encode()


def make_bucket(s3: Any, region: str, name: str | None = None) -> str:
    bucket = name or unique("lab")
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    return bucket


def training_request(
    name: str,
    bucket: str,
    region: str,
    hyperparameters: dict[str, str] | None = None,
    instance_type: str = "ml.m5.large",
    max_runtime: int = 600,
    train_prefix: str = "train/",
    image: str | None = None,
) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image or XGBOOST_IMAGES[region],
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE_ARN,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/{train_prefix}",
                    }
                },
                "ContentType": "text/csv",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "HyperParameters": hyperparameters
        or {"objective": "binary:logistic", "num_round": "10", "max_depth": "3"},
    }


def wait_for(describe, done, timeout: float = 60.0, interval: float = 0.05):
    """Poll describe() until done(result); return the result."""
    deadline = time.monotonic() + timeout
    while True:
        result = describe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last answer: {result}")
        time.sleep(interval)


def model_from_archive(archive: bytes):
    import xgboost as xgb

    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.getnames() == ["xgboost-model"]
        raw = tar.extractfile("xgboost-model").read()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster
