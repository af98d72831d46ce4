"""Lab time-to-live: expired resources are stopped first (notebooks keep their files),
then deleted after a grace period; each step lands in the timeline."""

from datetime import timedelta

from django.utils import timezone

from labs import drivers
from labs.models import CloudResource
from labs.services.events import resource_transition
from labs.services.policy import LaunchRefusedError
from labs.services.resources import resource_request_action

State = CloudResource.State
GRACE = timedelta(minutes=30)
# The states the lab time acts on (a request not yet in the cloud, or a step under way,
# waits for the cloud's answer).
EXPIRING_STATES = (
    State.READY,
    State.RUNNING,
    State.PROVISIONING,
    State.STOPPED,
    State.COMPLETED,
    State.FAILED,
)


def resources_expire_due(*, now=None) -> int:
    now = now or timezone.now()
    due = CloudResource.objects.filter(
        expires_at__lte=now, state__in=EXPIRING_STATES
    ).select_related("account")
    handled = 0
    for resource in due:
        actions = drivers.for_kind(resource.kind).actions_for(resource)
        action = "stop" if "stop" in actions else "delete" if "delete" in actions else None
        if action is None:
            continue
        if action == "stop":
            message = "Lab time is up: stopping it so it stops billing"
            if resource.kind == CloudResource.Kind.NOTEBOOK:
                message += " (your notebook files are kept)"
            message += (
                f". It will be deleted after {int(GRACE.total_seconds() // 60)} more minutes."
            )
        else:
            message = "Lab time is up: deleting it."
        # The next step comes after the grace period, whatever happens to this one.
        CloudResource.objects.filter(pk=resource.pk).update(expires_at=now + GRACE)
        try:
            resource_request_action(resource=resource, action=action, message=message)
        except LaunchRefusedError:
            continue
        handled += 1
    return handled


def resource_extend(*, resource: CloudResource, minutes: int) -> CloudResource:
    new_expiry = max(resource.expires_at or timezone.now(), timezone.now()) + timedelta(
        minutes=minutes
    )
    return resource_transition(
        resource, expires_at=new_expiry, message=f"Time extended by {minutes} minutes."
    )
