"""The admin shows no secret: not the role's external ID, not a learner's JupyterLab link."""

import pytest
from django.contrib.auth.models import Permission

from labs.models import CloudAccount, CloudResource
from tests.fixtures.users import PASSWORD, make_user

EXTERNAL_ID = "ext-id-shared-secret-42"
OPEN_URL = "http://127.0.0.1:40503/lab?token=learner-sign-in-token"


@pytest.fixture
def account(db):
    return CloudAccount.objects.create(
        name="School AWS",
        kind=CloudAccount.Kind.ASSUME_ROLE,
        role_arn="arn:aws:iam::123456789012:role/portal",
        external_id=EXTERNAL_ID,
    )


def _staff_client(client, *codenames):
    auditor = make_user("auditor", staff=True)
    auditor.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.login(username="auditor", password=PASSWORD)
    return client


def test_a_view_only_staff_user_sees_that_the_external_id_is_set_not_what_it_is(client, account):
    auditor = _staff_client(client, "view_cloudaccount")

    page = auditor.get(f"/admin/labs/cloudaccount/{account.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert EXTERNAL_ID not in text
    assert "set (never shown)" in text


def test_an_admin_who_may_change_the_account_replaces_the_external_id_without_seeing_it(
    admin_client, account
):
    page = admin_client.get(f"/admin/labs/cloudaccount/{account.pk}/change/")
    assert page.status_code == 200 and EXTERNAL_ID not in page.content.decode()


@pytest.mark.parametrize("staff", ["auditor", "superuser"])
def test_no_one_reads_a_learners_jupyterlab_link_in_the_admin(
    client, admin_client, learner, cohort, lab_settings, staff
):
    notebook = CloudResource.objects.create(
        owner=learner,
        cohort=cohort,
        account=lab_settings.account,
        lab="notebook",
        kind="notebook",
        region="us-east-1",
        cloud_name="nb-with-a-link",
        state="ready",
        details={"open_url": OPEN_URL, "starter_notebook": "lab-starter.ipynb"},
    )
    viewer = admin_client if staff == "superuser" else _staff_client(client, "view_cloudresource")

    page = viewer.get(f"/admin/labs/cloudresource/{notebook.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "learner-sign-in-token" not in text
    assert "a sign-in link, not shown" in text and "lab-starter.ipynb" in text
