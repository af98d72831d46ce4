"""Course pages are kept per user, and what changes them is seen at the next read."""

import re

import pytest
from django.test import Client

from curriculum.services import lesson_sync_from_directory
from portal.models import Enrolment
from tests.curriculum.conftest import write_lesson, write_small_course

pytestmark = pytest.mark.django_db


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_a_kept_page_carries_each_browsers_own_csrf_token(learner, small_course):
    key = small_course["intro"].objectives[0]["key"]
    browsers = [Client(enforce_csrf_checks=True) for _ in range(2)]
    for browser in browsers:
        browser.force_login(learner)
        browser.get("/course/intro/")  # The first one renders; the second is kept.
    for browser in browsers:
        token = _csrf_token(browser.get("/course/intro/").content.decode())
        answer = browser.post(
            f"/course/intro/objectives/{key}/", {"on": "1", "csrfmiddlewaretoken": token}
        )
        assert answer.status_code == 302, "the token from the kept page was refused"


def test_a_tick_shows_on_pages_already_kept(learner_client, small_course):
    key = small_course["intro"].objectives[0]["key"]
    assert "objectives ticked" not in learner_client.get("/course/").content.decode()
    assert "checked" not in learner_client.get("/course/intro/").content.decode()
    learner_client.post(f"/course/intro/objectives/{key}/", {"on": "1"})
    assert "1 of 2 objectives ticked" in learner_client.get("/course/").content.decode()
    assert "checked" in learner_client.get("/course/intro/").content.decode()
    learner_client.post("/course/intro/complete/", {"on": "1"})
    assert "You completed this page" in learner_client.get("/course/intro/").content.decode()


def test_pages_are_kept_per_user(learner_client, other_learner, small_course):
    key = small_course["intro"].objectives[0]["key"]
    learner_client.post(f"/course/intro/objectives/{key}/", {"on": "1"})
    assert "1 of 2 objectives ticked" in learner_client.get("/course/").content.decode()
    other = Client()
    other.force_login(other_learner)
    page = other.get("/course/").content.decode()
    assert "objectives ticked" not in page
    assert other_learner.username in page and "Log out learner<" not in page


def test_a_new_role_shows_at_the_next_read(learner_client, learner, cohort, small_course):
    assert "Plan" not in learner_client.get("/course/").content.decode()
    assert learner_client.get("/course/plan/").status_code == 403
    Enrolment.objects.filter(user=learner).get().delete()
    Enrolment.objects.create(user=learner, cohort=cohort, role=Enrolment.Role.INSTRUCTOR)
    assert "Plan" in learner_client.get("/course/").content.decode()
    assert learner_client.get("/course/plan/").status_code == 200


def test_an_edited_course_shows_at_the_next_read(
    learner_client, small_course, tmp_path, django_capture_on_commit_callbacks
):
    assert "Regions" in learner_client.get("/course/intro/").content.decode()
    edited = tmp_path / "edited"
    edited.mkdir()
    write_small_course(edited)
    write_lesson(edited, "02.md", slug="regions", title="Regions and zones", order=2)
    with django_capture_on_commit_callbacks(execute=True):
        lesson_sync_from_directory(directory=edited)
    assert "Regions and zones" in learner_client.get("/course/intro/").content.decode()
    assert "Regions and zones" in learner_client.get("/course/").content.decode()


def test_a_deactivated_learner_is_logged_out_of_kept_pages(learner_client, learner, small_course):
    assert learner_client.get("/course/").status_code == 200
    learner.is_active = False
    learner.save()
    assert learner_client.get("/course/").status_code == 302


def test_a_changed_password_ends_other_sessions(learner_client, learner, small_course):
    assert learner_client.get("/course/").status_code == 200
    learner.set_password("a-brand-new-password")
    learner.save()
    assert learner_client.get("/course/").status_code == 302


def test_each_answer_of_a_kept_page_carries_a_freshly_masked_token(learner, small_course):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(learner)
    browser.get("/course/intro/")  # Renders the page and sets the browser's CSRF cookie.
    tokens = {_csrf_token(browser.get("/course/intro/").content.decode()) for _ in range(3)}
    assert len(tokens) == 3, "a kept page repeated its token (a BREACH-style leak)"
    key = small_course["intro"].objectives[0]["key"]
    for token in tokens:
        answer = browser.post(
            f"/course/intro/objectives/{key}/", {"on": "1", "csrfmiddlewaretoken": token}
        )
        assert answer.status_code == 302, "a freshly masked token was refused"
