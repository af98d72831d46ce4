"""The sagemaker v2 SDK's standard flow, unmodified: Estimator.fit, then a batch transform."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from localcloud import notebook_env
from tests.fixtures.localcloud import ROLE_ARN
from tests.localcloud.support import (
    classification_data,
    make_bucket,
    model_from_archive,
    to_csv,
)


@pytest.mark.slow
@pytest.mark.parametrize(("region", "logs"), [("us-east-1", False), ("eu-west-1", "All")])
def test_estimator_fit_then_transformer_in_region(
    localcloud, region, logs, monkeypatch, tmp_path, capsys
):
    # given: the SDK pointed at localcloud the way the notebook helper points it
    for name, value in localcloud.environment(region).items():
        monkeypatch.setenv(name, value)
    for name, value in notebook_env.write_files(tmp_path).items():
        monkeypatch.setenv(name, value)
    import boto3
    import sagemaker
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    s3 = localcloud.client("s3", region)
    bucket = make_bucket(s3, region)
    x, y = classification_data(rows=400)
    s3.put_object(Bucket=bucket, Key="data/train/train.csv", Body=to_csv(np.column_stack([y, x])))
    s3.put_object(Bucket=bucket, Key="data/batch/batch.csv", Body=to_csv(x[:40]))
    session = sagemaker.Session(boto_session=boto3.Session(region_name=region))
    image = sagemaker.image_uris.retrieve("xgboost", region, "1.7-1")

    # when
    estimator = Estimator(
        image_uri=image,
        role=ROLE_ARN,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/output",
        sagemaker_session=session,
        hyperparameters={"objective": "binary:logistic", "num_round": 15, "max_depth": 3},
    )
    estimator.fit(
        {"train": TrainingInput(f"s3://{bucket}/data/train", content_type="text/csv")},
        logs=logs,
    )
    transformer = estimator.transformer(
        instance_count=1, instance_type="ml.m5.large", output_path=f"s3://{bucket}/predictions"
    )
    transformer.transform(
        f"s3://{bucket}/data/batch", content_type="text/csv", split_type="Line", logs=False
    )

    # then
    if logs:
        # The SDK streamed the job's CloudWatch log, per-round metrics included.
        assert "[14]#011train-logloss:" in capsys.readouterr().out
    job = estimator.latest_training_job.describe()
    assert job["TrainingJobStatus"] == "Completed"
    artifact = estimator.model_data
    assert artifact.startswith(f"s3://{bucket}/output/{job['TrainingJobName']}/output/")
    archive = s3.get_object(Bucket=bucket, Key=artifact.split("/", 3)[3])["Body"].read()
    booster = model_from_archive(archive)
    expected = booster.predict(xgb.DMatrix(x[:40]))
    written = s3.get_object(Bucket=bucket, Key="predictions/batch.csv.out")["Body"].read()
    np.testing.assert_allclose([float(v) for v in written.split()], expected, rtol=1e-6)
    assert ((expected > 0.5) == y[:40].astype(bool)).mean() > 0.9
