from django.conf import settings
from django.db import models


class Cohort(models.Model):
    """A class of learners taught together, with its instructors."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Enrolment", related_name="cohorts"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Enrolment(models.Model):
    """A user's place in a cohort: learner or instructor."""

    class Role(models.TextChoices):
        LEARNER = "learner", "Learner"
        INSTRUCTOR = "instructor", "Instructor"

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="enrolments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolments"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.LEARNER)
    enrolled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cohort", "user"], name="one_enrolment_per_cohort")
        ]
        indexes = [models.Index(fields=["user", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.cohort} as {self.role}"
