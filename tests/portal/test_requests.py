"""Requests the browser did not expect to make: an ended session, a stale page, a form in
another character set, a HEAD. Each gets a sentence, never a 500 or a page in a panel."""

import pytest
from django.test import Client

from labs.services.policy import lab_settings_for

FORM = "application/x-www-form-urlencoded"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _course(course):
    pass


LAB_PAGE = "http://testserver/labs/training/"


def test_a_click_after_the_session_ended_sends_the_whole_page_to_the_login(client, learner):
    # Logged out in another tab: the lab page's button still posts with htmx.
    answer = client.post(
        "/labs/training/launch/",
        {"num_round": "10"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=LAB_PAGE,
    )

    assert answer.status_code == 204  # Nothing is swapped into the panel...
    # ...htmx loads the login page instead, which leads back to the lab page.
    assert answer["HX-Redirect"] == "/login/?next=/labs/training/"


def test_the_login_never_leads_to_another_site(client, learner):
    answer = client.post(
        "/labs/training/launch/",
        {},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://evil.example/phish",
    )

    assert answer["HX-Redirect"] == "/login/?next=/course/"


def test_a_plain_request_after_the_session_ended_is_redirected_as_before(client, learner):
    answer = client.post("/labs/training/launch/", {})

    assert answer.status_code == 302
    assert answer["Location"].startswith("/login/?next=")


def test_a_stale_page_is_told_to_reload_in_its_message_area(learner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(learner)
    browser.get("/labs/storage/")  # Sets the CSRF cookie.
    # The token on the page no longer matches (logged in again in another tab).
    answer = browser.post(
        "/labs/storage/check/",
        {"purpose": "progress", "csrfmiddlewaretoken": "x" * 64},
        HTTP_HX_REQUEST="true",
    )

    assert answer.status_code == 422
    assert answer["HX-Retarget"] == "#page-error"
    assert "This page is out of date" in answer.content.decode()
    assert "Reload the page" in answer.content.decode()


def test_a_stale_form_without_htmx_gets_a_page_that_says_why(learner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(learner)

    answer = browser.post("/labs/storage/check/", {"purpose": "progress"})

    assert answer.status_code == 403
    assert "This page is out of date" in answer.content.decode()


@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-1", "utf-16", "ascii"])
def test_a_form_in_another_character_set_is_refused_with_a_sentence(learner_client, charset):
    answer = learner_client.post(
        "/labs/storage/check/",
        b"purpose=progress",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )

    assert answer.status_code == 400
    assert "reads forms in UTF-8 only" in answer.content.decode()


def test_a_utf8_form_still_goes_through(learner_client, lab_settings):
    answer = learner_client.post(
        "/labs/region/",
        b"region=us-east-1&lab=storage",
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )

    assert answer.status_code == 302


@pytest.mark.parametrize("path", ["/", "/healthz", "/course/", "/labs/storage/"])
def test_head_is_answered_like_get(learner_client, lab_settings, path):
    assert learner_client.head(path).status_code == learner_client.get(path).status_code
    assert learner_client.head(path).status_code in (200, 302)


def test_a_cohort_with_cloud_resources_cannot_be_deleted_in_the_admin(client, cohort, learner):
    from django.contrib.auth import get_user_model

    from labs.models import CloudResource

    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)
    bucket = CloudResource.objects.create(
        owner=learner, cohort=cohort, account=lab_settings_for(cohort).account, lab="storage",
        kind="bucket", region="us-east-1", cloud_name="left-behind", state="ready",
    )  # fmt: skip

    # Deleting the rows would leave the bucket in the cloud with nothing to find it by:
    # the delete page sends the administrator to the change page, which says why.
    refused = client.get(f"/admin/portal/cohort/{cohort.pk}/delete/", follow=True)
    assert refused.redirect_chain[-1][0] == f"/admin/portal/cohort/{cohort.pk}/change/"
    change = refused.content.decode()
    assert "still has 1 cloud resource: tear it down from the cohort&#x27;s dashboard" in change
    # Nor can its owner, or their enrolment, be deleted while it is there.
    assert client.get(f"/admin/auth/user/{learner.pk}/delete/").status_code == 302
    enrolment = learner.enrolments.get(cohort=cohort)
    assert client.get(f"/admin/portal/enrolment/{enrolment.pk}/delete/").status_code == 302
    assert enrolment.__class__.objects.filter(pk=enrolment.pk).exists()

    bucket.state = "deleted"
    bucket.save()
    assert client.get(f"/admin/portal/cohort/{cohort.pk}/delete/").status_code == 200
    assert client.get(f"/admin/auth/user/{learner.pk}/delete/").status_code == 200


@pytest.mark.parametrize(
    "how",
    [
        {"data": "--x\r\n", "content_type": "multipart/form-data"},  # no boundary
        {"data": "&".join(f"f{i}=1" for i in range(1500)), "content_type": FORM},
    ],
    ids=["multipart without a boundary", "too many fields"],
)
def test_an_unreadable_request_gets_the_portals_400_page(learner_client, how):
    answer = learner_client.post("/labs/storage/launch/", **how)
    assert answer.status_code == 400
    assert "We couldn't read that request" in answer.content.decode()


def test_a_request_for_another_host_gets_the_portals_400_page(client):
    answer = client.get("/course/", HTTP_HOST="evil.example")
    assert answer.status_code == 400
    assert "We couldn't read that request" in answer.content.decode()
