"""Read-only queries about users, cohorts and roles."""

from django.contrib.auth.models import AbstractBaseUser

from portal.models import Cohort, Enrolment


def user_is_instructor(user: AbstractBaseUser) -> bool:
    """Staff, or an instructor of at least one cohort. Remembered on the user object, so a
    request that asks twice (the page and its navigation) queries once."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    known = getattr(user, "_is_instructor", None)
    if known is None:
        known = Enrolment.objects.filter(user=user, role=Enrolment.Role.INSTRUCTOR).exists()
        user._is_instructor = known
    return known


def enrolments_first_to_last(user: AbstractBaseUser):
    """The user's enrolments, earliest first: a learner's labs run in the first one."""
    return Enrolment.objects.filter(user=user).order_by("enrolled_at")


def cohort_list_for_instructor(user: AbstractBaseUser):
    if user.is_staff:
        return Cohort.objects.all()
    return Cohort.objects.filter(
        enrolments__user=user, enrolments__role=Enrolment.Role.INSTRUCTOR
    ).distinct()
