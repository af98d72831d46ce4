"""Every state change of a resource goes through here, so the row's version bumps and
the timeline gains a sentence in one place."""

import contextlib
import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labs.models import CloudResource, ResourceEvent

logger = logging.getLogger(__name__)
VERSION_CACHE_SECONDS = 300


def version_cache_key(resource_id: int) -> str:
    return f"labs:resource-version:{resource_id}"


def remember_version(resource_id: int, owner_id: int, version: int) -> None:
    """Let unchanged status polls answer from the cache without a database query.

    Only an exact match short-circuits a poll, so a stale entry costs a query, never a
    wrong answer; if the cache cannot be written, the entry is dropped.
    """
    key = version_cache_key(resource_id)
    try:
        cache.set(key, f"{owner_id}:{version}", VERSION_CACHE_SECONDS)
    except Exception:  # Any cache failure means "ask the database" next time.
        logger.warning("could not cache the version of resource %s", resource_id)
        with contextlib.suppress(Exception):
            cache.delete(key)


def resource_transition(
    resource: CloudResource,
    *,
    state: str | None = None,
    message: str = "",
    only_if_unchanged: bool = False,
    mirrors_cloud: bool = False,
    **fields,
) -> CloudResource:
    """Save ``fields`` (and ``state``) on the row, bump its version and record an event
    when the state or cloud status changed or a message is given.

    ``only_if_unchanged``: write only if the row is still the version ``resource`` was
    read at; otherwise write nothing and hand back the row as it is now. For what was
    seen a while after the row was read, which a newer write must win over.

    ``mirrors_cloud``: the write only records what the cloud said, so it may commit
    without waiting for the disk (``cloud_mirror_transaction``).
    """
    resource_try_transition(
        resource,
        state=state,
        message=message,
        only_if_unchanged=only_if_unchanged,
        mirrors_cloud=mirrors_cloud,
        **fields,
    )
    return resource


def resource_try_transition(
    resource: CloudResource,
    *,
    state: str | None = None,
    message: str = "",
    only_if_unchanged: bool = False,
    mirrors_cloud: bool = False,
    **fields,
) -> bool:
    """``resource_transition``, saying whether it wrote; either way ``resource`` holds
    the row as it is now."""
    old_state, old_status, read_version = resource.state, resource.cloud_status, resource.version
    if state is not None:
        fields["state"] = state
    for name, value in fields.items():
        setattr(resource, name, value)
    fields["version"] = F("version") + 1
    fields["updated_at"] = timezone.now()
    rows = CloudResource.objects.filter(pk=resource.pk)
    if only_if_unchanged:
        rows = rows.filter(version=read_version)
    # The row and its timeline line commit together: one commit (one WAL flush) instead
    # of two, and no reader ever sees the new state without its sentence.
    with cloud_mirror_transaction() if mirrors_cloud else transaction.atomic():
        if not rows.update(**fields):
            resource.refresh_from_db()
            return False
        resource.refresh_from_db(fields=["version", "updated_at"])
        changed = resource.state != old_state or resource.cloud_status != old_status
        if changed or message:
            ResourceEvent.objects.create(
                resource=resource,
                state=resource.state,
                cloud_status=resource.cloud_status,
                message=message or f"Now {resource.get_state_display().lower()}.",
            )
    remember_version(resource.pk, resource.owner_id, resource.version)
    return True


@contextlib.contextmanager
def cloud_mirror_transaction():
    """An atomic block for writes that only record what the cloud said; when it is the
    outermost one, its commit returns before its WAL reaches the disk.

    A database crash can lose the last fraction of a second of such writes (it never
    corrupts anything), and the next refresh, or the resubmit sweep, reads the cloud
    again and writes them anew. In a class-wide launch they are most of the commits,
    and each one waiting for a disk flush of its own made every other commit (a
    learner's launch among them) queue behind it. A learner's own requests (launch,
    stop, delete) still wait for the disk, and so does any block this one is nested in.
    """
    connection = transaction.get_connection()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
