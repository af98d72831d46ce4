"""axe-core (bundled with axe-playwright-python) finds no serious or critical
accessibility problem on the main pages, at phone size."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from curriculum.services import lesson_sync_from_directory
from labs.services.policy import lab_settings_for
from tests.fixtures.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERIOUS = {"serious", "critical"}


def _log_in(page, base_url, username):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/course/")


def _problems(page) -> list[str]:
    problems = []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in SERIOUS:
            where = [(node["target"], node["html"][:90]) for node in violation["nodes"][:3]]
            problems.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} {where}"
            )
    return problems


def test_main_pages_have_no_serious_accessibility_problems(
    page, live_server, learner, instructor, cohort
):
    lesson_sync_from_directory()
    lab_settings_for(cohort)
    pages = ["/login/"]
    page.goto(f"{live_server.url}/login/")
    problems = {"/login/": _problems(page)}
    _log_in(page, live_server.url, "learner")
    for path in ["/course/", "/course/the-aws-ecosystem/", "/labs/storage/", "/labs/training/"]:
        pages.append(path)
        page.goto(f"{live_server.url}{path}")
        problems[path] = _problems(page)
    page.context.clear_cookies()
    _log_in(page, live_server.url, "instructor")
    for path in ["/dashboard/", f"/dashboard/{cohort.pk}/", f"/dashboard/{cohort.pk}/settings/"]:
        page.goto(f"{live_server.url}{path}")
        problems[path] = _problems(page)
    found = {p: v for p, v in problems.items() if v}
    assert not found, "\n".join(f"{p}: {v}" for p, v in found.items())
