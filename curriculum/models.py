from django.conf import settings
from django.db import models


class Lesson(models.Model):
    """A course page loaded from a Markdown file in curriculum/content/."""

    class Kind(models.TextChoices):
        LESSON = "lesson", "Lesson"
        RECAP = "recap", "Recap"
        LAB = "lab", "Lab"
        PLAN = "plan", "Lesson plan"

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        INSTRUCTORS = "instructors", "Instructors only"

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    module = models.PositiveSmallIntegerField()
    module_title = models.CharField(max_length=200)
    order = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LESSON)
    audience = models.CharField(max_length=12, choices=Audience.choices, default=Audience.EVERYONE)
    lab = models.CharField(max_length=20, blank=True)
    # [{"key": "...", "text": "..."}]; the key is derived from the text, so editing an
    # objective's wording resets its ticks rather than moving them to another one.
    objectives = models.JSONField(default=list)
    body_html = models.TextField()
    source_name = models.CharField(max_length=200)
    source_sha256 = models.CharField(max_length=64)
    # A lesson whose file was removed is hidden, not deleted, so learners' progress stays.
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["module", "order", "slug"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_for_instructors(self) -> bool:
        return self.audience == self.Audience.INSTRUCTORS

    def objective_keys(self) -> set[str]:
        return {objective["key"] for objective in self.objectives}


class ObjectiveTick(models.Model):
    """A learner ticked one "You will be able to" objective of a lesson."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="ticks")
    objective_key = models.CharField(max_length=16)
    ticked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "lesson", "objective_key"], name="one_tick_per_objective"
            )
        ]


class LessonCompletion(models.Model):
    """A learner marked a lesson complete."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="completions")
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "lesson"], name="one_completion_per_lesson")
        ]
