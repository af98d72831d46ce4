"""A click that fails without an answer to show still says something (static/js/page_errors.js):
a refusal's own sentence, a general one for a 404, and a passing one when the portal does
not answer, taken down once it answers again."""

import pytest

from labs.models import CloudResource
from portal.form_encoding import REFUSAL
from tests.fixtures.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_failed_click_says_why_in_the_page(page, live_server, learner, cohort, lab_settings):
    notebook = CloudResource.objects.create(
        owner=learner, cohort=cohort, account=lab_settings.account, lab="notebook",
        kind="notebook", region="us-east-1", cloud_name="nb-clicked", state="ready",
        cloud_status="InService",
    )  # fmt: skip
    page.goto(f"{live_server.url}/login/?next=/labs/notebook/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator(f"#stop-{notebook.pk}").wait_for()
    errors = page.locator("#page-error")

    # A 404 (say, the resource is gone meanwhile): a page, which htmx does not swap in.
    page.route(
        f"**/labs/resources/{notebook.pk}/stop/",
        lambda route: route.fulfill(status=404, content_type="text/html", body="<h1>x</h1>"),
    )
    page.locator(f"#stop-{notebook.pk}").click()
    errors.get_by_text("That no longer exists, or it isn't yours.").wait_for()

    # A refusal in plain text (the form-encoding one, say) is said as it is.
    page.unroute(f"**/labs/resources/{notebook.pk}/stop/")
    page.route(
        f"**/labs/resources/{notebook.pk}/stop/",
        lambda route: route.fulfill(
            status=400, content_type="text/plain", body=REFUSAL.format(charset="latin-1")
        ),
    )
    page.locator(f"#stop-{notebook.pk}").click()
    errors.get_by_text(REFUSAL.format(charset="latin-1")).wait_for()
    assert errors.get_by_role("alert").count() == 1

    # No answer at all: said, then taken down once a request succeeds again.
    page.unroute(f"**/labs/resources/{notebook.pk}/stop/")
    page.route(f"**/labs/resources/{notebook.pk}/stop/", lambda route: route.abort())
    page.locator(f"#stop-{notebook.pk}").click()
    errors.get_by_text("The portal did not answer").wait_for()
    page.unroute(f"**/labs/resources/{notebook.pk}/stop/")
    page.locator(f"#stop-{notebook.pk}").click()
    page.locator(f"#resource-{notebook.pk} .badge", has_text="Stopping").wait_for()
    errors.get_by_text("The portal did not answer").wait_for(state="detached")


def test_a_refused_launch_is_scrolled_into_view(page, live_server, learner, lab_settings):
    page.set_viewport_size({"width": 1280, "height": 700})
    page.goto(f"{live_server.url}/login/?next=/labs/training/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    button = page.get_by_role("button", name="Start training job")
    button.scroll_into_view_if_needed()

    button.click()  # No bucket yet: refused, with the reason above the form.

    refusal = page.locator("#launch-error").get_by_text("Training reads the course data")
    refusal.wait_for()
    page.wait_for_timeout(300)  # htmx scrolls after the swap settles
    box = refusal.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 700, box
