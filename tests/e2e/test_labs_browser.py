"""A learner runs L1 and L3 in headless Chromium and watches the status change live."""

import pytest

from curriculum.services import lesson_sync_from_directory
from tests.fixtures.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Records every state badge the page shows, so the test sees changes made by polling.
WATCH_BADGES = """
window.__seen = [];
window.__notReloaded = true;
const record = () => document.querySelectorAll('.resource .badge').forEach(b => {
  const text = b.textContent.trim();
  if (window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
});
record();
new MutationObserver(record).observe(
  document.body, {subtree: true, childList: true, characterData: true}
);
"""


def _log_in(page, base_url):
    page.goto(f"{base_url}/login/?next=/labs/storage/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _watch_until(page, final_text, timeout_ms=90_000):
    page.evaluate(WATCH_BADGES)
    page.locator(".resource .badge", has_text=final_text).last.wait_for(timeout=timeout_ms)
    assert page.evaluate("window.__notReloaded") is True
    return page.evaluate("window.__seen")


def test_learner_runs_storage_and_training_labs_in_a_browser(
    page, live_server, celery_worker, celery_beat, cloud_lab_settings, learner, tmp_path
):
    lesson_sync_from_directory()
    _log_in(page, live_server.url)

    # L1: create the bucket; the card moves to Ready without a reload. While the answer is
    # on its way (held back here, as in a class-wide launch), the form says so.
    sending = page.get_by_text("Sending your request")
    assert not sending.is_visible()
    held = []
    page.route("**/labs/storage/launch/", lambda route: held.append(route))
    page.get_by_role("button", name="Create bucket and upload the data set").click()
    sending.wait_for(state="visible")
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    page.locator(".resource").first.wait_for()
    sending.wait_for(state="hidden")
    seen = _watch_until(page, "Ready")
    assert seen[-1] == "Ready"
    page.locator(".lab-panel").screenshot(path=str(tmp_path / "lab-storage.png"))

    # L3: start training with fewer rounds and watch it complete, with its chart.
    page.goto(f"{live_server.url}/labs/training/")
    page.get_by_label("Rounds (num_round)").fill("30")
    page.get_by_role("button", name="Start training job").click()
    page.locator(".resource").first.wait_for()
    seen = _watch_until(page, "Completed")
    assert len(seen) >= 2, seen  # at least one state before Completed, shown live
    page.get_by_text("Rounds: 30 of 30").wait_for()
    # The metric lines are read from the log, which may come one refresh after the status.
    page.locator("svg.metric-chart").first.wait_for(timeout=15_000)
    page.get_by_role("button", name="Check my progress").click()
    page.get_by_text("reaches the target").wait_for(timeout=30_000)
    page.locator(".lab-panel").screenshot(path=str(tmp_path / "lab-training.png"))
