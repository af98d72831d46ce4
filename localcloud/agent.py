"""The compute agent: hears what moto records and drives each resource's lifecycle."""

from __future__ import annotations

import threading
from collections.abc import Callable

from localcloud import moto_patches
from localcloud.capacity import Capacity
from localcloud.config import Settings
from localcloud.errors import validation_error
from localcloud.notebooks import NotebookManager
from localcloud.training_jobs import TrainingJob
from localcloud.transform_jobs import TransformJob

Key = tuple[str, str, str]


class Agent:
    def __init__(self, settings: Settings, on_s3_change: Callable[[], None]) -> None:
        self.settings = settings
        self.on_s3_change = on_s3_change
        self.notebooks = NotebookManager(settings)
        self.capacity = Capacity(settings.compute_slots)
        self._training: dict[Key, TrainingJob] = {}
        self._transforms: dict[Key, TransformJob] = {}
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    # --- moto_patches.Listener ---

    def training_job_created(self, account: str, region: str, name: str) -> None:
        job = TrainingJob(self.settings, account, region, name, self.capacity)
        self._training[(account, region, name)] = job
        self._spawn(job.run, f"training-{name}")

    def transform_job_created(self, account: str, region: str, name: str) -> None:
        job = TransformJob(self.settings, account, region, name, self.capacity)
        self._transforms[(account, region, name)] = job
        self._spawn(job.run, f"transform-{name}")

    def notebook_changed(self, account: str, region: str, name: str, action: str) -> None:
        self.notebooks.changed(account, region, name, action)

    def s3_changed(self) -> None:
        """A job wrote an artifact or predictions: persist them like any upload."""
        self.on_s3_change()

    # --- operations moto lacks ---

    def stop_training_job(self, account: str, region: str, name: str) -> None:
        job = self._training.get((account, region, name))
        if job is None or moto_patches.describe_training_job(account, region, name) is None:
            raise validation_error("Requested resource not found.")
        status = job.request_stop()
        if status is not None:
            raise validation_error(
                f"The request was rejected because the training job is in status {status}."
            )

    def stop_transform_job(self, account: str, region: str, name: str) -> None:
        job = self._transforms.get((account, region, name))
        if job is None or moto_patches.describe_transform_job(account, region, name) is None:
            raise validation_error(f"Could not find job to update with name {name}")
        status = job.request_stop()
        if status is not None:
            raise validation_error(
                f"The request was rejected because the transform job is in status {status}."
            )

    def presigned_notebook_url(self, account: str, region: str, name: str) -> str:
        described = moto_patches.describe_notebook_instance(account, region, name)
        if described is None:
            raise validation_error("RecordNotFound")
        url = self.notebooks.presigned_url(account, region, name)
        if described["NotebookInstanceStatus"] != "InService" or url is None:
            raise validation_error(
                f"Notebook Instance {described['NotebookInstanceArn']} is in status "
                f"{described['NotebookInstanceStatus']}; it must be InService to open it."
            )
        return url

    def shutdown(self) -> None:
        for job in list(self._training.values()):
            job.stop_requested.set()
        for job in list(self._transforms.values()):
            job.stop_requested.set()
        self.notebooks.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
