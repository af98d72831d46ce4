"""A learner uses the course in a real browser; progress survives a reload."""

import pytest

from curriculum.services import CONTENT_DIR, lesson_sync_from_directory
from tests.fixtures.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_learner_ticks_an_objective_completes_a_lesson_and_keeps_progress(
    page, live_server, learner, tmp_path
):
    lesson_sync_from_directory(directory=CONTENT_DIR)

    # Log in and open the table of contents.
    page.goto(f"{live_server.url}/course/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Table of contents").wait_for()
    first_link = page.get_by_role("navigation", name="Table of contents").get_by_role("link").first
    title = first_link.inner_text()
    first_link.click()
    page.get_by_role("heading", level=1, name=title).wait_for()

    # Tick the first objective (htmx saves it) and mark the page complete.
    checkbox = page.locator(".objective input[type=checkbox]").first
    checkbox.check()
    page.locator(".objective.is-ticked").first.wait_for()
    page.get_by_role("button", name="Mark complete").click()
    page.get_by_text("You completed this page.").wait_for()

    # A reload shows both kept.
    page.reload()
    assert page.locator(".objective input[type=checkbox]").first.is_checked()
    assert page.get_by_role("button", name="Mark as not complete").is_visible()
    page.goto(f"{live_server.url}/course/")
    assert "1</strong> of" in page.content()
    assert page.locator(".toc-entry.is-done").count() == 1
    page.screenshot(path=str(tmp_path / "course-progress.png"), full_page=True)
