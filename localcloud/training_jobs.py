"""A training job's lifecycle: Starting → Downloading → Training → Uploading → Completed.

Its computing (download, training) holds one of localcloud's compute slots. Its log's
round lines follow a schedule spread over a few seconds (config.DEFAULT_DELAYS
["training_rounds"]), so that the portal's progress bar has something to show: a round
computed after its time is written at once, and those computed early are written at
their times after the job has left its slot.

Runs in its own thread. Statuses, secondary statuses and their transitions are written to
moto's record as AWS names them; failures carry a FailureReason a learner can act on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections import deque
from datetime import UTC, datetime
from typing import Any

from localcloud import moto_patches, storage
from localcloud import xgboost_algorithm as algo
from localcloud.capacity import Capacity
from localcloud.config import Settings
from localcloud.joblog import JobLog

logger = logging.getLogger("localcloud.training")

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# Held-back round lines are written in steps at least this far apart.
_ROUND_STEP_SECONDS = 0.2

_MESSAGES = {
    "Starting": "Launching requested ML instances",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job exceeded the MaxRuntimeInSeconds of its StoppingCondition",
}


class _End(Exception):
    """The job ends early: stopped by a user or by MaxRuntimeInSeconds."""

    def __init__(self, secondary: str) -> None:
        super().__init__(secondary)
        self.secondary = secondary


class TrainingJob:
    def __init__(
        self, settings: Settings, account: str, region: str, name: str, capacity: Capacity
    ) -> None:
        self.settings = settings
        self.capacity = capacity
        self.account = account
        self.region = region
        self.name = name
        self.stop_requested = threading.Event()
        self.created = time.monotonic()
        self.transitions: list[dict[str, Any]] = []
        spec = moto_patches.describe_training_job(account, region, name) or {}
        self.spec = spec
        self.transitions = list(spec.get("SecondaryStatusTransitions", []))
        runtime = (spec.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds") or 86400
        self.deadline = self.created + runtime
        self.log = JobLog(account, region, LOG_GROUP, f"{name}/algo-1-{int(time.time())}")
        self.final_metrics: dict[str, float] = {}
        self.training_start: datetime | None = None
        self._lock = threading.Lock()

    # --- status bookkeeping ---

    def _secondary(self, status: str, **fields: Any) -> None:
        with self._lock:
            # Once a stop was requested only the stop path may change the status.
            if self.stop_requested.is_set() and status not in ("Stopping", "Stopped"):
                raise _End("Stopped")
            self._record(status, **fields)

    def _record(self, status: str, **fields: Any) -> None:
        now = datetime.now(UTC)
        if self.transitions and "EndTime" not in self.transitions[-1]:
            self.transitions[-1]["EndTime"] = now
        transition = {"Status": status, "StartTime": now, "StatusMessage": _MESSAGES[status]}
        if status in ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded"):
            transition["EndTime"] = now
        self.transitions.append(transition)
        moto_patches.update_training_job(
            self.account,
            self.region,
            self.name,
            SecondaryStatus=status,
            SecondaryStatusTransitions=[dict(t) for t in self.transitions],
            **fields,
        )

    def _checkpoint(self) -> None:
        if self.stop_requested.is_set():
            raise _End("Stopped")
        if time.monotonic() > self.deadline:
            raise _End("MaxRuntimeExceeded")

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            self._checkpoint()
            left = end - time.monotonic()
            if left <= 0:
                return
            self.stop_requested.wait(min(left, 0.05, max(self.deadline - time.monotonic(), 0)))

    def request_stop(self) -> str | None:
        """StopTrainingJob: answer Stopping at once; the thread ends the work.

        Returns the current status when the job can no longer be stopped.
        """
        with self._lock:
            status = (
                moto_patches.describe_training_job(self.account, self.region, self.name) or {}
            ).get("TrainingJobStatus")
            if status != "InProgress":
                return status
            self.stop_requested.set()
            moto_patches.update_training_job(
                self.account, self.region, self.name, TrainingJobStatus="Stopping"
            )
            self._record("Stopping")
        return None

    # --- the job ---

    def run(self) -> None:
        started = datetime.now(UTC)
        try:
            self._run()
        except _End as end:
            self._end_early(end.secondary, started)
        except Exception as error:
            if self.stop_requested.is_set():
                self._end_early("Stopped", started)
            else:
                self._fail_with(error, started)
        finally:
            self.log.flush()

    def _fail_with(self, error: Exception, started: datetime) -> None:
        if isinstance(error, algo.AlgorithmClientError | storage.StorageError):
            text = str(error)
            self._fail(text if text.startswith("ClientError") else f"ClientError: {text}", started)
            return
        logger.error("training job %s crashed:\n%s", self.name, traceback.format_exc())
        self._fail(f"AlgorithmError: {type(error).__name__}: {error}", started)

    def _run(self) -> None:
        hyper = self.spec.get("HyperParameters") or {}
        resources = self.spec.get("ResourceConfig") or {}
        instance_type = resources.get("InstanceType", "ml.m5.large")
        self._sleep(self.settings.delay("training_starting"))
        with self.capacity.slot(while_waiting=self._checkpoint):
            booster, rounds, seconds = self._compute(hyper, instance_type)
        # Out of the slot, so that other jobs compute meanwhile.
        self._show_rounds(rounds, seconds)
        self._upload(booster)

    @property
    def _output_path(self) -> str:
        return (self.spec.get("OutputDataConfig") or {}).get("S3OutputPath", "")

    def _compute(self, hyper: dict[str, str], instance_type: str):
        """Download, read and train; the booster, each round's metrics and the seconds
        training took."""
        self.training_start = start = datetime.now(UTC)
        self._secondary("Downloading", TrainingStartTime=start)
        self.log.info("Imported framework sagemaker_xgboost_container.training (localcloud)")
        config = algo.parse_hyperparameters(hyper)
        storage.check_region(self.account, self._output_path, self.region, "The output")
        began = time.perf_counter()
        channels = self._download()
        self.log.info(f"Downloaded the input data in {time.perf_counter() - began:.2f}s")
        self._checkpoint()

        self._secondary("Training")
        device, sentence = algo.choose_device(instance_type)
        self.log.info(sentence)
        self.log.info(f"Using device: {device}")
        nthread = os.cpu_count() or 1
        began = time.perf_counter()
        dtrain = algo.load_matrix(
            "train", channels["train"][1], channels["train"][0], config.csv_weights, nthread
        )
        dvalidation = None
        if "validation" in channels:
            fmt, files = channels["validation"]
            dvalidation = algo.load_matrix("validation", files, fmt, config.csv_weights, nthread)
        self.log.info(
            f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns "
            f"(read in {time.perf_counter() - began:.2f}s)"
        )
        if dvalidation is not None:
            self.log.info(f"Validation matrix has {dvalidation.num_row()} rows")
        self._checkpoint()

        rounds = _RoundLines(self, self.settings.delay("training_rounds"), config.num_round)

        def on_round(epoch: int, metrics: dict[str, float]) -> None:
            rounds.add(epoch, metrics)
            self._checkpoint()

        began = time.perf_counter()
        booster = algo.train(config, dtrain, dvalidation, device, on_round)
        return booster, rounds, time.perf_counter() - began

    def _show_rounds(self, rounds: _RoundLines, seconds: float) -> None:
        """The round lines not yet due when training ended, each at its time; a stop
        request ends this as it would a real job's training."""
        rounds.write_the_rest()
        self.log.info(
            f"Computed {rounds.count} rounds in {seconds:.2f}s; localcloud spreads their "
            "log lines over the Training phase"
        )
        self._checkpoint()

    def _upload(self, booster) -> None:
        self._secondary("Uploading")
        artifact = storage.join_url(self._output_path, self.name, "output", "model.tar.gz")
        began = time.perf_counter()
        storage.write(self.account, artifact, algo.model_archive(booster), "application/x-tar")
        self.log.info(f"Uploaded {artifact} in {time.perf_counter() - began:.2f}s")
        self._sleep(self.settings.delay("training_uploading"))
        self._finish(
            "Completed", self.training_start, ModelArtifacts={"S3ModelArtifacts": artifact}
        )

    def _download(self) -> dict[str, tuple[str, list[tuple[str, bytes]]]]:
        channels: dict[str, tuple[str, list[tuple[str, bytes]]]] = {}
        for channel in self.spec.get("InputDataConfig") or []:
            name = channel.get("ChannelName")
            source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
            if not source:
                raise algo.AlgorithmClientError(
                    f"ClientError: channel {name} has no S3DataSource; localcloud reads S3 only."
                )
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise algo.AlgorithmClientError(
                    f"ClientError: S3DataType {source.get('S3DataType')} of channel {name} is "
                    "not supported by localcloud; use S3Prefix."
                )
            fmt = algo.content_format(channel.get("ContentType"))
            url = source["S3Uri"]
            storage.check_region(
                self.account, url, self.region, f"Data download failed: the {name}"
            )
            bucket, _ = storage.split_url(url)
            objects = storage.list_objects(self.account, url)
            if not objects:
                raise algo.AlgorithmClientError(
                    f"ClientError: No objects found under {url} for the {name} channel."
                )
            files = [
                (key.rsplit("/", 1)[-1], storage.read(self.account, bucket, key))
                for key, _size in objects
            ]
            size = sum(len(data) for _, data in files)
            self.log.info(f"Channel {name}: {len(files)} file(s), {size} bytes ({fmt})")
            channels[name] = (fmt, files)
        if "train" not in channels:
            raise algo.AlgorithmClientError(
                "ClientError: Channel train is required by the built-in XGBoost algorithm."
            )
        return channels

    def _times(self, start: datetime) -> dict[str, Any]:
        end = datetime.now(UTC)
        seconds = max(int((end - start).total_seconds()), 1)
        return {
            "TrainingEndTime": end,
            "TrainingTimeInSeconds": seconds,
            "BillableTimeInSeconds": seconds,
        }

    def _metrics(self) -> list[dict[str, Any]] | None:
        now = datetime.now(UTC)
        metrics = [
            {"MetricName": name.replace("-", ":", 1), "Value": value, "Timestamp": now}
            for name, value in self.final_metrics.items()
        ]
        return metrics or None

    def _finish(self, status: str, start: datetime, **fields: Any) -> None:
        self.log.info(f"Training job {status.lower()}")
        self.log.flush()
        self._secondary(status)
        moto_patches.update_training_job(
            self.account,
            self.region,
            self.name,
            TrainingJobStatus=status,
            FinalMetricDataList=self._metrics(),
            **self._times(start),
            **fields,
        )

    def _fail(self, reason: str, start: datetime) -> None:
        self.log.write(reason)
        self.log.flush()
        self._secondary("Failed")
        moto_patches.update_training_job(
            self.account,
            self.region,
            self.name,
            TrainingJobStatus="Failed",
            FailureReason=reason,
            **self._times(start),
        )

    def _end_early(self, secondary: str, start: datetime) -> None:
        if secondary == "MaxRuntimeExceeded":
            self.log.write("Training job exceeded MaxRuntimeInSeconds; stopping it.")
            moto_patches.update_training_job(
                self.account, self.region, self.name, TrainingJobStatus="Stopping"
            )
            with self._lock:
                self._record("MaxRuntimeExceeded")
        else:
            self.log.write("Received a stop request; stopping the training job.")
            time.sleep(self.settings.delay("training_stopping"))
            with self._lock:
                self._record("Stopped")
        self.log.flush()
        moto_patches.update_training_job(
            self.account,
            self.region,
            self.name,
            TrainingJobStatus="Stopped",
            FinalMetricDataList=self._metrics(),
            **self._times(start),
        )


