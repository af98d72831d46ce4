"""Celery tasks: small, idempotent wrappers that reload rows and call one service.

Every task acknowledges late and is re-queued if its worker dies, so a killed worker
delays work and never loses it; services make a second run harmless.
"""

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from labs.cloud.errors import TransientCloudError
from labs.services import checks, expiry, refresh, resources

logger = logging.getLogger(__name__)

RETRY_POLICY = {
    "autoretry_for": (TransientCloudError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 6,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def _reason(exc) -> str:
    return getattr(exc, "message", None) or "The cloud did not answer; we gave up after retrying."


class ResourceTask(Task):
    """When retries run out, the resource is marked failed with the last reason."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        resource_id = args[0] if args else kwargs.get("resource_id")
        if resource_id is None:
            return
        resources.resource_mark_failed(resource_id=resource_id, reason=_reason(exc))


class ActionTask(Task):
    """When retries run out, the card says the action could not be done, and why (a
    JupyterLab link would otherwise be waited for without end)."""

    action = ""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        resource_id = args[0] if args else kwargs.get("resource_id")
        action = self.action or (args[1] if len(args) > 1 else kwargs.get("action", ""))
        if resource_id is not None and action:
            resources.resource_action_gave_up(
                resource_id=resource_id, action=action, reason=_reason(exc)
            )


@shared_task(base=ResourceTask, **RETRY_POLICY)
def resource_submit_task(resource_id: int) -> None:
    resources.resource_submit(resource_id=resource_id)


@shared_task(**RETRY_POLICY)
def resource_followup_task(resource_id: int) -> None:
    resources.resource_followup(resource_id=resource_id)


@shared_task(base=ActionTask, **RETRY_POLICY)
def resource_action_task(resource_id: int, action: str) -> None:
    resources.resource_perform_action(resource_id=resource_id, action=action)


@shared_task(**RETRY_POLICY)
def resource_refresh_group_task(account_id: int, region: str, kind: str) -> None:
    refresh.resource_refresh_group(account_id=account_id, region=region, kind=kind)


@shared_task(acks_late=True)
def resource_refresh_all_task() -> int:
    """Beat: one refresh task per (account, region, kind) that has active resources."""
    groups = refresh.active_groups()
    for account_id, region, kind in groups:
        resource_refresh_group_task.delay(account_id, region, kind)
    return len(groups)


@shared_task(acks_late=True)
def resource_resubmit_stale_task() -> int:
    stale = resources.resources_needing_resubmit(
        older_than=timedelta(seconds=settings.LABS_RESUBMIT_AFTER_SECONDS)
    )
    for resource_id in stale:
        resource_submit_task.delay(resource_id)
    return len(stale)


@shared_task(acks_late=True)
def resource_expire_task() -> int:
    """Beat: stop, then delete, resources past their cohort's lab time-to-live."""
    return expiry.resources_expire_due()


@shared_task(**RETRY_POLICY)
def lab_check_task(check_id: int) -> None:
    checks.lab_check_run(check_id=check_id)


@shared_task(base=ActionTask, action="open_url", **RETRY_POLICY)
def notebook_open_url_task(resource_id: int) -> None:
    resources.resource_perform_action(resource_id=resource_id, action="open_url")
