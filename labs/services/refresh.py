"""Keeps rows in step with the cloud at a cost that grows with regions, not learners.

Beat asks for one refresh per (account, region, kind) with something active. Each
refresh makes one paginated List call for that group and describes only the resources
whose status or modification time moved since we last looked.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from labs import drivers
from labs.models import CloudAccount, CloudResource
from labs.services.resources import resource_apply_observation, resource_followup_row

State = CloudResource.State

# Rows whose cloud side can change by itself. A ready notebook is included: its
# server can fail, and the learner must see that rather than a stale "InService".
_REFRESHABLE = Q(
    state__in=(State.PROVISIONING, State.RUNNING, State.STOPPING, State.DELETING)
) | Q(state=State.READY, kind=CloudResource.Kind.NOTEBOOK)


@dataclass
class RefreshReport:
    rows: int = 0
    described: int = 0
    changed: int = 0


def active_groups() -> list[tuple[int, str, str]]:
    return list(
        CloudResource.objects.filter(_REFRESHABLE)
        .values_list("account_id", "region", "kind")
        .distinct()
        .order_by()
    )


def resource_refresh_group(*, account_id: int, region: str, kind: str) -> RefreshReport:
    rows = list(
        CloudResource.objects.filter(_REFRESHABLE, account_id=account_id, region=region, kind=kind)
    )
    report = RefreshReport(rows=len(rows))
    if not rows:
        return report
    account = CloudAccount.objects.get(pk=account_id)
    driver = drivers.for_kind(kind)
    # Every active row was created after this, so older history stays off the pages.
    since = min(r.created_at for r in rows) - timedelta(minutes=5)
    summaries = driver.list_summaries(account.connection(), region, since)
    followup_lost_before = timezone.now() - timedelta(seconds=settings.LABS_FOLLOWUP_AFTER_SECONDS)
    for resource in rows:
        if driver.needs_followup(resource) and resource.updated_at > followup_lost_before:
            # Its follow-up task (a bucket's data upload) is queued or running: looking
            # now would only race it, and in a class-wide launch upload the data twice.
            continue
        resource.account = account
        summary = summaries.get(resource.cloud_name)
        unchanged = (
            summary is not None
            and summary.status == resource.cloud_status
            and summary.last_modified == resource.cloud_modified_at
            and not driver.wants_detail(resource)
        )
        if unchanged:
            continue
        report.described += 1
        seen = driver.describe(resource) if summary is not None else driver.missing(resource)
        if seen is None:
            continue
        before = (
            resource.state,
            resource.cloud_status,
            resource.secondary_status,
            resource.progress_done,
        )
        # A task may have written the row while the cloud was asked: its write wins, and
        # the next cycle looks again.
        resource = resource_apply_observation(resource, seen, only_if_unchanged=True)
        if before != (
            resource.state,
            resource.cloud_status,
            resource.secondary_status,
            resource.progress_done,
        ):
            report.changed += 1
        # An upload whose task was lost (LABS_FOLLOWUP_AFTER_SECONDS ago) is finished
        # here, the task's way.
        resource_followup_row(resource)
    by_id = {resource.pk: resource for resource in rows}
    for resource_id, seen in driver.follow(account.connection(), region, rows).items():
        resource_apply_observation(by_id[resource_id], seen, only_if_unchanged=True)
        report.changed += 1
    return report
