import pytest

from curriculum.models import Lesson, LessonCompletion, ObjectiveTick

pytestmark = pytest.mark.django_db


def test_toc_lists_lessons_by_module_with_previous_and_next(learner_client, small_course):
    toc = learner_client.get("/course/").content.decode()
    assert toc.index("Intro") < toc.index("Regions")
    assert "Plan" not in toc  # instructors only
    page = learner_client.get("/course/regions/").content.decode()
    assert 'rel="prev" href="/course/intro/"' in page
    assert 'rel="next"' not in page


def test_instructor_sees_the_lesson_plan_and_learner_gets_403(
    learner_client, small_course, client, instructor
):
    assert learner_client.get("/course/plan/").status_code == 403
    client.force_login(instructor)
    assert client.get("/course/plan/").status_code == 200
    assert "Plan" in client.get("/course/").content.decode()


@pytest.mark.parametrize(
    "path", ["/course/nope/", "/course/..%2F..%2Fetc%2Fpasswd/", "/course/a.b/"]
)
def test_unknown_or_malformed_lesson_is_404(learner_client, small_course, path):
    assert learner_client.get(path).status_code == 404


def test_ticking_an_objective_is_saved_and_shown(learner_client, learner, small_course):
    lesson = small_course["intro"]
    key = lesson.objectives[0]["key"]
    response = learner_client.post(
        f"/course/intro/objectives/{key}/", {"on": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "checked" in response.content.decode()
    assert ObjectiveTick.objects.filter(user=learner, lesson=lesson, objective_key=key).exists()
    # Ticking twice keeps one tick; unticking removes it.
    learner_client.post(f"/course/intro/objectives/{key}/", {"on": "1"})
    assert ObjectiveTick.objects.filter(user=learner).count() == 1
    assert "1 of 2 objectives ticked" in learner_client.get("/course/").content.decode()
    learner_client.post(f"/course/intro/objectives/{key}/", {"on": "0"})
    assert not ObjectiveTick.objects.filter(user=learner).exists()


def test_ticks_belong_to_their_learner(learner_client, other_learner, client, small_course):
    key = small_course["intro"].objectives[0]["key"]
    learner_client.post(f"/course/intro/objectives/{key}/", {"on": "1"})
    client.force_login(other_learner)
    assert "objectives ticked" not in client.get("/course/").content.decode()


def test_bad_ticks_are_refused_with_4xx(learner_client, small_course):
    plan_key = small_course["plan"].objectives[0]["key"]
    assert (
        learner_client.post(f"/course/plan/objectives/{plan_key}/", {"on": "1"}).status_code == 403
    )
    assert (
        learner_client.post("/course/intro/objectives/deadbeef0000/", {"on": "1"}).status_code
        == 400
    )
    key = small_course["intro"].objectives[0]["key"]
    assert (
        learner_client.post(f"/course/intro/objectives/{key}/", {"on": "yes"}).status_code == 400
    )
    assert learner_client.get(f"/course/intro/objectives/{key}/").status_code == 405
    assert (
        learner_client.post(f"/course/missing/objectives/{key}/", {"on": "1"}).status_code == 404
    )
    assert not ObjectiveTick.objects.exists()


def test_mark_complete_and_undo(learner_client, learner, small_course):
    response = learner_client.post("/course/intro/complete/", {"on": "1"}, HTTP_HX_REQUEST="true")
    assert "You completed this page" in response.content.decode()
    assert LessonCompletion.objects.filter(user=learner).count() == 1
    assert "1</strong> of 2 pages" in learner_client.get("/course/").content.decode()
    learner_client.post("/course/intro/complete/", {"on": "0"})
    assert not LessonCompletion.objects.exists()


def test_a_lab_page_is_not_marked_complete_by_hand(learner_client, learner, course):
    lab_lesson = Lesson.objects.filter(kind="lab").first()
    response = learner_client.post(f"/course/{lab_lesson.slug}/complete/", {"on": "1"})
    assert response.status_code == 400
    assert "Check my progress" in response.content.decode()
    assert not LessonCompletion.objects.filter(user=learner).exists()


def test_post_without_csrf_token_is_refused(client, learner, small_course):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(learner)
    assert strict.post("/course/intro/complete/", {"on": "1"}).status_code == 403
    assert not LessonCompletion.objects.exists()


def test_anonymous_tick_goes_to_login(client, small_course):
    key = small_course["intro"].objectives[0]["key"]
    response = client.post(f"/course/intro/objectives/{key}/", {"on": "1"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_every_real_lesson_page_renders(learner_client, course):
    for lesson in Lesson.objects.filter(audience="everyone").exclude(kind="lab"):
        assert learner_client.get(f"/course/{lesson.slug}/").status_code == 200, lesson.slug
    for lesson in Lesson.objects.filter(kind="lab"):
        response = learner_client.get(f"/course/{lesson.slug}/", follow=True)
        assert response.status_code == 200, lesson.slug
        assert response.redirect_chain[-1][0] == f"/labs/{lesson.lab}/"
