"""What instructors do to a cohort from the dashboard.

Every action is recorded twice: a sentence in each touched resource's timeline, and a
`CohortOperation` row for the cohort. Stops and deletions go through
`labs.services.resources.resource_request_action`, which records the intent and enqueues
the cloud call; the web process never calls the cloud. Sweeps and teardown checks run in
tasks (`labs.dashboard.tasks`), which call the `*_run` functions here.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from labs import drivers
from labs.cloud import inventory, pricing
from labs.cloud.errors import CloudError
from labs.dashboard.models import CohortOperation, found_running_cost
from labs.models import CloudResource, LabSettings
from labs.services.events import resource_transition
from labs.services.expiry import EXPIRING_STATES, GRACE, resource_extend
from labs.services.policy import LaunchRefusedError, lab_settings_for
from labs.services.queueing import enqueue_after_commit
from labs.services.resources import resource_request_action, resource_stop_when_started
from portal.models import Cohort, Enrolment

logger = logging.getLogger(__name__)
State = CloudResource.State
Kind = CloudResource.Kind
Op = CohortOperation

# How long a teardown check or a deletion keeps waiting for the cloud before it reports
# what is left, and how often it looks again meanwhile.
CHECK_DEADLINE = timedelta(minutes=30)
CHECK_INTERVAL_SECONDS = 3
EXTEND_CHOICES = (30, 60, 120, 240)


class ActionRefusedError(Exception):
    """An action that cannot be taken now; the message says why, for the instructor."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _who(user) -> str:
    return user.get_full_name() or user.username


def _operation(*, cohort, actor, kind, learner=None, **fields) -> CohortOperation:
    return CohortOperation.objects.create(
        cohort=cohort, actor=actor, kind=kind, learner=learner, **fields
    )


def _finish(operation: CohortOperation, *, state=Op.State.DONE, **fields) -> CohortOperation:
    fields.update(state=state, finished_at=timezone.now())
    return _save(operation, **fields)


def _save(operation: CohortOperation, **fields) -> CohortOperation:
    for name, value in fields.items():
        setattr(operation, name, value)
    operation.version += 1
    operation.save(update_fields=[*fields, "version", "updated_at"])
    return operation


def operation_mark_failed(*, operation_id: int, reason: str) -> None:
    operation = CohortOperation.objects.filter(pk=operation_id).first()
    if operation is not None and not operation.is_final:
        _finish(operation, state=Op.State.FAILED, summary=f"Failed: {reason}")


def _request(resource: CloudResource, action: str, reason: str) -> bool:
    """Ask for ``action`` with a sentence saying who and why; False if not possible now."""
    if action not in drivers.for_kind(resource.kind).actions_for(resource):
        return False
    try:
        resource_request_action(resource=resource, action=action, message=reason)
    except LaunchRefusedError:
        return False
    return True


# --- Stop notebooks --------------------------------------------------------------------


@transaction.atomic
def cohort_stop_notebooks(*, cohort: Cohort, actor) -> CohortOperation:
    """Stop every running notebook instance of the cohort (their files are kept)."""
    notebooks = CloudResource.objects.select_for_update().filter(
        cohort=cohort,
        kind=Kind.NOTEBOOK,
        state__in=(State.REQUESTED, State.SUBMITTING, State.PROVISIONING, State.READY),
    )
    reason = f"Your instructor {_who(actor)} stopped every notebook of the cohort."
    now, later = 0, 0
    for notebook in notebooks:
        can_stop_now = "stop" in notebook.available_actions
        if resource_stop_when_started(notebook, message=reason):
            now, later = (now + 1, later) if can_stop_now else (now, later + 1)
    summary = f"Asked to stop {now} notebook instance{'s' if now != 1 else ''}."
    if later:
        summary += (
            f" {later} not created yet will be stopped as soon as the cloud has "
            f"{'them' if later != 1 else 'it'}."
        )
    return _operation(
        cohort=cohort,
        actor=actor,
        kind=Op.Kind.STOP_NOTEBOOKS,
        state=Op.State.DONE,
        finished_at=timezone.now(),
        resources_touched=now + later,
        summary=summary,
    )


# --- Teardown --------------------------------------------------------------------------

# A teardown empties the cloud but leaves the labs open; an instructor ending the course
# for the day needs to know how to keep them empty.
LABS_STAY_OPEN = (
    "The labs stay open: learners can launch again. To refuse new notebooks and jobs, and "
    "restarts of stopped notebooks, set the budget to $0 in Settings."
)


