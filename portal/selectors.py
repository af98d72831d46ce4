"""Read-only queries about users, cohorts and roles."""

from django.contrib.auth.models import AbstractBaseUser

from portal.models import Cohort, Enrolment


def user_is_instructor(user: AbstractBaseUser) -> bool:
    """Staff, or an instructor of at least one cohort."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    return Enrolment.objects.filter(user=user, role=Enrolment.Role.INSTRUCTOR).exists()


def cohort_list_for_instructor(user: AbstractBaseUser):
    if user.is_staff:
        return Cohort.objects.all()
    return Cohort.objects.filter(
        enrolments__user=user, enrolments__role=Enrolment.Role.INSTRUCTOR
    ).distinct()
