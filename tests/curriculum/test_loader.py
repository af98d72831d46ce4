import pytest

from curriculum.loader import LessonFileError
from curriculum.models import Lesson, LessonCompletion
from curriculum.rendering import render_markdown
from curriculum.services import CONTENT_DIR, lesson_sync_from_directory
from tests.curriculum.conftest import write_lesson

pytestmark = pytest.mark.django_db


def test_loading_twice_changes_nothing_the_second_time(tmp_path):
    write_lesson(tmp_path, "01-a.md", slug="first")
    write_lesson(tmp_path, "02-b.md", slug="second", order=2)
    assert sorted(lesson_sync_from_directory(directory=tmp_path).created) == ["first", "second"]
    report = lesson_sync_from_directory(directory=tmp_path)
    assert report.created == [] and report.updated == []
    assert sorted(report.unchanged) == ["first", "second"]


def test_editing_a_file_updates_its_page(tmp_path):
    write_lesson(tmp_path, "01-a.md", slug="first", body="Old words.")
    lesson_sync_from_directory(directory=tmp_path)
    write_lesson(tmp_path, "01-a.md", slug="first", title="New title", body="New words.")
    assert lesson_sync_from_directory(directory=tmp_path).updated == ["first"]
    lesson = Lesson.objects.get(slug="first")
    assert lesson.title == "New title"
    assert "New words." in lesson.body_html


def test_removing_a_file_hides_the_lesson_and_keeps_progress(tmp_path, learner):
    write_lesson(tmp_path, "01-a.md", slug="first")
    write_lesson(tmp_path, "02-b.md", slug="second", order=2)
    lesson_sync_from_directory(directory=tmp_path)
    LessonCompletion.objects.create(user=learner, lesson=Lesson.objects.get(slug="second"))
    (tmp_path / "02-b.md").unlink()
    assert lesson_sync_from_directory(directory=tmp_path).hidden == ["second"]
    assert not Lesson.objects.get(slug="second").is_published
    assert LessonCompletion.objects.filter(user=learner).count() == 1
    # Putting the file back brings the lesson back, progress included.
    write_lesson(tmp_path, "02-b.md", slug="second", order=2)
    lesson_sync_from_directory(directory=tmp_path)
    assert Lesson.objects.get(slug="second").is_published


def test_a_broken_file_changes_nothing_and_names_itself(tmp_path):
    write_lesson(tmp_path, "01-a.md", slug="first")
    lesson_sync_from_directory(directory=tmp_path)
    write_lesson(tmp_path, "01-a.md", slug="first", title="Changed")
    (tmp_path / "02-bad.md").write_text("---\nslug: Bad Slug!\ntitle: x\n---\nbody")
    with pytest.raises(LessonFileError, match="02-bad.md"):
        lesson_sync_from_directory(directory=tmp_path)
    assert Lesson.objects.get(slug="first").title == "A lesson"


def test_two_files_with_one_slug_are_refused(tmp_path):
    write_lesson(tmp_path, "01-a.md", slug="same")
    write_lesson(tmp_path, "02-b.md", slug="same")
    with pytest.raises(LessonFileError, match="same"):
        lesson_sync_from_directory(directory=tmp_path)


def test_rendering_strips_scripts_and_foreign_links_but_highlights_code():
    html = render_markdown(
        "<script>alert(1)</script>\n\n[x](javascript:alert(1)) [y](https://evil.example/)"
        " [z](/course/why-the-cloud/)\n\n```python\nimport boto3\n```\n"
    )
    assert "<script" not in html
    assert "javascript:" not in html and "evil.example" not in html
    assert 'href="/course/why-the-cloud/"' in html
    assert 'class="highlight"' in html


def test_the_whole_course_loads_with_objectives_and_check_yourself():
    lesson_sync_from_directory(directory=CONTENT_DIR)
    lessons = list(Lesson.objects.filter(is_published=True))
    assert len(lessons) >= 15
    for lesson in lessons:
        assert lesson.objectives, lesson.slug
        assert "Check yourself" in lesson.body_html, lesson.slug
    kinds = {lesson.kind for lesson in lessons}
    assert {"lesson", "recap", "lab", "plan"} <= kinds
    assert {lesson.lab for lesson in lessons if lesson.kind == "lab"} == {
        "storage",
        "notebook",
        "training",
        "transform",
    }
    plan = next(lesson for lesson in lessons if lesson.kind == "plan")
    assert plan.audience == "instructors"