def _not_deleted(cohort: Cohort, learner=None):
    resources = CloudResource.objects.filter(cohort=cohort).exclude(state=State.DELETED)
    if learner is not None:
        resources = resources.filter(owner=learner)
    return resources


def teardown_pass(*, cohort: Cohort, learner=None, reason: str) -> tuple[int, int]:
    """Ask to delete everything of the cohort (or one learner) not deleted or being
    deleted yet. Returns (asked now, still to wait for)."""
    asked = 0
    waiting = 0
    with transaction.atomic():
        for resource in _not_deleted(cohort, learner).select_for_update():
            if resource.state == State.DELETING:
                waiting += 1
            elif _request(resource, "delete", reason):
                asked += 1
                waiting += 1
            else:
                # Requested or submitting: the cloud may be creating it right now; the
                # teardown check asks again once it exists.
                waiting += 1
    return asked, waiting


def _teardown_regions(lab_settings: LabSettings, cohort: Cohort, learner=None) -> list[str]:
    """The cohort's allowed regions, and any other region the database saw it use."""
    used = CloudResource.objects.filter(cohort=cohort)
    if learner is not None:
        used = used.filter(owner=learner)
    seen = used.values_list("region", flat=True).distinct().order_by()
    return sorted(set(lab_settings.allowed_regions) | set(seen))


def cohort_teardown(*, cohort: Cohort, actor, learner=None) -> CohortOperation:
    """Delete every resource of the cohort (or of one learner) in every region and of
    every kind, then check in a task, by listing the cloud, that nothing is left."""
    from labs.dashboard.tasks import cohort_teardown_check_task

    lab_settings = lab_settings_for(cohort)
    if learner is None:
        reason = f"Your instructor {_who(actor)} is tearing down the whole cohort."
        kind = Op.Kind.TEARDOWN
    else:
        reason = f"Your instructor {_who(actor)} is tearing down your lab resources."
        kind = Op.Kind.TEARDOWN_LEARNER
    with transaction.atomic():
        asked, waiting = teardown_pass(cohort=cohort, learner=learner, reason=reason)
        operation = _operation(
            cohort=cohort,
            actor=actor,
            learner=learner,
            kind=kind,
            state=Op.State.RUNNING,
            regions=_teardown_regions(lab_settings, cohort, learner),
            resources_touched=asked,
            summary=f"Asked to delete {asked} resource{'s' if asked != 1 else ''}; "
            "checking the cloud once they are gone.",
        )
        enqueue_after_commit(cohort_teardown_check_task, operation.pk)
    return operation


def _learner_id(tags: dict) -> int | None:
    value = tags.get("portal:learner", "")
    # Tags can be edited in the cloud's console: only plain digits are an id.
    return int(value) if value.isascii() and value.isdigit() else None


def _found(items, cohort: Cohort) -> list[dict]:
    """What a listing found, each with its learner's username when they are in this
    cohort (the tag holds their id; a tag naming anyone else says nothing about them) and
    what it costs, as of the listing."""
    rows = [{**item.as_dict(), **_costs(item)} for item in items]
    learners = [_learner_id(row["tags"]) for row in rows]
    names = dict(
        Enrolment.objects.filter(
            cohort=cohort, user_id__in={i for i in learners if i is not None}
        ).values_list("user_id", "user__username")
    )
    for row, learner in zip(rows, learners, strict=True):
        row["learner_name"] = names.get(learner, "not in this cohort") if learner else ""
    return rows


def _costs(item: inventory.CloudItem) -> dict:
    """``costs``, a few words for the table; ``runs_instance``; ``hourly_usd``, a decimal
    string ("" when nothing runs, or its type has no price in the portal's table)."""
    if item.runs_instance:
        count = f"{item.instance_count} × " if item.instance_count > 1 else ""
        try:
            hourly = pricing.hourly_price(item.instance_type, item.region) * item.instance_count
        except ValueError:
            costs = f"{count}{item.instance_type}, price unknown"
            return {"costs": costs, "runs_instance": True, "hourly_usd": ""}
        costs = f"{count}{item.instance_type}, {pricing.format_hourly(hourly)}"
        return {"costs": costs, "runs_instance": True, "hourly_usd": str(hourly)}
    if item.kind == "bucket":
        costs = "its storage"
    elif item.kind == "notebook":
        costs = f"{item.instance_type or 'its instance'} is not running: its storage"
    elif item.kind in ("training_job", "transform_job") and item.live:
        # A running job whose Describe was refused.
        costs = "running, instance type unknown"
        return {"costs": costs, "runs_instance": True, "hourly_usd": ""}
    else:
        costs = "nothing"
    return {"costs": costs, "runs_instance": False, "hourly_usd": ""}


