"""A cohort full of learners with progress and resources, made with bulk inserts (for the
query-count test, the browser test and bench/dashboard.py)."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from curriculum.models import Lesson, LessonCompletion, ObjectiveTick
from labs.cloud import naming
from labs.models import CloudResource, LabCheck, LabSettings, ResourceEvent
from portal.models import Enrolment

# Each learner gets 14 items: 8 lessons completed, 2 objectives ticked, 1 lab check and 3
# cloud resources (a bucket, a notebook that bills, a failed training job).
ITEMS_PER_LEARNER = 14


def populate_cohort(lab_settings: LabSettings, *, learners: int, start: int = 0) -> list:
    cohort = lab_settings.cohort
    now = timezone.now()
    User = get_user_model()
    users = User.objects.bulk_create(
        [
            User(
                username=f"{cohort.slug}-learner-{i:04d}",
                first_name="Learner",
                last_name=f"N{i}",
                password="!",
                last_login=now - timedelta(hours=i % 48),
            )
            for i in range(start, start + learners)
        ]
    )
    Enrolment.objects.bulk_create(
        [Enrolment(cohort=cohort, user=u, role=Enrolment.Role.LEARNER) for u in users]
    )
    lessons = list(
        Lesson.objects.filter(audience=Lesson.Audience.EVERYONE).order_by("module", "order")
    )
    completions, ticks, checks, resources = [], [], [], []
    for u in users:
        completions += [LessonCompletion(user=u, lesson=lesson) for lesson in lessons[:8]]
        ticks += [
            ObjectiveTick(user=u, lesson=lesson, objective_key=f"k{n}")
            for n, lesson in enumerate(lessons[8:10])
        ]
        checks.append(
            LabCheck(user=u, cohort=cohort, lab="notebook", region="eu-west-1", state="not_yet")
        )
        for lab, kind, region, state, instance_type, hourly in (
            ("storage", "bucket", "us-east-1", "ready", "", Decimal("0")),
            ("notebook", "notebook", "eu-west-1", "ready", "ml.t3.medium", Decimal("0.0555")),
            ("training", "training_job", "us-east-1", "failed", "ml.m5.large", Decimal("0.115")),
        ):
            resources.append(
                CloudResource(
                    owner=u,
                    cohort=cohort,
                    account=lab_settings.account,
                    lab=lab,
                    kind=kind,
                    region=region,
                    cloud_name=naming.resource_name(
                        kind=kind, cohort_slug=cohort.slug, user_id=u.pk, lab=lab, attempt=1
                    ),
                    instance_type=instance_type,
                    state=state,
                    cloud_status={"ready": "InService", "failed": "Failed"}[state],
                    hourly_usd=hourly,
                    billing_started_at=now - timedelta(minutes=40) if kind == "notebook" else None,
                    estimated_cost_usd=Decimal("0.0123") if kind == "training_job" else 0,
                    failure_reason="AlgorithmError: bad hyperparameter"
                    if state == "failed"
                    else "",
                    expires_at=now + timedelta(hours=2),
                )
            )
    LessonCompletion.objects.bulk_create(completions)
    ObjectiveTick.objects.bulk_create(ticks)
    LabCheck.objects.bulk_create(checks)
    made = CloudResource.objects.bulk_create(resources)
    ResourceEvent.objects.bulk_create(
        [ResourceEvent(resource=r, state=r.state, message="Made for the test.") for r in made]
    )
    return users
