"""Dashboard tasks: small wrappers that take an operation's id and call one service.

The teardown check and the deletion of swept resources come back later (a countdown, not
a sleep) while the cloud is still stopping or deleting something; each run looks at the
database and the cloud afresh, so running one twice is harmless.
"""

from celery import Task, shared_task

from labs.cloud.errors import TransientCloudError
from labs.dashboard import services

RETRY_POLICY = {
    "autoretry_for": (TransientCloudError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 6,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


class OperationTask(Task):
    """When retries run out, the operation is marked failed with the last reason."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        operation_id = args[0] if args else kwargs.get("operation_id")
        if operation_id is not None:
            reason = getattr(exc, "message", None) or "The cloud did not answer in time."
            services.operation_mark_failed(operation_id=operation_id, reason=reason)


@shared_task(base=OperationTask, **RETRY_POLICY)
def cohort_sweep_task(operation_id: int) -> None:
    services.cohort_sweep_run(operation_id=operation_id)


@shared_task(base=OperationTask, **RETRY_POLICY)
def cohort_teardown_check_task(operation_id: int) -> None:
    if services.cohort_teardown_check(operation_id=operation_id):
        cohort_teardown_check_task.apply_async(
            (operation_id,), countdown=services.CHECK_INTERVAL_SECONDS
        )


@shared_task(base=OperationTask, **RETRY_POLICY)
def cohort_sweep_delete_task(operation_id: int) -> None:
    if services.cohort_sweep_delete_run(operation_id=operation_id):
        cohort_sweep_delete_task.apply_async(
            (operation_id,), countdown=services.CHECK_INTERVAL_SECONDS
        )