def _match(operation: CohortOperation) -> dict[str, str]:
    match = {"portal:cohort": operation.cohort.slug}
    if operation.learner_id is not None:
        match["portal:learner"] = str(operation.learner_id)
    return match


def cohort_teardown_check(*, operation_id: int) -> bool:
    """One look at a teardown: True while it must look again later.

    While the database still has resources on their way out, ask again for any that
    became deletable and come back later; once all are deleted (or the deadline passed)
    list the regions the cohort offers or has used for anything still tagged for it.
    """
    operation = (
        CohortOperation.objects.select_related("cohort", "learner")
        .filter(pk=operation_id, kind__in=(Op.Kind.TEARDOWN, Op.Kind.TEARDOWN_LEARNER))
        .first()
    )
    if operation is None or operation.is_final:
        return False
    cohort = operation.cohort
    reason = "Still part of the teardown: deleting it now that the cloud has it."
    _, waiting = teardown_pass(cohort=cohort, learner=operation.learner, reason=reason)
    overdue = timezone.now() - operation.created_at > CHECK_DEADLINE
    if waiting and not overdue:
        _save(operation, summary=f"Waiting for {waiting} resource(s) to be deleted.")
        return True
    lab_settings = lab_settings_for(cohort)
    regions = sorted(
        set(operation.regions) | set(_teardown_regions(lab_settings, cohort, operation.learner))
    )
    try:
        items = inventory.tagged_items(
            lab_settings.account.connection(), regions, match=_match(operation)
        )
    except CloudError as error:
        if error.retryable and not overdue:
            return True
        _finish(operation, state=Op.State.FAILED, summary=f"Could not check: {error.message}")
        return False
    live = [i for i in items if i.live]
    history = len(items) - len(live)
    found = _found(items, operation.cohort)
    whose = f"{operation.learner.username}'s resources" if operation.learner else "the cohort"
    where = f"{len(regions)} region{'s' if len(regions) != 1 else ''} ({', '.join(regions)})"
    if live:
        summary = (
            f"Checked {where}: {len(live)} resource{'s' if len(live) != 1 else ''} of "
            f"{whose} still in the cloud{found_running_cost(found)}."
        )
    else:
        summary = f"Checked {where}: nothing of {whose} is left in the cloud."
    if waiting:
        summary += f" {waiting} resource(s) never finished deleting in the database."
    if history:
        summary += (
            f" {history} finished job{' stays' if history == 1 else 's stay'} in SageMaker's "
            "history (they cost nothing and cannot be deleted)."
        )
    if operation.learner is None and lab_settings.budget_usd:
        summary += f" {LABS_STAY_OPEN}"
    _finish(
        operation,
        state=Op.State.DONE,
        regions=regions,
        found=found,
        summary=summary,
    )
    return False


# --- One learner -----------------------------------------------------------------------


def learner_teardown(*, cohort: Cohort, learner, actor) -> CohortOperation:
    return cohort_teardown(cohort=cohort, actor=actor, learner=learner)


@transaction.atomic
def learner_extend(*, cohort: Cohort, learner, actor, minutes: int) -> CohortOperation:
    """Give every resource of the learner that is not deleted ``minutes`` more."""
    if minutes not in EXTEND_CHOICES:
        choices = ", ".join(str(m) for m in EXTEND_CHOICES)
        raise ActionRefusedError(f"Extend by one of {choices} minutes.")
    resources = (
        _not_deleted(cohort, learner)
        .exclude(state=State.DELETING)
        .select_for_update()
        .order_by("created_at")
    )
    count = 0
    for resource in resources:
        resource_transition(
            resource, message=f"Your instructor {_who(actor)} gave you more lab time."
        )
        resource_extend(resource=resource, minutes=minutes)
        count += 1
    return _operation(
        cohort=cohort,
        actor=actor,
        learner=learner,
        kind=Op.Kind.EXTEND_LEARNER,
        state=Op.State.DONE,
        finished_at=timezone.now(),
        resources_touched=count,
        summary=f"Gave {learner.username} {minutes} more minutes on {count} "
        f"resource{'s' if count != 1 else ''}.",
    )


