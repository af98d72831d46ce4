"""Who may see and act on a cohort's dashboard: its instructors and staff only."""

import pytest

from labs.dashboard.models import CohortOperation
from labs.models import CloudResource
from tests.dashboard.conftest import make_resource
from tests.fixtures.users import make_user

pytestmark = pytest.mark.django_db


def _urls(cohort, learner, operation):
    c = cohort.pk
    gets = [
        f"/dashboard/{c}/",
        f"/dashboard/{c}/live/",
        f"/dashboard/{c}/settings/",
        f"/dashboard/{c}/export/progress.csv",
        f"/dashboard/{c}/export/resources.csv",
        f"/dashboard/{c}/operations/{operation.pk}/",
    ]
    posts = [
        f"/dashboard/{c}/actions/stop-notebooks/",
        f"/dashboard/{c}/actions/teardown/",
        f"/dashboard/{c}/actions/sweep/",
        f"/dashboard/{c}/learners/{learner.pk}/teardown/",
        f"/dashboard/{c}/learners/{learner.pk}/extend/",
        f"/dashboard/{c}/operations/{operation.pk}/delete-found/",
        f"/dashboard/{c}/settings/",
    ]
    return gets, posts


@pytest.fixture
def operation(cohort, instructor):
    return CohortOperation.objects.create(
        cohort=cohort, actor=instructor, kind="sweep", state="done"
    )


@pytest.fixture
def notebook(learner, lab_settings):
    return make_resource(learner, lab_settings)


def test_learners_get_403_on_every_dashboard_url_and_nothing_changes(
    client, cohort, learner, other_learner, operation, notebook, course
):
    gets, posts = _urls(cohort, other_learner, operation)
    for user in (learner, other_learner):
        client.force_login(user)
        for url in gets:
            assert client.get(url).status_code == 403, url
        for url in posts:
            assert client.post(url, {"confirm": "yes", "minutes": "60"}).status_code == 403, url
        assert client.get("/dashboard/").status_code == 403
    notebook.refresh_from_db()
    assert notebook.state == "ready"
    assert CohortOperation.objects.count() == 1


def test_another_cohorts_instructor_gets_404_for_this_cohorts_ids(
    client, cohort, learner, operation, notebook, other_instructor, course
):
    client.force_login(other_instructor)
    gets, posts = _urls(cohort, learner, operation)
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, {"confirm": "yes", "minutes": "60"}).status_code == 404, url
    notebook.refresh_from_db()
    assert notebook.state == "ready"
    assert CohortOperation.objects.count() == 1


def test_an_instructor_cannot_reach_a_learner_or_operation_of_another_cohort_through_their_own(
    client, cohort, instructor, other_cohort, outsider_learner, other_instructor, lab_settings
):
    theirs = CohortOperation.objects.create(cohort=other_cohort, kind="sweep", state="done")
    their_notebook = make_resource(
        outsider_learner, lab_settings, cohort=other_cohort, cloud_name="theirs"
    )
    client.force_login(instructor)
    c = cohort.pk
    learner_id = outsider_learner.pk
    for url in (
        f"/dashboard/{c}/learners/{learner_id}/teardown/",
        f"/dashboard/{c}/learners/{learner_id}/extend/",
        f"/dashboard/{c}/operations/{theirs.pk}/delete-found/",
    ):
        assert client.post(url, {"confirm": "yes", "minutes": "60"}).status_code == 404, url
    assert client.get(f"/dashboard/{c}/operations/{theirs.pk}/").status_code == 404
    assert client.get(f"/dashboard/{other_cohort.pk}/").status_code == 404
    assert CloudResource.objects.get(pk=their_notebook.pk).state == "ready"


def test_the_cohorts_instructor_and_staff_see_the_dashboard(
    client, cohort, instructor, lab_settings, course
):
    for user in (instructor, make_user("staff", staff=True)):
        client.force_login(user)
        assert client.get(f"/dashboard/{cohort.pk}/").status_code == 200
        assert client.get(f"/dashboard/{cohort.pk}/settings/").status_code == 200


def test_staff_gets_404_for_a_cohort_that_does_not_exist(client, db):
    client.force_login(make_user("staff", staff=True))
    assert client.get("/dashboard/999999/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, cohort):
    response = client.get(f"/dashboard/{cohort.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.post(f"/dashboard/{cohort.pk}/actions/teardown/").status_code == 302


def test_dashboard_actions_refuse_get(instructor_client, cohort, lab_settings):
    assert instructor_client.get(f"/dashboard/{cohort.pk}/actions/teardown/").status_code == 405


def test_actions_need_a_csrf_token(cohort, instructor, lab_settings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(instructor)
    response = client.post(f"/dashboard/{cohort.pk}/actions/stop-notebooks/", {"confirm": "yes"})
    assert response.status_code == 403
    assert not CohortOperation.objects.exists()


def test_an_instructor_with_one_cohort_is_taken_straight_to_it(instructor_client, cohort):
    response = instructor_client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"] == f"/dashboard/{cohort.pk}/"


def test_an_id_too_large_for_the_database_is_a_404_from_the_url_alone(
    instructor_client, cohort, learner, operation
):
    # SQLite (the embedded default) cannot even bind such a number in a foreign-key
    # lookup; the URL must not let it through to a view.
    from django.urls import Resolver404, resolve

    huge = "9" * 20
    gets, posts = _urls(cohort, learner, operation)
    for url in gets + posts:
        parts = url.split("/")
        # Each id in the path in turn (ids of different tables may be equal).
        for position in [i for i, part in enumerate(parts) if part.isdigit()]:
            forged = "/".join(huge if i == position else p for i, p in enumerate(parts))
            with pytest.raises(Resolver404):
                resolve(forged)
            answer = (
                instructor_client.post(forged) if url in posts else instructor_client.get(forged)
            )
            assert answer.status_code == 404, forged
    for forged in (f"/labs/resources/{huge}/status/", f"/labs/checks/{huge}/"):
        with pytest.raises(Resolver404):
            resolve(forged)
