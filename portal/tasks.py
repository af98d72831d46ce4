from celery import shared_task

from portal.models import Cohort


@shared_task
def cohort_size_task(cohort_id: int) -> int | None:
    """How many people are enrolled; used to check a worker reaches the database."""
    cohort = Cohort.objects.filter(pk=cohort_id).first()
    return None if cohort is None else cohort.enrolments.count()
