import textwrap

import pytest

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
