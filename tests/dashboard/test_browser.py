"""The dashboard in a real browser (headless Chromium, phone-sized): a populated cohort,
live updates without a reload, a confirmed action, and screenshots to look at."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from curriculum.models import Lesson, LessonCompletion
from labs.models import CloudResource
from tests.dashboard.conftest import make_resource
from tests.dashboard.populate import populate_cohort
from tests.fixtures.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_dashboard_shows_a_populated_cohort_updates_live_and_stops_notebooks(
    page, live_server, cohort, instructor, learner, lab_settings, course, tmp_path
):
    # given: 24 learners with progress and resources, and a few things to alert about
    populate_cohort(lab_settings, learners=24)
    make_resource(
        learner,
        lab_settings,
        cloud_name="nb-old-and-billing",
        hourly_usd=Decimal("0.0555"),
        billing_started_at=timezone.now() - timedelta(hours=4),
        expires_at=timezone.now() - timedelta(minutes=30),
    )
    make_resource(learner, lab_settings, cloud_name="nb-tokyo", region="ap-northeast-1")

    _log_in(page, live_server, instructor.username)
    page.goto(f"{live_server.url}/dashboard/{cohort.pk}/")

    # then: headings, the table with its headers, alerts
    page.get_by_role("heading", level=1, name="Spring cohort").wait_for()
    for name in ("At a glance", "Alerts", "Learners", "Recent actions"):
        assert page.get_by_role("heading", level=2, name=name).first.is_visible(), name
    table = page.get_by_role("table")
    assert table.get_by_role("columnheader", name="Learner").is_visible()
    assert table.get_by_role("rowheader").count() == 25
    assert page.locator("[data-alert=ttl]").is_visible()
    assert page.locator("[data-alert=region]").is_visible()
    # On a phone the table scrolls inside its box; the page itself does not scroll sideways.
    page.screenshot(path=str(tmp_path / "dashboard-phone-top.png"))
    page.locator(".table-scroll").first.screenshot(path=str(tmp_path / "phone-table.png"))
    scroll = page.locator(".table-scroll").first
    assert scroll.evaluate("el => el.scrollWidth > el.clientWidth")
    too_wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
        .filter(el => !el.closest('.table-scroll'))
        .map(el => el.tagName + '.' + el.className).slice(0, 5)"""
    )
    assert too_wide == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    # when: a learner completes a lesson, the page updates by itself (htmx polling)
    cell = page.locator(f"#learner-{learner.pk} td.p-done")
    assert cell.count() == 0
    extend = page.locator(f"#ext-{learner.pk}")
    chosen = extend.locator("option").last.get_attribute("value")
    extend.select_option(chosen)
    LessonCompletion.objects.create(user=learner, lesson=Lesson.objects.get(slug="why-the-cloud"))
    cell.first.wait_for(timeout=15_000)
    # The instructor's choice of minutes survived the table being swapped in anew.
    assert page.locator(f"#ext-{learner.pk}").input_value() == chosen

    # when: the instructor stops every notebook, confirming in the browser's dialog
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop all notebooks").click()
    page.locator("#action-result").get_by_text("Asked to stop").wait_for()
    notebooks = CloudResource.objects.filter(cohort=cohort, kind="notebook")
    assert set(notebooks.values_list("state", flat=True)) == {"stopping"}
    page.locator(".operation").get_by_text("Stop all notebooks").first.wait_for(timeout=15_000)

    # On a laptop the table is still wider than its box; each row's actions stay in view.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert scroll.evaluate("el => el.scrollWidth > el.clientWidth")
    frame = scroll.bounding_box()
    row = page.locator(f"#learner-{learner.pk}")
    for cell in (row.locator("td.res"), row.locator("td.num").first, row.locator("td.acts")):
        box = cell.bounding_box()
        assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]

    page.set_viewport_size({"width": 1400, "height": 1000})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(tmp_path / "dashboard-desktop-top.png"))
    page.locator(".table-scroll").first.screenshot(path=str(tmp_path / "desktop-table.png"))
    print(f"screenshots in {tmp_path}")  # noqa: T201
