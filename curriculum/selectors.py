"""Read queries for the course pages."""

from dataclasses import dataclass
from itertools import groupby

from django.core.cache import cache
from django.http import Http404

from curriculum.models import Lesson, LessonCompletion, ObjectiveTick
from portal.page_cache import forget_shared_pages
from portal.selectors import user_is_instructor


class LessonForbiddenError(Exception):
    """The lesson exists but this user may not see it (instructors only)."""


OUTLINE_CACHE_KEY = "curriculum:outline"
COURSE_PAGES = "course"  # The page-cache generation of pages that show the course.


@dataclass(frozen=True)
class OutlineEntry:
    """What the table of contents and previous/next links need of a lesson."""

    id: int
    slug: str
    title: str
    module: int
    module_title: str
    kind: str
    audience: str
    objective_count: int

    @property
    def kind_label(self) -> str:
        return Lesson.Kind(self.kind).label

    @property
    def is_for_instructors(self) -> bool:
        return self.audience == Lesson.Audience.INSTRUCTORS


def course_outline() -> list[OutlineEntry]:
    """The published lessons in order. It changes only when the course is loaded, so it
    is cached for every process; load_course drops the cached copy."""
    outline = cache.get(OUTLINE_CACHE_KEY)
    if outline is None:
        outline = [
            OutlineEntry(
                lesson.id, lesson.slug, lesson.title, lesson.module, lesson.module_title,
                lesson.kind, lesson.audience, len(lesson.objectives),
            )
            for lesson in Lesson.objects.filter(is_published=True).defer("body_html")
        ]  # fmt: skip
        cache.set(OUTLINE_CACHE_KEY, outline, None)
    return outline


def forget_course_outline() -> None:
    """The course changed: drop the outline and every page rendered from it."""
    cache.delete(OUTLINE_CACHE_KEY)
    forget_shared_pages(COURSE_PAGES)


def outline_visible(user) -> list[OutlineEntry]:
    if user_is_instructor(user):
        return course_outline()
    return [entry for entry in course_outline() if not entry.is_for_instructors]


@dataclass
class TocEntry:
    lesson: OutlineEntry
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
    lessons = outline_visible(user)
    ticks: dict[int, int] = {}
    for lesson_id in ObjectiveTick.objects.filter(user=user).values_list("lesson_id", flat=True):
        ticks[lesson_id] = ticks.get(lesson_id, 0) + 1
    completed = set(LessonCompletion.objects.filter(user=user).values_list("lesson_id", flat=True))
    modules = []
    for (number, title), group in groupby(lessons, key=lambda ls: (ls.module, ls.module_title)):
        entries = [TocEntry(ls, ticks.get(ls.id, 0), ls.id in completed) for ls in group]
        modules.append(TocModule(number, title, entries))
    return modules


def lesson_neighbours(*, user, lesson: Lesson) -> tuple[OutlineEntry | None, OutlineEntry | None]:
    ordered = outline_visible(user)
    index = next((i for i, item in enumerate(ordered) if item.id == lesson.pk), None)
    if index is None:  # Published after the outline was cached: no neighbours to show.
        forget_course_outline()
        return None, None
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
