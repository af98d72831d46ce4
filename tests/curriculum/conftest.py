import textwrap

import pytest

from curriculum.models import Lesson
from curriculum.services import CONTENT_DIR, lesson_sync_from_directory


def write_lesson(
    directory,
    name,
    *,
    slug,
    title="A lesson",
    order=1,
    audience="everyone",
    kind="lesson",
    objectives=("Do one thing", "Do another"),
    body="Some text.",
):
    objectives_yaml = "\n".join(f"  - {o}" for o in objectives)
    (directory / name).write_text(
        textwrap.dedent(
            f"""\
            ---
            slug: {slug}
            title: {title}
            module: 1
            module_title: Basics
            order: {order}
            kind: {kind}
            audience: {audience}
            objectives:
            """
        )
        + objectives_yaml
        + "\n---\n"
        + body
        + "\n"
    )


@pytest.fixture
def course(db):
    """The real course from curriculum/content."""
    lesson_sync_from_directory(directory=CONTENT_DIR)


def write_small_course(directory) -> None:
    write_lesson(directory, "01.md", slug="intro", title="Intro", order=1)
    write_lesson(directory, "02.md", slug="regions", title="Regions", order=2)
    write_lesson(
        directory, "03.md", slug="plan", title="Plan", order=3, kind="plan", audience="instructors"
    )


@pytest.fixture
def small_course(tmp_path, db):
    """Two lessons for everyone and an instructors' plan, by slug."""
    write_small_course(tmp_path)
    lesson_sync_from_directory(directory=tmp_path)
    return {lesson.slug: lesson for lesson in Lesson.objects.all()}
