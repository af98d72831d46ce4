"""A batch transform job: predict every object under the input prefix into `<key>.out`."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Any

import numpy as np

from localcloud import moto_patches, storage
from localcloud import xgboost_algorithm as algo
from localcloud.capacity import Capacity
from localcloud.config import Settings
from localcloud.joblog import JobLog

logger = logging.getLogger("localcloud.transform")

LOG_GROUP = "/aws/sagemaker/TransformJobs"


class _Stopped(Exception):
    pass


def _format_predictions(predictions: np.ndarray) -> bytes:
    """One line per record, as the algorithm's CSV output: values, comma separated."""
    if predictions.ndim == 1:
        lines = map(repr, predictions.astype(float).tolist())
    else:
        lines = (",".join(map(repr, row)) for row in predictions.astype(float).tolist())
    return ("\n".join(lines) + "\n").encode()


class TransformJob:
    def __init__(
        self, settings: Settings, account: str, region: str, name: str, capacity: Capacity
    ) -> None:
        self.settings = settings
        self.capacity = capacity
        self.account = account
        self.region = region
        self.name = name
        self.stop_requested = threading.Event()
        self.spec = moto_patches.describe_transform_job(account, region, name) or {}
        self.log = JobLog(account, region, LOG_GROUP, f"{name}/i-localcloud-{int(time.time())}")
        self._lock = threading.Lock()

    def request_stop(self) -> str | None:
        with self._lock:
            status = (
                moto_patches.describe_transform_job(self.account, self.region, self.name) or {}
            ).get("TransformJobStatus")
            if status != "InProgress":
                return status
            self.stop_requested.set()
            moto_patches.update_transform_job(
                self.account, self.region, self.name, TransformJobStatus="Stopping"
            )
        return None

    def _checkpoint(self) -> None:
        if self.stop_requested.is_set():
            raise _Stopped

    def _end(self, status: str, **fields: Any) -> None:
        with self._lock:
            moto_patches.update_transform_job(
                self.account,
                self.region,
                self.name,
                TransformJobStatus=status,
                TransformEndTime=datetime.now(UTC),
                **fields,
            )

    def run(self) -> None:
        try:
            if self.stop_requested.wait(self.settings.delay("transform_starting")):
                raise _Stopped
            with self.capacity.slot(while_waiting=self._checkpoint):
                moto_patches.update_transform_job(
                    self.account, self.region, self.name, TransformStartTime=datetime.now(UTC)
                )
                self._run()
            with self._lock:
                if self.stop_requested.is_set():
                    raise _Stopped
                self.log.info("Transform job completed")
                moto_patches.update_transform_job(
                    self.account,
                    self.region,
                    self.name,
                    TransformJobStatus="Completed",
                    TransformEndTime=datetime.now(UTC),
                )
        except _Stopped:
            self.log.info("Received a stop request; stopping the transform job.")
            time.sleep(self.settings.delay("transform_stopping"))
            self._end("Stopped")
        except (algo.AlgorithmClientError, storage.StorageError) as error:
            reason = str(error)
            if not reason.startswith("ClientError"):
                reason = f"ClientError: {reason}"
            self.log.write(reason)
            self._end("Failed", FailureReason=reason)
        except Exception as error:
            logger.error("transform job %s crashed:\n%s", self.name, traceback.format_exc())
            self._end("Failed", FailureReason=f"AlgorithmError: {type(error).__name__}: {error}")
        finally:
            self.log.flush()

    def _model(self) -> Any:
        model = moto_patches.describe_model(self.account, self.region, self.spec["ModelName"])
        if model is None:
            raise storage.StorageError(f"Model {self.spec['ModelName']} no longer exists.")
        container = model.get("PrimaryContainer") or {}
        url = container.get("ModelDataUrl")
        if not url:
            raise storage.StorageError(
                f"Model {self.spec['ModelName']} has no ModelDataUrl in its PrimaryContainer."
            )
        bucket, key = storage.split_url(url)
        try:
            archive = storage.read(self.account, bucket, key)
        except Exception:
            raise storage.StorageError(f"Could not read the model artifact {url}.") from None
        return algo.load_model(archive)

    def _run(self) -> None:
        import xgboost as xgb

        transform_input = self.spec.get("TransformInput") or {}
        source = (transform_input.get("DataSource") or {}).get("S3DataSource") or {}
        url = source.get("S3Uri", "")
        fmt = algo.content_format(transform_input.get("ContentType") or "text/csv")
        if transform_input.get("CompressionType", "None") not in ("None", None):
            raise storage.StorageError("CompressionType Gzip is not supported by localcloud.")
        output = (self.spec.get("TransformOutput") or {}).get("S3OutputPath", "")
        storage.check_region(self.account, url, self.region, "The input")
        storage.check_region(self.account, output, self.region, "The output")
        booster = self._model()
        features = booster.num_features()
        _, prefix = storage.split_url(url)
        objects = storage.list_objects(self.account, url)
        if not objects:
            raise storage.StorageError(f"No objects found under {url}.")
        bucket, _ = storage.split_url(url)
        self.log.info(f"Transforming {len(objects)} object(s) under {url}")
        for key, _size in objects:
            self._checkpoint()
            filename = key.rsplit("/", 1)[-1]
            relative = key[len(prefix) :].lstrip("/") if key != prefix else filename
            data = storage.read(self.account, bucket, key)
            if not data.strip():
                storage.write(
                    self.account, storage.join_url(output, relative + ".out"), b"", "text/csv"
                )
                continue
            if fmt == "csv":
                values = algo.read_csv(filename, data)
                if values.shape[1] != features:
                    raise algo.AlgorithmClientError(
                        f"ClientError: {filename} has {values.shape[1]} columns but the model "
                        f"was trained on {features} features (send features only, no label)."
                    )
                matrix = xgb.DMatrix(values)
            else:
                matrix = algo.load_matrix("transform", [(filename, data)], "libsvm", False, 0)
            predictions = booster.predict(matrix)
            self._checkpoint()
            storage.write(
                self.account,
                storage.join_url(output, relative + ".out"),
                _format_predictions(predictions),
                "text/csv",
            )
            self.log.info(f"Wrote {relative}.out ({len(predictions)} predictions)")
