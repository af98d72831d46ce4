import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client

from portal.auth_backend import CachedUserBackend
from portal.models import Cohort, Enrolment
from portal.services import DEMO_PASSWORD, demo_setup, demo_users_lock

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/course/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/course/")


def test_demo_users_can_log_in_and_setup_runs_twice(client):
    demo_setup()
    demo_setup()
    assert Enrolment.objects.filter(cohort__slug="demo").count() == 3
    response = client.post("/login/", {"username": "learner1", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.get("/course/").status_code == 200


def test_demo_users_with_the_public_password_are_locked_for_an_open_portal(client):
    # A portal first run on 127.0.0.1, then opened to the classroom's network.
    demo_setup()
    learner2 = get_user_model().objects.get(username="learner2")
    learner2.set_password("a-private-password-9")
    learner2.save()

    assert demo_users_lock() == ["instructor", "learner1"]

    answer = client.post("/login/", {"username": "learner1", "password": DEMO_PASSWORD})
    assert answer.status_code == 400 and "_auth_user_id" not in client.session
    assert client.login(username="learner2", password="a-private-password-9")


def test_wrong_password_shows_a_message_not_an_error(client):
    demo_setup()
    response = client.post("/login/", {"username": "learner1", "password": "nope"})
    assert response.status_code == 400
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


@pytest.mark.parametrize(
    ("form", "sentence"),
    [
        ({"username": "", "password": ""}, "Username: This field is required."),
        ({"username": "learner1\x00", "password": "x"}, "Null characters are not allowed."),
    ],
)
def test_a_login_form_with_a_bad_field_says_what(client, form, sentence):
    response = client.post("/login/", form)
    assert response.status_code == 400
    assert sentence in response.content.decode()


def test_opening_a_buttons_address_says_it_is_not_a_page(learner_client):
    for url in ("/labs/region/", "/labs/storage/launch/", "/logout/"):
        answer = learner_client.get(url)
        assert answer.status_code == 405 and "POST" in answer["Allow"]
        page = answer.content.decode()
        assert "This address is not a page" in page and "only answers POST" in page, url
        # What a browser reads is what Content-Length says (set after the page is filled).
        assert int(answer["Content-Length"]) == len(answer.content)
    # The other way round, and for a visitor who is not logged in.
    answer = Client().post("/healthz")
    assert answer.status_code == 405 and "only answers GET" in answer.content.decode()


def test_enrol_cohort_from_csv_prints_one_time_passwords(tmp_path, capsys):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "name,email,role\nGrace Hopper,grace@example.com,instructor\n"
        "Alan Turing,alan@example.com,learner\n"
    )
    call_command("enrol_cohort", "Autumn 2026", str(csv_file))
    out = capsys.readouterr().out
    cohort = Cohort.objects.get(slug="autumn-2026")
    roles = dict(cohort.enrolments.values_list("user__email", "role"))
    assert roles == {"grace@example.com": "instructor", "alan@example.com": "learner"}
    # The printed password is the one that works.
    alan_line = next(line for line in out.splitlines() if "alan@example.com" in line)
    password = alan_line.split()[-1]
    assert get_user_model().objects.get(email="alan@example.com").check_password(password)


def test_one_time_passwords_are_easy_to_copy_from_a_sheet():
    from portal.services import one_time_password

    for _ in range(200):
        password = one_time_password()
        assert len(password) == 12 and password.isalnum()  # No leading "-" to lose.
        assert not set(password) & set("0O1lI")


def test_enrolling_a_learner_in_a_second_cohort_says_where_their_labs_stay(tmp_path, capsys):
    first = tmp_path / "first.csv"
    first.write_text("name,email,role\nAlan Turing,alan@example.com,learner\n")
    call_command("enrol_cohort", "Spring", str(first))
    call_command("enrol_cohort", "Autumn", str(first))

    out = capsys.readouterr().out
    assert "note: their labs stay in 'Spring', their first cohort" in out


def test_a_bad_csv_line_changes_nothing(tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "name,email,role\n"
        "Grace Hopper,grace@example.com,instructor\n"
        "Bad Row,not-an-email,learner\n"
    )
    with pytest.raises(CommandError, match="Line 3: 'not-an-email' is not an email address"):
        call_command("enrol_cohort", "Autumn 2026", str(csv_file))
    assert not Cohort.objects.exists()
    assert not get_user_model().objects.filter(email="grace@example.com").exists()


def test_csv_with_an_unknown_role_is_refused(tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("name,email,role\nEve,eve@example.com,admin\n")
    with pytest.raises(CommandError, match="role must be 'learner' or 'instructor'"):
        call_command("enrol_cohort", "Autumn", str(csv_file))


def test_admin_lists_every_model(admin_client):
    from django.contrib import admin

    for model in admin.site._registry:
        meta = model._meta
        path = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert admin_client.get(path).status_code == 200, path
    assert {"cohort", "lesson", "cloudresource", "cloudaccount", "labsettings"} <= {
        model._meta.model_name for model in admin.site._registry
    }


def test_admin_never_shows_a_cloud_accounts_external_id(admin_client):
    from labs.models import CloudAccount

    account = CloudAccount.objects.create(
        name="aws", kind="assume_role", role_arn="arn:aws:iam::1:role/x", external_id="s3cr3t-xid"
    )
    page = admin_client.get(f"/admin/labs/cloudaccount/{account.pk}/change/").content.decode()
    assert "s3cr3t-xid" not in page


def test_only_instructors_see_the_dashboard_link(learner_client, instructor, client):
    assert "/dashboard/" not in learner_client.get("/course/").content.decode()
    client.force_login(instructor)
    assert 'href="/dashboard/"' in client.get("/course/").content.decode()


@pytest.mark.parametrize(
    ("new", "sentence"),
    [
        ("learner-x1", "too similar to the username"),
        ("x" * 129, "too long: use at most 128 characters"),
        ("81726354", "entirely numeric"),
    ],
)
def test_a_weak_new_password_is_refused_with_the_reason(learner_client, learner, new, sentence):
    from tests.fixtures.users import PASSWORD

    answer = learner_client.post(
        "/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    page = answer.content.decode()
    assert answer.status_code == 400 and sentence in page
    # Said at the top, as an alert that names the field, and beside the field.
    assert '<div class="error-summary" role="alert">' in page
    assert "Your password was not changed" in page
    learner.refresh_from_db()
    assert learner.check_password(PASSWORD)


def test_every_page_links_to_the_password_change(learner_client):
    page = learner_client.get("/course/").content.decode()
    assert 'href="/password/"' in page and 'href="/course/" aria-current="page"' in page


def test_the_logged_out_note_is_for_returning_visitors_not_a_first_visit(client, learner):
    first = client.get("/login/?next=/course/").content.decode()
    assert "You are logged out" not in first  # A first visit: nothing to be sorry about.

    client.force_login(learner)
    client.post("/logout/")
    client.cookies["sessionid"] = "an-ended-session"
    again = client.get("/login/?next=/course/").content.decode()
    assert "You are logged out" in again


@pytest.mark.django_db(transaction=True)
def test_a_deactivation_is_not_undone_by_a_request_during_its_transaction(learner):
    """A request that reads the user while the change is not yet committed caches the
    old row; the change must still count once it commits (the admin saves in one)."""
    backend = CachedUserBackend()

    def request_meanwhile():
        backend.get_user(learner.pk)  # Its own connection: the committed, active row.
        connection.close()

    with transaction.atomic():
        learner.is_active = False
        learner.save()
        meanwhile = threading.Thread(target=request_meanwhile)
        meanwhile.start()
        meanwhile.join()
    assert backend.get_user(learner.pk) is None
