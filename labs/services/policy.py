"""The cohort's guard rails, checked before anything is enqueued."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings as django_settings
from django.db.models import Sum
from django.utils import timezone

from labs.cloud import pricing, regions
from labs.models import (
    DEFAULT_INSTANCE_TYPES,
    DEFAULT_REGIONS,
    CloudAccount,
    CloudResource,
    LabSettings,
    open_period_cost,
)
from portal.models import Cohort

BILLABLE_KINDS = (
    CloudResource.Kind.NOTEBOOK,
    CloudResource.Kind.TRAINING_JOB,
    CloudResource.Kind.TRANSFORM_JOB,
)


class LaunchRefusedError(Exception):
    """A launch the cohort's rules do not allow; the message says why, for the learner."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LaunchPlan:
    region: str
    instance_type: str
    hourly_usd: Decimal


def lab_settings_for(cohort: Cohort) -> LabSettings:
    """The cohort's lab settings, created on first use pointing at localcloud."""
    existing = LabSettings.objects.filter(cohort=cohort).select_related("account").first()
    if existing:
        existing.cohort = cohort  # Already read by the caller; saves a query per launch.
        return existing
    account, _ = CloudAccount.objects.get_or_create(
        name="localcloud",
        kind=CloudAccount.Kind.LOCALCLOUD,
        defaults={"endpoint_url": django_settings.LOCALCLOUD_URL},
    )
    lab_settings, _ = LabSettings.objects.get_or_create(
        cohort=cohort,
        defaults={
            "account": account,
            "allowed_regions": list(DEFAULT_REGIONS),
            "allowed_instance_types": list(DEFAULT_INSTANCE_TYPES),
        },
    )
    return lab_settings


def cohort_spend(cohort: Cohort) -> Decimal:
    """Estimated spend so far: settled periods plus what running resources accrue."""
    settled = CloudResource.objects.filter(cohort=cohort).aggregate(
        total=Sum("estimated_cost_usd")
    )["total"] or Decimal("0")
    # Read as plain values: in a class-wide launch every launch asks this while up to a
    # whole cohort of jobs is billing.
    open_periods = CloudResource.objects.filter(
        cohort=cohort, billing_started_at__isnull=False, hourly_usd__gt=0
    ).values_list("hourly_usd", "billing_started_at")
    now = timezone.now()
    return settled + sum(
        (open_period_cost(hourly, started, now) for hourly, started in open_periods),
        Decimal("0"),
    )


def check_region(lab_settings: LabSettings, region: str) -> str:
    if region not in lab_settings.allowed_regions:
        allowed = ", ".join(lab_settings.allowed_regions) or "none"
        name = regions.region_name(region) if regions.is_known_region(region) else "unknown"
        raise LaunchRefusedError(
            f"The region {region!r} ({name}) is not open to your cohort. Pick one of: {allowed}."
        )
    return region


def offered_instance_types(lab_settings: LabSettings, kind: str) -> list[str]:
    """The allowed types a learner may pick for ``kind``: GPU types only while the cohort
    has GPUs on, and burstable types for notebook instances only (jobs cannot use them)."""
    return [
        name
        for name in lab_settings.allowed_instance_types
        if (lab_settings.gpu_allowed or not pricing.is_gpu(name))
        and (kind == CloudResource.Kind.NOTEBOOK or not pricing.notebook_only(name))
        and name in pricing.sagemaker_accepts(kind)
    ]


def check_instance_type(lab_settings: LabSettings, instance_type: str, kind: str) -> str:
    offered = offered_instance_types(lab_settings, kind)
    if instance_type in offered:
        return instance_type
    if instance_type in lab_settings.allowed_instance_types and pricing.is_gpu(instance_type):
        raise LaunchRefusedError(
            f"{instance_type} is a GPU instance type and your instructor has not turned GPUs "
            "on for this cohort. Use a CPU type, or ask your instructor."
        )
    if (
        instance_type in lab_settings.allowed_instance_types
        and instance_type not in pricing.sagemaker_accepts(kind)
    ):
        what = CloudResource.Kind(kind).label.lower()
        raise LaunchRefusedError(
            f"SageMaker does not offer {instance_type} for a {what}; pick another type."
        )
    if instance_type in lab_settings.allowed_instance_types:  # burstable, for a job
        raise LaunchRefusedError(
            f"{instance_type} is a burstable type that SageMaker offers for notebook instances "
            "only; pick another type for training and batch transform jobs."
        )
    raise LaunchRefusedError(
        f"The instance type {instance_type!r} is not allowed in your cohort. "
        f"Pick one of: {', '.join(offered) or 'none (ask your instructor)'}."
    )


def check_target(lab_settings: LabSettings, *, kind: str, region: str, instance_type: str):
    """Whether the cohort allows this region and instance type at all: checked first, so
    that a second click with a type the cohort refuses is told so, even while the
    learner's first resource is still running."""
    check_region(lab_settings, region)
    if kind in BILLABLE_KINDS:
        check_instance_type(lab_settings, instance_type, kind)


def plan_launch(
    *,
    lab_settings: LabSettings,
    kind: str,
    region: str,
    live_billable: int,
    instance_type: str = "",
) -> LaunchPlan:
    """Everything that must hold before a launch is accepted: the region and type
    (``check_target``), the learner's limit and the cohort's budget; raises with a sentence.
    ``live_billable``: how many billable resources the learner has live in the cohort."""
    check_target(lab_settings, kind=kind, region=region, instance_type=instance_type)
    hourly = Decimal("0")
    if kind in BILLABLE_KINDS:
        hourly = pricing.hourly_price(instance_type, region)
        if live_billable >= lab_settings.max_active_per_learner:
            raise LaunchRefusedError(
                f"You already have {live_billable} running resources, the most your cohort "
                f"allows ({lab_settings.max_active_per_learner}). Stop or delete one first."
            )
        spend = cohort_spend(lab_settings.cohort)
        if spend >= lab_settings.budget_usd:
            raise LaunchRefusedError(
                f"Your cohort has used its budget (${spend:.2f} of "
                f"${lab_settings.budget_usd:.2f}). Ask your instructor before starting more."
            )
    return LaunchPlan(region=region, instance_type=instance_type, hourly_usd=hourly)
