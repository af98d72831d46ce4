"""localcloud overhead and footprint, side by side with plain xgboost.

    .venv/bin/python bench/localcloud.py [--rows 100000] [--features 20] [--rounds 100]

Starts its own localcloud (delay scale 0, so only real work and localcloud's own overhead
are timed), then prints:
- training: a job's CreationTime → TrainingEndTime (and, for reference, what a client
  polling DescribeTrainingJob ten times a second sees), against xgboost.train on the same CSV bytes
  (parsed with pandas, train metric evaluated each round as the built-in algorithm does);
- batch transform: CreationTime → TransformEndTime, against parse + predict + format;
- seconds from CreateNotebookInstance to a JupyterLab that answers its presigned URL;
- resident memory: localcloud idle, and per running notebook (server process tree);
- S3 writes with --stored objects already kept: localcloud's CPU per PutObject, its
  share of saving S3 to the data dir included (the save follows every change).
Each timing is the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# The same OpenMP wait policy as `python -m localcloud` sets, so both columns run XGBoost
# alike; with OpenMP's default spinning a busy 2-CPU machine slows direct runs many-fold.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
import xgboost as xgb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from tests.fixtures.localcloud import ROLE_ARN, LocalCloudProcess, free_port  # noqa: E402

REGION = "us-east-1"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
POLL = 0.1


def _csv(values: np.ndarray) -> bytes:
    return pd.DataFrame(values).to_csv(header=False, index=False, float_format="%.6f").encode()


def _rss_tree(pid: int) -> int:
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total


def _wait(describe, key: str, done: set[str]) -> dict:
    while True:
        answer = describe()
        if answer[key] in done:
            return answer
        time.sleep(POLL)


def direct_training(train_csv: bytes, params: dict, rounds: int) -> tuple[float, float]:
    """(seconds with CSV parsing, seconds of xgboost.train alone)."""
    start = time.perf_counter()
    values = pd.read_csv(io.BytesIO(train_csv), header=None, dtype=np.float32).to_numpy()
    dtrain = xgb.DMatrix(values[:, 1:], label=values[:, 0])
    train_start = time.perf_counter()
    booster = xgb.train(params, dtrain, rounds, evals=[(dtrain, "train")], verbose_eval=False)
    booster.save_raw("ubj")
    end = time.perf_counter()
    return end - start, end - train_start


def direct_transform(booster: xgb.Booster, batch_csv: bytes) -> float:
    start = time.perf_counter()
    values = pd.read_csv(io.BytesIO(batch_csv), header=None, dtype=np.float32).to_numpy()
    predictions = booster.predict(xgb.DMatrix(values))
    ("\n".join(map(repr, predictions.astype(float).tolist())) + "\n").encode()
    return time.perf_counter() - start


def s3_write_cpu(cloud: LocalCloudProcess, stored: int, writes: int = 20) -> float:
    """localcloud CPU ms per PutObject with ``stored`` objects kept, less its idle CPU.
    The writes are spaced beyond the save interval, so each is followed by a save."""
    s3 = cloud.client("s3", REGION)
    buckets = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(max(1, stored // 4))]
    for n in range(stored):
        if n % 4 == 0:
            s3.create_bucket(Bucket=buckets[n // 4])
        s3.put_object(Bucket=buckets[n // 4], Key=f"data/{n}.csv", Body=b"1,2,3\n" * 500)
    process = psutil.Process(cloud.pid)

    def cpu() -> float:
        times = process.cpu_times()
        return times.user + times.system

    spacing = 0.7
    time.sleep(2)
    before = cpu()
    time.sleep(spacing * writes / 2)
    idle_per_second = (cpu() - before) / (spacing * writes / 2)
    before, began = cpu(), time.monotonic()
    for n in range(writes):
        s3.put_object(Bucket=buckets[n % len(buckets)], Key=f"new/{n}.csv", Body=b"4,5,6\n")
        time.sleep(spacing)
    used = cpu() - before - idle_per_second * (time.monotonic() - began)
    return used * 1000 / writes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--notebooks", type=int, default=2)
    parser.add_argument("--instance-type", default="ml.m5.xlarge")
    parser.add_argument("--stored", type=int, default=1000, help="S3 objects kept")
    args = parser.parse_args()

    load = psutil.getloadavg()
    rng = np.random.default_rng(0)
    x = rng.random((args.rows, args.features), dtype=np.float32)
    y = x @ rng.random(args.features, dtype=np.float32) + rng.normal(0, 0.1, args.rows)
    train_csv = _csv(np.column_stack([y, x]))
    batch_csv = _csv(x)
    params = {"objective": "reg:squarederror", "max_depth": 6, "eta": 0.3, "tree_method": "hist"}
    hyper = {
        "objective": "reg:squarederror",
        "max_depth": "6",
        "eta": "0.3",
        "num_round": str(args.rounds),
    }

    with tempfile.TemporaryDirectory() as tmp:
        cloud = LocalCloudProcess(data_dir=Path(tmp) / "data", port=free_port(), delay_scale="0")
        cloud.start()
        try:
            s3 = cloud.client("s3", REGION)
            sagemaker = cloud.client("sagemaker", REGION)
            s3.list_buckets()
            sagemaker.list_training_jobs()
            time.sleep(1)
            idle_rss = psutil.Process(cloud.pid).memory_info().rss

            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="train/train.csv", Body=train_csv)
            s3.put_object(Bucket=bucket, Key="batch/batch.csv", Body=batch_csv)

            direct_train, direct_train_only, cloud_train, client_train = [], [], [], []
            artifact = ""
            for _ in range(args.repeat):
                with_parse, train_only = direct_training(train_csv, params, args.rounds)
                direct_train.append(with_parse)
                direct_train_only.append(train_only)
                name = f"bench-{uuid.uuid4().hex[:8]}"
                start = time.perf_counter()
                sagemaker.create_training_job(
                    TrainingJobName=name,
                    AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                    RoleArn=ROLE_ARN,
                    InputDataConfig=[
                        {
                            "ChannelName": "train",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": f"s3://{bucket}/train/",
                                }
                            },
                            "ContentType": "text/csv",
                        }
                    ],
                    OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
                    ResourceConfig={
                        "InstanceType": args.instance_type,
                        "InstanceCount": 1,
                        "VolumeSizeInGB": 5,
                    },
                    StoppingCondition={"MaxRuntimeInSeconds": 3600},
                    HyperParameters=hyper,
                )
                job = _wait(
                    lambda n=name: sagemaker.describe_training_job(TrainingJobName=n),
                    "TrainingJobStatus",
                    {"Completed", "Failed", "Stopped"},
                )
                client_train.append(time.perf_counter() - start)
                assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
                cloud_train.append((job["TrainingEndTime"] - job["CreationTime"]).total_seconds())
                artifact = job["ModelArtifacts"]["S3ModelArtifacts"]

            model = f"bench-{uuid.uuid4().hex[:8]}"
            sagemaker.create_model(
                ModelName=model,
                ExecutionRoleArn=ROLE_ARN,
                PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact},
            )
            booster = xgb.train(params, xgb.DMatrix(x, label=y), args.rounds)
            direct_batch, cloud_batch, client_batch = [], [], []
            for _ in range(args.repeat):
                direct_batch.append(direct_transform(booster, batch_csv))
                name = f"bench-{uuid.uuid4().hex[:8]}"
                start = time.perf_counter()
                sagemaker.create_transform_job(
                    TransformJobName=name,
                    ModelName=model,
                    TransformInput={
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": f"s3://{bucket}/batch/",
                            }
                        },
                        "ContentType": "text/csv",
                        "SplitType": "Line",
                    },
                    TransformOutput={"S3OutputPath": f"s3://{bucket}/out-{name}/"},
                    TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
                )
                job = _wait(
                    lambda n=name: sagemaker.describe_transform_job(TransformJobName=n),
                    "TransformJobStatus",
                    {"Completed", "Failed", "Stopped"},
                )
                client_batch.append(time.perf_counter() - start)
                assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
                cloud_batch.append((job["TransformEndTime"] - job["CreationTime"]).total_seconds())

            before_notebooks = _rss_tree(cloud.pid)
            notebook_seconds = []
            for _ in range(args.notebooks):
                name = f"bench-{uuid.uuid4().hex[:8]}"
                start = time.perf_counter()
                sagemaker.create_notebook_instance(
                    NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE_ARN
                )
                _wait(
                    lambda n=name: sagemaker.describe_notebook_instance(NotebookInstanceName=n),
                    "NotebookInstanceStatus",
                    {"InService", "Failed"},
                )
                url = sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName=name)[
                    "AuthorizedUrl"
                ]
                assert requests.get(url, timeout=30).status_code == 200
                notebook_seconds.append(time.perf_counter() - start)
            time.sleep(1)
            per_notebook = (_rss_tree(cloud.pid) - before_notebooks) / args.notebooks
            busy_rss = psutil.Process(cloud.pid).memory_info().rss
            put_cpu_ms = s3_write_cpu(cloud, args.stored)
        finally:
            cloud.stop()

    mib = 1024 * 1024
    train_direct = statistics.median(direct_train)
    train_cloud = statistics.median(cloud_train)
    batch_direct = statistics.median(direct_batch)
    batch_cloud = statistics.median(cloud_batch)
    print(
        f"load average before/after: {load[0]:.2f}/{psutil.getloadavg()[0]:.2f} "
        "(other processes share these CPUs)"
    )
    print("localcloud columns: CreationTime to TrainingEndTime / TransformEndTime of each job")
    print(
        f"data: {args.rows} rows x {args.features} features, {args.rounds} rounds, "
        f"median of {args.repeat}; {psutil.cpu_count()} CPUs; localcloud delay scale 0"
    )
    print(f"{'':34}{'direct':>10}{'localcloud':>12}{'ratio':>8}{'target':>8}")
    print(
        f"{'training (s)':34}{train_direct:>10.2f}{train_cloud:>12.2f}"
        f"{train_cloud / train_direct:>8.2f}{'<=1.2':>8}"
    )
    print(
        f"{'  of which xgboost.train alone (s)':34}{statistics.median(direct_train_only):>10.2f}"
    )
    seen = statistics.median(client_train)
    print(f"{'  seen by a client polling 10/s (s)':34}{'':>10}{seen:>12.2f}")
    print(
        f"{'batch transform (s)':34}{batch_direct:>10.2f}{batch_cloud:>12.2f}"
        f"{batch_cloud / batch_direct:>8.2f}{'<=1.2':>8}"
    )
    seen = statistics.median(client_batch)
    print(f"{'  seen by a client polling 10/s (s)':34}{'':>10}{seen:>12.2f}")
    print(
        f"{'notebook create -> answers (s)':34}{'':>10}"
        f"{statistics.median(notebook_seconds):>12.2f}{'':>8}{'<=6':>8}"
    )
    print(f"{'localcloud idle RSS (MiB)':34}{'':>10}{idle_rss / mib:>12.0f}{'':>8}{'<200':>8}")
    print(
        f"{'RSS per running notebook (MiB)':34}{'':>10}{per_notebook / mib:>12.0f}{'':>8}"
        f"{'<150':>8}"
    )
    print(f"{'localcloud RSS after the jobs (MiB)':34}{'':>10}{busy_rss / mib:>12.0f}")
    print(f"{f'CPU per S3 put, {args.stored} kept (ms)':34}{'':>10}{put_cpu_ms:>12.1f}")


if __name__ == "__main__":
    main()
