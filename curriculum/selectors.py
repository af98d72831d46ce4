"""Read queries for the course pages."""

from dataclasses import dataclass
from itertools import groupby

from django.http import Http404

from curriculum.models import Lesson, LessonCompletion, ObjectiveTick
from portal.selectors import user_is_instructor


class LessonForbiddenError(Exception):
    """The lesson exists but this user may not see it (instructors only)."""


@dataclass
class TocEntry:
    lesson: Lesson
    ticked: int
    completed: bool


@dataclass
class TocModule:
    number: int
    title: str
    entries: list[TocEntry]

    @property
    def completed(self) -> int:
        return sum(entry.completed for entry in self.entries)


def lesson_list_visible(user):
    lessons = Lesson.objects.filter(is_published=True)
    if not user_is_instructor(user):
        lessons = lessons.exclude(audience=Lesson.Audience.INSTRUCTORS)
    return lessons


def lesson_get_visible(*, user, slug: str) -> Lesson:
    """The published lesson, 404 if unknown, LessonForbiddenError if not for this user."""
    lesson = Lesson.objects.filter(slug=slug, is_published=True).first()
    if lesson is None:
        raise Http404("No such lesson.")
    if lesson.is_for_instructors and not user_is_instructor(user):
        raise LessonForbiddenError(slug)
    return lesson


def toc_for_user(user) -> list[TocModule]:
    """The table of contents by module with this user's ticks: three queries in all."""
    lessons = list(lesson_list_visible(user).defer("body_html"))
    ticks: dict[int, int] = {}
    for lesson_id in ObjectiveTick.objects.filter(user=user).values_list("lesson_id", flat=True):
        ticks[lesson_id] = ticks.get(lesson_id, 0) + 1
    completed = set(LessonCompletion.objects.filter(user=user).values_list("lesson_id", flat=True))
    modules = []
    for (number, title), group in groupby(lessons, key=lambda ls: (ls.module, ls.module_title)):
        entries = [TocEntry(ls, ticks.get(ls.id, 0), ls.id in completed) for ls in group]
        modules.append(TocModule(number, title, entries))
    return modules


def lesson_neighbours(*, user, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    ordered = list(lesson_list_visible(user).only("slug", "title", "module", "order"))
    index = next(i for i, item in enumerate(ordered) if item.pk == lesson.pk)
    previous = ordered[index - 1] if index > 0 else None
    following = ordered[index + 1] if index + 1 < len(ordered) else None
    return previous, following


def lesson_progress_for_user(*, user, lesson: Lesson) -> tuple[set[str], bool]:
    ticked = set(
        ObjectiveTick.objects.filter(user=user, lesson=lesson).values_list(
            "objective_key", flat=True
        )
    )
    completed = LessonCompletion.objects.filter(user=user, lesson=lesson).exists()
    return ticked, completed
