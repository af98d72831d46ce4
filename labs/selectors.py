"""Read queries for lab pages. Every lookup is scoped to who is asking."""

from django.db.models import Count
from django.http import Http404

from labs.models import CloudResource, LabCheck, LabPreference
from portal.models import Cohort, Enrolment


def cohort_for_learner(user) -> Cohort | None:
    """The cohort whose labs this user works in (their earliest enrolment)."""
    enrolment = (
        Enrolment.objects.filter(user=user)
        .select_related("cohort")
        .order_by("enrolled_at")
        .first()
    )
    return enrolment.cohort if enrolment else None


def region_for_learner(*, user, cohort: Cohort, allowed: list[str]) -> str:
    chosen = (
        LabPreference.objects.filter(user=user, cohort=cohort)
        .values_list("region", flat=True)
        .first()
    )
    if chosen in allowed:
        return chosen
    return allowed[0] if allowed else "us-east-1"


def resource_get_for_owner(*, user, pk: int) -> CloudResource:
    """The learner's own resource; anyone else's id is simply not found."""
    resource = CloudResource.objects.filter(pk=pk, owner=user).first()
    if resource is None:
        raise Http404("No such resource.")
    return resource


def resource_list_for_lab(*, user, cohort: Cohort, lab: str, region: str):
    return (
        CloudResource.objects.filter(owner=user, cohort=cohort, lab=lab, region=region)
        .exclude(state=CloudResource.State.DELETED)
        .select_related("parent")
        .order_by("created_at")
    )


def resource_counts_in_other_regions(*, user, cohort: Cohort, region: str) -> list[dict]:
    """Live resources elsewhere: the classic "my work is gone" is a region switch."""
    return list(
        CloudResource.objects.filter(
            owner=user, cohort=cohort, state__in=CloudResource.LIVE_STATES
        )
        .exclude(region=region)
        .values("region")
        .annotate(count=Count("id"))
        .order_by("region")
    )


def resource_latest(*, user, cohort: Cohort, lab: str, kind: str, region: str, states=None):
    """The learner's newest resource of this kind for a lab in a region (in ``states``)."""
    resources = CloudResource.objects.filter(
        owner=user, cohort=cohort, lab=lab, kind=kind, region=region
    ).select_related("account", "cohort")
    if states:
        resources = resources.filter(state__in=states)
    return resources.order_by("-created_at").first()


def lab_check_latest(*, user, cohort: Cohort, lab: str) -> LabCheck | None:
    return (
        LabCheck.objects.filter(user=user, cohort=cohort, lab=lab).order_by("-created_at").first()
    )


def lab_check_get_for_user(*, user, pk: int) -> LabCheck:
    check = LabCheck.objects.filter(pk=pk, user=user).first()
    if check is None:
        raise Http404("No such check.")
    return check
