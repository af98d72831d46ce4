"""Launching, submitting, stopping and deleting cloud resources."""

import logging
from datetime import timedelta
from decimal import ROUND_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from labs import drivers
from labs.cloud import naming
from labs.cloud.errors import CloudError
from labs.models import CloudResource, LabSettings, is_held
from labs.services.events import (
    cloud_mirror_transaction,
    remember_version,
    resource_transition,
    resource_try_transition,
)
from labs.services.observation import Observation
from labs.services.policy import (
    BILLABLE_KINDS,
    LaunchRefusedError,
    check_target,
    lab_settings_for,
    offered_instance_types,
    plan_launch,
)
from labs.services.queueing import enqueue_after_commit

# How long a launch form's second click still means "the same launch".
LAUNCH_KEY_WINDOW = timedelta(minutes=10)

logger = logging.getLogger(__name__)
State = CloudResource.State
Kind = CloudResource.Kind


def resource_launch(
    *,
    learner,
    lab_settings: LabSettings,
    lab: str,
    kind: str,
    region: str,
    instance_type: str = "",
    params: dict | None = None,
    parent: CloudResource | None = None,
    cloud_name: str = "",
    launch_key: str = "",
) -> CloudResource:
    """Accept a launch (or return the resource a double click already made: the live
    one, or the one made from the same launch form, ``launch_key``).

    Checks the cohort's rules first and refuses with a LaunchRefusedError; otherwise
    records the request and enqueues its submission once the row is committed.
    """
    from labs.tasks import resource_submit_task

    check_target(lab_settings, kind=kind, region=region, instance_type=instance_type)
    cohort = lab_settings.cohort
    mine = _learner_rows(learner, cohort)
    launched = _launched_from_form(mine, kind, launch_key)
    if launched:
        return launched
    held = _held(mine, lab, kind, region, launch_key)
    if held:
        return held
    plan = plan_launch(
        lab_settings=lab_settings,
        kind=kind,
        region=region,
        instance_type=instance_type,
        live_billable=sum(
            1
            for row in mine
            if row["kind"] in BILLABLE_KINDS and row["state"] in CloudResource.LIVE_STATES
        ),
    )
    attempt = 1 + sum(1 for row in mine if row["lab"] == lab and row["kind"] == kind)
    name = cloud_name or naming.resource_name(
        kind=kind, cohort_slug=cohort.slug, user_id=learner.pk, lab=lab, attempt=attempt
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            resource = CloudResource.objects.create(
                owner=learner,
                cohort=cohort,
                account=lab_settings.account,
                lab=lab,
                kind=kind,
                region=plan.region,
                attempt=attempt,
                cloud_name=name,
                instance_type=plan.instance_type,
                hourly_usd=plan.hourly_usd,
                params=params or {},
                parent=parent,
                expires_at=now + lab_settings.lab_ttl,
                launch_key=launch_key,
            )
            resource.events.create(
                state=resource.state,
                message=f"You asked for {resource.kind_with_article}, {name}, in {plan.region}.",
            )
    except IntegrityError:
        # A concurrent click got there first (same lab and region, or the same
        # deterministic name): use what it made.
        held = _held(_learner_rows(learner, cohort), lab, kind, region, launch_key)
        if held:
            return held
        raise LaunchRefusedError(
            f"The name {name} is already taken in {region}. Choose another name."
        ) from None
    remember_version(resource.pk, resource.owner_id, resource.version)
    enqueue_after_commit(resource_submit_task, resource.pk)
    return resource


def _learner_rows(learner, cohort) -> list[dict]:
    """The learner's rows in the cohort, newest first, as the few values a launch decides
    on: one query rather than one per question (the same form? one held already? which
    attempt? how many running?), which in a class-wide launch all wait their turn."""
    return list(
        CloudResource.objects.filter(owner=learner, cohort=cohort)
        .order_by("-created_at")
        .values("pk", "lab", "kind", "region", "state", "launch_key", "created_at")
    )


def _launched_from_form(mine: list[dict], kind: str, launch_key: str) -> CloudResource | None:
    """A resource this launch form made moments ago (a page left open for longer and
    clicked again launches anew)."""
    if not launch_key:
        return None
    since = timezone.now() - LAUNCH_KEY_WINDOW
    for row in mine:
        if row["kind"] == kind and row["launch_key"] == launch_key and row["created_at"] >= since:
            return CloudResource.objects.filter(pk=row["pk"]).first()
    return None


# A model costs nothing and belongs to one training job: a new launch form uses it again.
_SHARED_ACROSS_FORMS = {Kind.MODEL}

# What frees the lab's place for a new one, said when a second launch is refused.
_TO_LAUNCH_ANOTHER = {
    Kind.BUCKET: "Delete it first if you want another one.",
    Kind.NOTEBOOK: "Use that one, or delete it when you want a new one.",
    Kind.TRAINING_JOB: "Wait until it has finished (or stop it) to launch another.",
    Kind.TRANSFORM_JOB: "Wait until it has finished (or stop it) to launch another.",
}


def _place_taken(held: CloudResource, you_have: str) -> str:
    """Why a second launch is refused, after ``you_have`` has named what holds the place."""
    if held.state not in CloudResource.LIVE_STATES:
        return f"{you_have}. Start it again or delete it."
    return (
        f"{you_have}, and this lab keeps one at a time per region. {_TO_LAUNCH_ANOTHER[held.kind]}"
    )


def launch_refused_by(resources, kind: str) -> str:
    """Why a launch of ``kind`` would be refused, judged on the region's cards already
    read for the page ("" when it would not): said above the form, before the click."""
    if kind in _SHARED_ACROSS_FORMS:
        return ""
    for held in resources:
        if held.kind == kind and is_held(held.kind, held.state):
            # No state in the sentence: the card beside it says the state, live.
            you_have = f"You have the {held.kind_in_sentence} {held.cloud_name} here"
            return _place_taken(held, you_have)
    return ""


def _held(
    mine: list[dict], lab: str, kind: str, region: str, launch_key: str
) -> CloudResource | None:
    """The learner's live resource for this lab, kind and region, if any. A stopped or
    failed notebook still counts: it is started again rather than made twice.

    A launch without a form key (an older page, a script) is answered with it, as a double
    click would be; one from another form (another tab, other settings) is refused, so
    that the learner is told rather than handed a resource they did not ask for."""
    pk = next(
        (
            row["pk"]
            for row in mine
            if (row["lab"], row["kind"], row["region"]) == (lab, kind, region)
            and is_held(row["kind"], row["state"])
        ),
        None,
    )
    held = CloudResource.objects.filter(pk=pk).first() if pk else None
    if held is None:
        return None
    you_have = (
        f"You already have the {held.kind_in_sentence} {held.cloud_name} "
        f"({held.get_state_display().lower()}) in {region}"
    )
    from_another_form = launch_key and held.launch_key != launch_key
    if held.state not in CloudResource.LIVE_STATES or (
        from_another_form and kind not in _SHARED_ACROSS_FORMS
    ):
        raise LaunchRefusedError(_place_taken(held, you_have))
    return held


def resource_claim_for_submit(resource_id: int) -> CloudResource | None:
    """Move a requested (or stale submitting) resource to submitting; None if another
    state means there is nothing to submit any more."""
    # One commit for the claim and its timeline line; the resubmit sweep redoes it
    # should a database crash lose it.
    with cloud_mirror_transaction():
        claimed = CloudResource.objects.filter(
            pk=resource_id, state__in=(State.REQUESTED, State.SUBMITTING)
        ).update(
            state=State.SUBMITTING,
            submit_attempts=F("submit_attempts") + 1,
            version=F("version") + 1,
        )
        if not claimed:
            return None
        resource = CloudResource.objects.select_related("account", "parent", "cohort").get(
            pk=resource_id
        )
        if resource.submit_attempts == 1:
            resource.events.create(
                state=State.SUBMITTING, message="Sending the request to the cloud."
            )
    remember_version(resource.pk, resource.owner_id, resource.version)
    return resource


def resource_submit(*, resource_id: int) -> CloudResource | None:
    """Create the resource in the cloud, adopting one of the same name left by an
    earlier try. Transient cloud errors propagate so the task retries; permanent ones
    mark the resource failed with the reason."""
    resource = resource_claim_for_submit(resource_id)
    if resource is None:
        return None
    from labs.tasks import resource_followup_task

    driver = drivers.for_kind(resource.kind)
    try:
        resource = _record_submission(resource, driver.submit(resource))
    except CloudError as error:
        if error.retryable:
            raise
        return resource_mark_failed(resource_id=resource_id, reason=error.message)
    if driver.needs_followup(resource):
        # A second step (a bucket's data) queues behind the other learners' first steps:
        # in a busy class every resource shows up in the cloud before any data is copied.
        enqueue_after_commit(resource_followup_task, resource.pk)
    return resource


def _record_submission(resource: CloudResource, seen: Observation) -> CloudResource:
    """Store the cloud's answer to a submission. A second run of the task, or a later
    step (an expiry's delete), may have written the row while the cloud answered: the
    later write wins. A write that left the row submitting (a clean-up or a stop asked
    meanwhile, noted for when the cloud has answered) does not: the answer is stored on
    the newer row, which then carries the note out."""
    resource = resource_apply_observation(resource, seen, only_if_unchanged=True)
    if resource.state == State.SUBMITTING:
        resource = resource_apply_observation(resource, seen, only_if_unchanged=True)
    return resource


def resource_followup(*, resource_id: int) -> CloudResource | None:
    """The second step of a submission, if it is still to do (refresh also finishes it,
    should this task be lost)."""
    resource = _row_for_task(resource_id)
    if resource is None:
        return None
    return resource_followup_row(resource)


def resource_followup_row(resource: CloudResource) -> CloudResource:
    """``resource_followup`` on a row already read (the task's, or refresh's). Retryable
    cloud errors propagate; a permanent one is recorded on the row. Like every step
    that asks the cloud, it writes only if the row is unchanged since it was read."""
    driver = drivers.for_kind(resource.kind)
    try:
        seen = driver.followup(resource)
    except CloudError as error:
        if error.retryable:
            raise
        return resource_transition(
            resource,
            message=f"Could not finish it: {error.message}",
            failure_reason=error.message,
            only_if_unchanged=True,
        )
    return resource_apply_observation(resource, seen, only_if_unchanged=True) if seen else resource


def resource_mark_failed(*, resource_id: int, reason: str) -> CloudResource | None:
    resource = CloudResource.objects.filter(pk=resource_id).first()
    if resource is None or resource.state in (State.FAILED, State.DELETED):
        return resource
    ended = Observation(state=State.FAILED, billing_ended_at=timezone.now())
    return resource_transition(
        resource,
        state=State.FAILED,
        failure_reason=reason,
        message=f"Failed: {reason}",
        **_billing_changes(resource, ended),
    )


def resource_apply_observation(
    resource: CloudResource, seen: Observation, *, only_if_unchanged: bool = False
) -> CloudResource:
    """Store what a driver saw; records a timeline event when the state or status moved.
    ``only_if_unchanged``: drop it if the row changed since ``resource`` was read."""
    fields: dict = {
        "cloud_status": seen.cloud_status,
        "secondary_status": seen.secondary_status,
    }
    if seen.modified_at:
        fields["cloud_modified_at"] = seen.modified_at
    if seen.arn:
        fields["arn"] = seen.arn
    if seen.failure_reason:
        fields["failure_reason"] = seen.failure_reason
    for name in ("progress_done", "progress_total", "metrics", "log_tail"):
        value = getattr(seen, name)
        if value is not None:
            fields[name] = value
    if seen.details:
        fields["details"] = {**resource.details, **seen.details}
    fields.update(_billing_changes(resource, seen))
    resource = resource_transition(
        resource,
        state=seen.state,
        message=seen.message,
        only_if_unchanged=only_if_unchanged,
        mirrors_cloud=True,
        **fields,
    )
    return _stop_if_asked_while_starting(_delete_if_cleanup_waits(resource))


# Set on a row that a lab's clean-up could not delete yet (the cloud had not answered).
DELETE_WHEN_SETTLED = "delete_when_settled"
# Set on a resource asked to stop before the cloud had created it (nothing to stop yet);
# holds the sentence for its timeline.
STOP_WHEN_STARTED = "stop_when_started"


def resource_stop_when_started(resource: CloudResource, *, message: str) -> bool:
    """Stop now if the resource can be stopped; one the cloud has not created yet is
    stopped as soon as it has. False when there is nothing to stop."""
    if "stop" in resource.available_actions:
        try:
            resource_request_action(resource=resource, action="stop", message=message)
        except LaunchRefusedError:
            return False
        return True
    if resource.state not in (State.REQUESTED, State.SUBMITTING, State.PROVISIONING):
        return False
    resource_transition(
        resource,
        message=f"{message} It will be stopped as soon as the cloud has created it.",
        details={**resource.details, STOP_WHEN_STARTED: message},
    )
    return True


def _stop_if_asked_while_starting(resource: CloudResource) -> CloudResource:
    message = resource.details.get(STOP_WHEN_STARTED)
    can_stop = "stop" in resource.available_actions
    still_coming = resource.state in (State.REQUESTED, State.SUBMITTING)
    if not message or (still_coming and not can_stop):
        return resource
    # Asked once, whatever came of it (stopped now, or failed or deleted first): a
    # learner who starts it again later keeps it running.
    details = {k: v for k, v in resource.details.items() if k != STOP_WHEN_STARTED}
    resource = resource_transition(resource, details=details)
    if not can_stop:
        return resource
    try:
        return resource_request_action(resource=resource, action="stop", message=message)
    except LaunchRefusedError:
        return resource


def resource_delete_when_settled(resource: CloudResource) -> CloudResource:
    """Delete now if the resource's state allows it; otherwise as soon as the cloud's
    answer makes it deletable (``resource_apply_observation``), so that a clean-up
    clicked during a launch still leaves nothing billing."""
    if "delete" in resource.available_actions:
        return _delete_unless_under_way(resource, message="The lab's clean-up deletes it.")
    return resource_transition(
        resource,
        message="Clean-up asked; it will be deleted as soon as the cloud has answered.",
        details={**resource.details, DELETE_WHEN_SETTLED: True},
    )


def _delete_if_cleanup_waits(resource: CloudResource) -> CloudResource:
    if not resource.details.get(DELETE_WHEN_SETTLED) or "delete" not in resource.available_actions:
        return resource
    # Billable resources go at once; a bucket first finishes its upload, so that the
    # upload task does not fail against a bucket deleted under it.
    if resource.kind not in BILLABLE_KINDS and resource.state not in CloudResource.RESTING_STATES:
        return resource
    return _delete_unless_under_way(resource, message="The lab's clean-up deletes it now.")


def _delete_unless_under_way(resource: CloudResource, *, message: str) -> CloudResource:
    """Ask for a delete; one already asked (another tab, the expiry) is just as good."""
    try:
        return resource_request_action(resource=resource, action="delete", message=message)
    except LaunchRefusedError:
        return resource


def _billing_changes(resource: CloudResource, seen: Observation) -> dict:
    """Open a billing period when the cloud starts charging, settle it when it stops."""
    changes: dict = {}
    started = resource.billing_started_at
    if seen.billing_started_at and started is None and seen.billing_ended_at is None:
        changes["billing_started_at"] = seen.billing_started_at
        changes["billing_ended_at"] = None
    elif seen.billing_ended_at and (started or seen.billing_started_at):
        start = started or seen.billing_started_at
        seconds = max(0.0, (seen.billing_ended_at - start).total_seconds())
        cost = resource.hourly_usd * Decimal(seconds) / Decimal(3600)
        # Rounded up: a second billed is never shown as nothing.
        changes["estimated_cost_usd"] = (resource.estimated_cost_usd + cost).quantize(
            Decimal("0.0001"), rounding=ROUND_UP
        )
        changes["billing_started_at"] = None
        changes["billing_ended_at"] = seen.billing_ended_at
    return changes


# What a resource is while an action asked for is carried out, and how to say so.
_INTENT = {"stop": State.STOPPING, "delete": State.DELETING, "start": State.PROVISIONING}
_UNDER_WAY = {"stop": "being stopped", "delete": "being deleted", "start": "starting"}


def resource_request_action(
    *, resource: CloudResource, action: str, message: str = ""
) -> CloudResource:
    """Stop, start or delete, as the learner (or an instructor) asked. The cloud call
    runs in a task; the row shows the intent at once.

    Decided on the row as it is when written: if another request wrote it since it was
    read (a second tab's delete, the refresher), the action is judged again on that, so
    two clicks never both record the same request."""
    from labs.tasks import resource_action_task

    def attempt(row: CloudResource) -> bool:
        _check_action_allowed(row, action)  # The state first, then the launch rules.
        if action == "start":
            _check_start_allowed(row)
        asked = resource_try_transition(
            row,
            state=_INTENT[action],
            message=message or f"You asked to {action} it.",
            only_if_unchanged=True,
        )
        if asked:
            enqueue_after_commit(resource_action_task, row.pk, action)
        return asked

    return _write_when_unchanged(resource, attempt)


def _write_when_unchanged(resource: CloudResource, attempt) -> CloudResource:
    """Run ``attempt`` (its checks, then a conditional write; True once it wrote) until it
    writes. A row another request wrote meanwhile is judged again as it now is."""
    for _ in range(5):
        with transaction.atomic():
            if attempt(resource):
                return resource
    raise LaunchRefusedError("It kept changing while you asked; reload the page and try again.")


def notebook_request_open_url(resource: CloudResource) -> CloudResource:
    """Ask a worker for a fresh JupyterLab link. The last one is dropped first: it lives
    5 minutes, and the card shows a link only once the new one is there."""
    from labs.tasks import notebook_open_url_task

    def attempt(row: CloudResource) -> bool:
        if row.kind != Kind.NOTEBOOK or row.state != State.READY:
            raise LaunchRefusedError("JupyterLab opens once the notebook instance is InService.")
        kept = {k: v for k, v in row.details.items() if k not in ("open_url", "open_url_at")}
        # Conditional, so that a detail a worker wrote meanwhile (the starter notebook put
        # in place) is not written over; an old failure is cleared, so that a new one
        # ends the card's wait for the link.
        asked = resource_try_transition(
            row, details=kept, failure_reason="", only_if_unchanged=True
        )
        if asked:
            enqueue_after_commit(notebook_open_url_task, row.pk)
        return asked

    return _write_when_unchanged(resource, attempt)


def _check_start_allowed(resource: CloudResource) -> None:
    """Starting a stopped notebook bills again, so a launch's rules hold: a region or type
    the cohort has since taken off its lists, the learner's limit, the budget."""
    lab_settings = lab_settings_for(resource.cohort)
    kind = resource.kind_in_sentence
    if resource.region not in lab_settings.allowed_regions:
        raise LaunchRefusedError(
            f"Your cohort no longer offers {resource.region}, so the {kind} "
            f"{resource.cloud_name} cannot be started there again. Delete it, and create a "
            "new one in your region."
        )
    if resource.instance_type not in offered_instance_types(lab_settings, resource.kind):
        raise LaunchRefusedError(
            f"Your cohort no longer allows {resource.instance_type}, so the {kind} "
            f"{resource.cloud_name} cannot be started again. Delete it, and create a new "
            "one with an offered type."
        )
    live_billable = CloudResource.objects.filter(
        owner_id=resource.owner_id,
        cohort_id=resource.cohort_id,
        kind__in=BILLABLE_KINDS,
        state__in=CloudResource.LIVE_STATES,
    ).count()
    plan_launch(
        lab_settings=lab_settings,
        kind=resource.kind,
        region=resource.region,
        instance_type=resource.instance_type,
        live_billable=live_billable,
    )


def _check_action_allowed(resource: CloudResource, action: str) -> None:
    if action in drivers.for_kind(resource.kind).actions_for(resource):
        return
    if resource.state == _INTENT[action]:
        raise LaunchRefusedError(
            f"The {resource.kind_in_sentence} {resource.cloud_name} is already "
            f"{_UNDER_WAY[action]}."
        )
    raise LaunchRefusedError(
        f"You can't {action} {resource.kind_with_article} that is "
        f"{resource.get_state_display().lower()}."
    )


def _row_for_task(resource_id: int) -> CloudResource | None:
    """The row with what a driver's cloud calls read (account, parent); None if gone."""
    return CloudResource.objects.select_related("account", "parent").filter(pk=resource_id).first()


def resource_perform_action(*, resource_id: int, action: str) -> CloudResource | None:
    resource = _row_for_task(resource_id)
    if resource is None or resource.state == State.DELETED:
        return resource
    if action == "delete" and resource.never_made:
        # Nothing of ours in the cloud: a bucket of that name is someone else's.
        return resource_transition(
            resource,
            state=State.DELETED,
            message="Removed from your list: the cloud never made it, so nothing was deleted "
            "there.",
        )
    driver = drivers.for_kind(resource.kind)
    try:
        observation = getattr(driver, action)(resource)
    except CloudError as error:
        if error.retryable:
            raise
        return _could_not(resource, action, error.message)
    return resource_apply_observation(resource, observation)


def resource_action_gave_up(*, resource_id: int, action: str, reason: str) -> None:
    """The action's retries ran out: the card says why instead of waiting on."""
    resource = _row_for_task(resource_id)
    if resource is not None and resource.state != State.DELETED:
        _could_not(resource, action, reason)


def _could_not(resource: CloudResource, action: str, reason: str) -> CloudResource:
    doing = "make a JupyterLab link for" if action == "open_url" else action
    return resource_transition(
        resource, message=f"Could not {doing} it: {reason}", failure_reason=reason
    )


def resources_needing_resubmit(*, older_than) -> list[int]:
    """Rows stuck before the cloud heard of them, e.g. after a lost queue message or a
    killed worker: the database is the source of truth and the queue only a nudge."""
    cutoff = timezone.now() - older_than
    return list(
        CloudResource.objects.filter(
            Q(state=State.REQUESTED) | Q(state=State.SUBMITTING), updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