class _RoundLines:
    """A job's per-round log lines on a schedule: round k is due ``spread`` * (k + 1) /
    ``planned`` seconds after training began. On a laptop training takes well under a
    second, and a learner would never see the progress bar or the metric's chart grow;
    a round computed after its time (a long job) is written at once, as AWS would."""

    def __init__(self, job: TrainingJob, spread: float, planned: int) -> None:
        self.job = job
        self.began = time.monotonic()
        self.pause = spread / max(planned, 1)
        self.pending: deque[tuple[int, dict[str, float]]] = deque()
        self.count = 0

    def add(self, epoch: int, metrics: dict[str, float]) -> None:
        self.pending.append((epoch, metrics))
        self.count += 1
        self._write_due()

    def write_the_rest(self) -> None:
        while self.pending:
            self.job._sleep(max(self._due(self.pending[0][0]), _ROUND_STEP_SECONDS))
            self._write_due()
            self.job.log.flush()

    def _due(self, epoch: int) -> float:
        """Seconds until the round's line is due (negative: overdue)."""
        return self.began + (epoch + 1) * self.pause - time.monotonic()

    def _write_due(self) -> None:
        while self.pending and self._due(self.pending[0][0]) <= 0:
            epoch, metrics = self.pending.popleft()
            self.job.final_metrics = metrics
            line = "".join(f"#011{name}:{value:.5f}" for name, value in metrics.items())
            self.job.log.write(f"[{epoch}]{line}", flush=False)