# --- Settings --------------------------------------------------------------------------


@transaction.atomic
def lab_settings_update(*, lab_settings: LabSettings, changes: dict, actor) -> CohortOperation:
    """Save the cohort's guard rails; the operation says which ones changed."""
    old_ttl = lab_settings.lab_ttl
    changed = []
    for name, value in changes.items():
        if getattr(lab_settings, name) != value:
            setattr(lab_settings, name, value)
            changed.append(name)
    if changed:
        lab_settings.save(update_fields=changed)
    labels = {field.name: field.verbose_name for field in LabSettings._meta.fields}

    def said(name: str) -> str:
        label, value = labels.get(name, name), getattr(lab_settings, name)
        # A switch says which way it went ("GPU instance types allowed" read as "on").
        return f"{label}: {'on' if value else 'off'}" if isinstance(value, bool) else str(label)

    summary = (
        "Changed: " + ", ".join(said(n) for n in changed) + "."
        if changed
        else "Saved without changes."
    )
    if "lab_ttl_minutes" in changed:
        count = _lab_time_apply(lab_settings, lab_settings.lab_ttl - old_ttl)
        summary += f" The new lab time applied to {count} resource{'s' if count != 1 else ''}."
    return _operation(
        cohort=lab_settings.cohort,
        actor=actor,
        kind=Op.Kind.SETTINGS,
        state=Op.State.DONE,
        finished_at=timezone.now(),
        summary=summary,
    )


def _lab_time_apply(lab_settings: LabSettings, shift: timedelta) -> int:
    """A changed lab time counts for what is already there: the instructor who shortens
    it to stop a forgotten GPU means the running one. Each due time moves by the change,
    so an extension, or the grace after an expiry's stop, is kept."""
    minutes = lab_settings.lab_ttl_minutes
    # What the lab time deletes next (a bucket and its data, a stopped notebook and its
    # files) gets the expiry's grace from now, whatever the new time says: shortening
    # it stops what runs at once, but never deletes anyone's work without warning.
    earliest_delete = timezone.now() + GRACE
    resources = CloudResource.objects.filter(cohort=lab_settings.cohort, state__in=EXPIRING_STATES)
    for resource in resources:
        due = (resource.expires_at or resource.created_at + lab_settings.lab_ttl - shift) + shift
        if "stop" not in resource.available_actions:
            due = max(due, earliest_delete)
        resource_transition(
            resource,
            expires_at=due,
            message=f"The instructor set the lab time to {minutes} minutes.",
        )
    return len(resources)


# --- Sweep -----------------------------------------------------------------------------


def cohort_sweep_request(*, cohort: Cohort, actor) -> CohortOperation:
    from labs.dashboard.tasks import cohort_sweep_task

    lab_settings = lab_settings_for(cohort)
    with transaction.atomic():
        operation = _operation(
            cohort=cohort,
            actor=actor,
            kind=Op.Kind.SWEEP,
            regions=_teardown_regions(lab_settings, cohort),
            summary="Waiting for a worker to list the cloud.",
        )
        enqueue_after_commit(cohort_sweep_task, operation.pk)
    return operation


def _known_names(cohort: Cohort) -> set[tuple[str, str, str]]:
    """(region, kind, name) of every resource the database thinks still exists."""
    return {
        (region, kind, name)
        for region, kind, name in CloudResource.objects.filter(cohort=cohort)
        .filter(~Q(state=State.DELETED))
        .values_list("region", "kind", "cloud_name")
    }


