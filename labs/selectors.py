"""Read queries for lab pages. Every lookup is scoped to who is asking."""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404

from labs.models import (
    HELD,
    CloudResource,
    Lab,
    LabCheck,
    LabPreference,
    LabSettings,
    ResourceEvent,
)
from portal.models import Cohort
from portal.selectors import enrolments_first_to_last


@dataclass(frozen=True)
class LearnerLabs:
    cohort: Cohort
    lab_settings: LabSettings | None  # None until the cohort's first lab request
    chosen_region: str | None  # None until the learner picks one


def learner_labs(user) -> LearnerLabs | None:
    """The cohort whose labs this user works in (their earliest enrolment), its lab
    settings and the region they picked, in one query: every lab request starts here."""
    chosen = LabPreference.objects.filter(
        user=OuterRef("user_id"), cohort=OuterRef("cohort_id")
    ).values("region")[:1]
    enrolment = (
        enrolments_first_to_last(user)
        .select_related("cohort__lab_settings__account")
        .annotate(chosen_region=Subquery(chosen))
        .first()
    )
    if enrolment is None:
        return None
    cohort = enrolment.cohort
    try:
        lab_settings = cohort.lab_settings
    except LabSettings.DoesNotExist:
        lab_settings = None
    return LearnerLabs(cohort, lab_settings, enrolment.chosen_region)


def region_within(chosen: str | None, allowed: list[str]) -> str:
    """The learner's region if the cohort still allows it, else the cohort's first."""
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


def resource_counts_in_other_regions(
    *, user, cohort: Cohort, lab: str, region: str, allowed_regions: list[str]
) -> list[dict]:
    """The lab's resources held elsewhere (live, or a notebook that can be started again):
    the classic "my work is gone" is a region switch. Each group says whether its region
    can still be picked."""
    # In a region no longer offered, anything not deleted counts (the page lists it).
    shown = HELD | ~Q(region__in=allowed_regions)
    groups = list(
        CloudResource.objects.filter(shown, owner=user, cohort=cohort, lab=lab)
        .exclude(state=CloudResource.State.DELETED)
        .exclude(region=region)
        .values("region")
        .annotate(count=Count("id"))
        .order_by("region")
    )
    for group in groups:
        group["allowed"] = group["region"] in allowed_regions
    return groups


def resource_list_outside_regions(*, user, cohort: Cohort, lab: str, allowed_regions: list[str]):
    """The lab's resources left in regions the cohort no longer offers: the region menu
    cannot reach them, and they may still bill (or keep the instructor's alert up), so the
    page lists every one not deleted, to stop or delete."""
    return (
        CloudResource.objects.filter(owner=user, cohort=cohort, lab=lab)
        .exclude(state=CloudResource.State.DELETED)
        .exclude(region__in=allowed_regions)
        .select_related("parent")
        .order_by("region", "created_at")
    )


def resource_list_recently_deleted(*, user, cohort: Cohort, lab: str, since):
    """The lab's resources deleted since ``since``, newest first, each with the sentence
    that asked for its deletion (the learner, the clean-up, the lab time or an
    instructor): "where is my notebook?" has an answer on the page."""
    asked = ResourceEvent.objects.filter(
        resource=OuterRef("pk"), state=CloudResource.State.DELETING
    ).order_by("at", "id")
    return (
        CloudResource.objects.filter(
            owner=user,
            cohort=cohort,
            lab=lab,
            state=CloudResource.State.DELETED,
            updated_at__gte=since,
        )
        .annotate(deleted_because=Subquery(asked.values("message")[:1]))
        .order_by("-updated_at")[:10]
    )


def bucket_names_used(*, user, cohort: Cohort, region: str) -> set[str]:
    """Every name the learner's buckets in this region have had, deleted ones included
    (a row keeps its name for good)."""
    return set(
        CloudResource.objects.filter(
            owner=user, cohort=cohort, kind=CloudResource.Kind.BUCKET, region=region
        ).values_list("cloud_name", flat=True)
    )


def resource_latest(*, user, cohort: Cohort, lab: str, kind: str, region: str, states=None):
    """The learner's newest resource of this kind for a lab in a region (in ``states``)."""
    resources = CloudResource.objects.filter(
        owner=user, cohort=cohort, lab=lab, kind=kind, region=region
    ).select_related("account", "cohort")
    if states:
        resources = resources.filter(state__in=states)
    return resources.order_by("-created_at").first()


def training_job_for_transform(*, user, cohort: Cohort, region: str) -> CloudResource | None:
    """The training job whose model Lab 4 uses: the learner's newest completed one in
    the region, if its model was saved."""
    job = resource_latest(
        user=user,
        cohort=cohort,
        lab=Lab.TRAINING,
        kind=CloudResource.Kind.TRAINING_JOB,
        region=region,
        states=(CloudResource.State.COMPLETED,),
    )
    return job if job is not None and job.details.get("model_artifact") else None


def lab_check_latest(*, user, cohort: Cohort, lab: str) -> LabCheck | None:
    return (
        LabCheck.objects.filter(user=user, cohort=cohort, lab=lab).order_by("-created_at").first()
    )


def lab_check_get_for_user(*, user, pk: int) -> LabCheck:
    check = LabCheck.objects.filter(pk=pk, user=user).first()
    if check is None:
        raise Http404("No such check.")
    return check
