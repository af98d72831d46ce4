"""Every state change of a resource goes through here, so the row's version bumps and
the timeline gains a sentence in one place."""

from django.db.models import F
from django.utils import timezone

from labs.models import CloudResource, ResourceEvent


def resource_transition(
    resource: CloudResource, *, state: str | None = None, message: str = "", **fields
) -> CloudResource:
    """Save ``fields`` (and ``state``) on the row, bump its version and record an event
    when the state or cloud status changed or a message is given."""
    old_state, old_status = resource.state, resource.cloud_status
    if state is not None:
        fields["state"] = state
    for name, value in fields.items():
        setattr(resource, name, value)
    fields["version"] = F("version") + 1
    fields["updated_at"] = timezone.now()
    CloudResource.objects.filter(pk=resource.pk).update(**fields)
    resource.refresh_from_db(fields=["version", "updated_at"])
    changed = resource.state != old_state or resource.cloud_status != old_status
    if changed or message:
        ResourceEvent.objects.create(
            resource=resource,
            state=resource.state,
            cloud_status=resource.cloud_status,
            message=message or f"Now {resource.get_state_display().lower()}.",
        )
    return resource