def cohort_sweep_run(*, operation_id: int) -> CohortOperation | None:
    """List the cloud for resources tagged for the cohort that the database does not
    know (or believes deleted) and store them on the operation."""
    operation = (
        CohortOperation.objects.select_related("cohort")
        .filter(pk=operation_id, kind=Op.Kind.SWEEP)
        .first()
    )
    if operation is None or operation.is_final:
        return operation
    _save(operation, state=Op.State.RUNNING, summary="Listing the cloud…")
    cohort = operation.cohort
    lab_settings = lab_settings_for(cohort)
    regions = sorted(set(operation.regions) | set(lab_settings.allowed_regions))
    try:
        items = inventory.tagged_items(
            lab_settings.account.connection(), regions, match=_match(operation)
        )
    except CloudError as error:
        if error.retryable:
            raise
        return _finish(operation, state=Op.State.FAILED, summary=f"Failed: {error.message}")
    known = _known_names(cohort)
    unknown = [i for i in items if i.live and (i.region, i.kind, i.name) not in known]
    found = _found(unknown, operation.cohort)
    where = f"{len(regions)} region{'s' if len(regions) != 1 else ''} ({', '.join(regions)})"
    if unknown:
        summary = (
            f"Listed {where}: {len(unknown)} resource{'s' if len(unknown) != 1 else ''} "
            f"tagged for the cohort that the portal does not know{found_running_cost(found)}."
        )
    else:
        summary = f"Listed {where}: every resource tagged for the cohort is known."
    return _finish(operation, regions=regions, found=found, summary=summary)


_ALREADY_SENT_FOR_DELETION = (
    "What this operation found has already been sent for deletion. Sweep again to see "
    "what is left in the cloud."
)


def cohort_sweep_delete_check(source: CohortOperation) -> None:
    """Refuse, with a sentence, unless what ``source`` found can be sent for deletion."""
    if source.deletion_requested_at is not None:
        raise ActionRefusedError(_ALREADY_SENT_FOR_DELETION)
    if not source.can_delete_found:
        raise ActionRefusedError("There is nothing found by this operation left to delete.")


def cohort_sweep_delete_request(*, source: CohortOperation, actor) -> CohortOperation:
    """Delete, in a task, the live resources a sweep (or teardown check) found."""
    from labs.dashboard.tasks import cohort_sweep_delete_task

    cohort_sweep_delete_check(source)
    with transaction.atomic():
        # One deletion per finding, however many clicks or tabs ask for it.
        now = timezone.now()
        claimed = CohortOperation.objects.filter(
            pk=source.pk, deletion_requested_at__isnull=True
        ).update(
            deletion_requested_at=now,
            version=F("version") + 1,
            updated_at=now,  # The dashboard's fingerprint reads it.
        )
        if not claimed:
            raise ActionRefusedError(_ALREADY_SENT_FOR_DELETION)
        items = source.live_found
        operation = _operation(
            cohort=source.cohort,
            actor=actor,
            kind=Op.Kind.SWEEP_DELETE,
            source=source,
            learner=source.learner,
            regions=sorted({item["region"] for item in items}),
            found=items,
            summary=f"Deleting {len(items)} resource{'s' if len(items) != 1 else ''} "
            "found in the cloud.",
        )
        enqueue_after_commit(cohort_sweep_delete_task, operation.pk)
    return operation


def cohort_sweep_delete_run(*, operation_id: int) -> bool:
    """One step of removing what a sweep found; True while some must be looked at again
    (a notebook instance stops before it can be deleted)."""
    operation = (
        CohortOperation.objects.select_related("cohort")
        .filter(pk=operation_id, kind=Op.Kind.SWEEP_DELETE)
        .first()
    )
    if operation is None or operation.is_final:
        return False
    connection = lab_settings_for(operation.cohort).account.connection()
    remaining, problems, removed = [], [], 0
    for data in operation.found:
        item = inventory.CloudItem.from_dict(data)
        try:
            outcome = inventory.item_remove(connection, item)
        except CloudError as error:
            if error.retryable:
                remaining.append(data)
            else:
                problems.append(f"{item.name}: {error.message}")
            continue
        if outcome == inventory.WAITING:
            remaining.append(data)
        else:
            removed += 1
    overdue = timezone.now() - operation.created_at > CHECK_DEADLINE
    if remaining and not overdue:
        _save(
            operation,
            found=remaining,
            resources_touched=operation.resources_touched + removed,
            summary=f"Waiting for the cloud: {len(remaining)} resource(s) still stopping "
            "or deleting.",
        )
        return True
    total = operation.resources_touched + removed
    summary = f"Removed {total} resource{'s' if total != 1 else ''} from the cloud."
    if remaining:
        summary += f" {len(remaining)} did not finish in time."
    if problems:
        summary += " Problems: " + "; ".join(problems)
    _finish(
        operation,
        state=Op.State.FAILED if problems or remaining else Op.State.DONE,
        found=remaining,
        resources_touched=total,
        summary=summary,
    )
    return False
