"""State changes for the course: loading lessons, ticks and completions."""

from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction

from curriculum.loader import LessonFileError, parse_lesson_file
from curriculum.models import Lesson, LessonCompletion, ObjectiveTick
from curriculum.selectors import forget_course_outline
from portal.page_cache import forget_user_pages

CONTENT_DIR = Path(__file__).resolve().parent / "content"


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@transaction.atomic
def lesson_sync_from_directory(*, directory: Path = CONTENT_DIR) -> SyncReport:
    """Make the published lessons match the Markdown files in ``directory``.

    Idempotent: unchanged files are left alone, edited ones updated, and lessons whose
    file is gone are hidden (progress kept). Every file is parsed before anything is
    written, so one broken file changes nothing.
    """
    sources = [parse_lesson_file(path) for path in sorted(directory.glob("*.md"))]
    slugs = [source.slug for source in sources]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise LessonFileError(f"Two files share the slug(s): {', '.join(duplicates)}.")

    report = SyncReport()
    existing = {lesson.slug: lesson for lesson in Lesson.objects.all()}
    for source in sources:
        values = {k: v for k, v in source.__dict__.items() if k != "slug"}
        lesson = existing.get(source.slug)
        if lesson is None:
            Lesson.objects.create(slug=source.slug, **values)
            report.created.append(source.slug)
        elif lesson.source_sha256 != source.source_sha256 or not lesson.is_published:
            Lesson.objects.filter(pk=lesson.pk).update(is_published=True, **values)
            report.updated.append(source.slug)
        else:
            report.unchanged.append(source.slug)
    gone = Lesson.objects.filter(is_published=True).exclude(slug__in=slugs)
    report.hidden = list(gone.values_list("slug", flat=True))
    gone.update(is_published=False)
    transaction.on_commit(forget_course_outline)
    return report


def objective_set_ticked(*, user, lesson: Lesson, objective_key: str, ticked: bool) -> bool:
    """Tick or untick one objective; returns the new state. Safe to repeat."""
    if objective_key not in lesson.objective_keys():
        raise KeyError(objective_key)
    if ticked:
        try:
            with transaction.atomic():
                ObjectiveTick.objects.get_or_create(
                    user=user, lesson=lesson, objective_key=objective_key
                )
        except IntegrityError:
            pass  # A concurrent request ticked it first; the outcome is the same.
    else:
        ObjectiveTick.objects.filter(
            user=user, lesson=lesson, objective_key=objective_key
        ).delete()
    forget_user_pages(user.pk)
    return ticked


class CompletedByCheckError(Exception):
    """A lab's page is completed by passing its progress check, never by hand."""

    message = "A lab counts as done when its Check my progress passes on the lab page."


def lesson_set_completed(*, user, lesson: Lesson, completed: bool) -> bool:
    """A learner marks a reading page complete (or undoes it)."""
    if lesson.kind == Lesson.Kind.LAB:
        raise CompletedByCheckError
    return _record_completion(user=user, lesson=lesson, completed=completed)


def lab_lesson_passed(*, user, lab: str) -> None:
    """A passed progress check completes the lab's page."""
    lesson = Lesson.objects.filter(kind=Lesson.Kind.LAB, lab=lab).first()
    if lesson:
        _record_completion(user=user, lesson=lesson, completed=True)


def _record_completion(*, user, lesson: Lesson, completed: bool) -> bool:
    if completed:
        try:
            with transaction.atomic():
                LessonCompletion.objects.get_or_create(user=user, lesson=lesson)
        except IntegrityError:
            pass
    else:
        LessonCompletion.objects.filter(user=user, lesson=lesson).delete()
    forget_user_pages(user.pk)
    return completed
