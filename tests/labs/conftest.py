import time

import pytest

from labs.models import CloudAccount, CloudResource, LabCheck, LabSettings
from labs.services.policy import lab_settings_for


@pytest.fixture
def cloud_lab_settings(cohort, localcloud) -> LabSettings:
    """The cohort's labs point at the test session's real localcloud process."""
    account = CloudAccount.objects.create(
        name="test localcloud", kind=CloudAccount.Kind.LOCALCLOUD, endpoint_url=localcloud.url
    )
    lab_settings = lab_settings_for(cohort)
    lab_settings.account = account
    lab_settings.save()
    return lab_settings


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.2, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


def wait_for_state(resource_id: int, states, *, timeout: float = 90.0) -> CloudResource:
    states = {states} if isinstance(states, str) else set(states)

    def reached():
        row = CloudResource.objects.get(pk=resource_id)
        return row if row.state in states else None

    try:
        return wait_for(reached, timeout=timeout, what=f"resource {resource_id} to be {states}")
    except AssertionError:
        row = CloudResource.objects.get(pk=resource_id)
        events = "; ".join(row.events.values_list("message", flat=True))
        raise AssertionError(
            f"resource {row.cloud_name} is {row.state}/{row.cloud_status}/"
            f"{row.secondary_status} ({row.failure_reason}); timeline: {events}"
        ) from None


def wait_for_check(check_id: int, *, timeout: float = 60.0) -> LabCheck:
    return wait_for(
        lambda: LabCheck.objects.exclude(state="pending").filter(pk=check_id).first(),
        timeout=timeout,
        what=f"check {check_id}",
    )
