"""The instructor's cohort dashboard: thin views that authorize, call one selector or
service and render. Nothing here calls the cloud; actions enqueue tasks.

Every action is a POST with CSRF. With htmx, the browser asked for confirmation
(``hx-confirm``) before sending it; without JavaScript, the first POST answers with a
confirmation page whose button posts again with ``confirm=yes``.
"""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotModified
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from labs.cloud import regions as cloud_regions
from labs.dashboard import selectors, services
from labs.dashboard.forms import ExtendForm, LabSettingsForm
from labs.dashboard.models import CohortOperation
from labs.dashboard.render import learner_rows_html
from labs.models import Lab
from labs.services.policy import lab_settings_for
from portal.views import refused_page

HTMX_STOP_POLLING = 286
LIVE_POLL_SECONDS = 5


def _dashboard_url(cohort) -> str:
    return reverse("dashboard-cohort", args=[cohort.pk])


# Totals and alerts cover the whole class; the table shows a page of learners, which keeps
# a 500-learner cohort's page small enough for a phone and quick to render.
LEARNERS_PER_PAGE = 100


def _page_number(request, learner_count: int) -> tuple[int, int]:
    pages = max(1, -(-learner_count // LEARNERS_PER_PAGE))
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    return min(max(page, 1), pages), pages


def _live_context(request, cohort, filters, fingerprint):
    lab_settings = lab_settings_for(cohort)
    dashboard = selectors.dashboard_build(
        cohort=cohort, lab_settings=lab_settings, filters=filters
    )
    page, pages = _page_number(request, len(dashboard.learners))
    first = (page - 1) * LEARNERS_PER_PAGE
    shown = dashboard.learners[first : first + LEARNERS_PER_PAGE]
    return {
        "cohort": cohort,
        "dashboard": dashboard,
        "filters": filters,
        "fingerprint": fingerprint,
        "rows_html": learner_rows_html(dashboard, shown, csrf_token=get_token(request)),
        "poll_seconds": LIVE_POLL_SECONDS,
        "page": page,
        "pages": pages,
        "shown_from": first + 1 if shown else 0,
        "shown_to": first + len(shown),
    }


@require_safe
@login_required
def cohort_list(request):
    cohorts = list(selectors.cohort_list_for_dashboard(request.user))
    if len(cohorts) == 1:
        return redirect(_dashboard_url(cohorts[0]))
    return render(request, "dashboard/cohort_list.html", {"cohorts": cohorts})


@require_safe
@login_required
def cohort_page(request, cohort_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    filters = selectors.Filters.from_query(request.GET)
    fingerprint = selectors.dashboard_fingerprint(cohort)
    context = _live_context(request, cohort, filters, fingerprint)
    if request.htmx:
        # The filter form asks for the live region only.
        return render(request, "dashboard/partials/live.html", context)
    context.update(
        region_choices=list(cloud_regions.REGIONS.items()),
        lab_choices=Lab.choices,
        state_choices=selectors.STATE_FILTERS,
    )
    return render(request, "dashboard/cohort.html", context)


@require_safe
@login_required
def cohort_live(request, cohort_id):
    """The poll target: 304 while the fingerprint (counts and latest change times, one
    query) is what the page already shows."""
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    fingerprint = selectors.dashboard_fingerprint(cohort)
    etag = f'"d{cohort.pk}-{fingerprint}"'
    if request.GET.get("fp") == fingerprint or request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified()
    filters = selectors.Filters.from_query(request.GET)
    response = render(
        request,
        "dashboard/partials/live.html",
        _live_context(request, cohort, filters, fingerprint),
    )
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


# --- CSV -------------------------------------------------------------------------------


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _SpreadsheetSafeWriter:
    """csv.writer whose text cells cannot run as formulas when the instructor opens the
    file: learner names and failure reasons are text other people wrote."""

    def __init__(self, out):
        self._writer = csv.writer(out)

    def writerow(self, row) -> None:
        self._writer.writerow(
            [f"'{cell}" if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell
             for cell in row]
        )  # fmt: skip


def _csv_response(filename: str) -> tuple[HttpResponse, _SpreadsheetSafeWriter]:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response, _SpreadsheetSafeWriter(response)


@require_safe
@login_required
def export_progress(request, cohort_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    dashboard = selectors.dashboard_build(
        cohort=cohort,
        lab_settings=lab_settings_for(cohort),
        filters=selectors.Filters.from_query(request.GET),
    )
    response, writer = _csv_response(f"{cohort.slug}-progress.csv")
    writer.writerow(
        [
            "learner",
            "name",
            "last_activity",
            *[lesson["slug"] for lesson in dashboard.lessons],
            "done",
            "lessons",
            "live_resources",
            "spend_usd",
        ]
    )
    for row in dashboard.learners:
        writer.writerow(
            [
                row.username,
                row.full_name,
                row.last_activity.isoformat() if row.last_activity else "",
                *[selectors.PROGRESS_LABELS[state] for state in row.cells],
                row.done,
                len(dashboard.lessons),
                len(row.resources),
                f"{row.spend_usd:.4f}",
            ]
        )
    return response


@require_safe
@login_required
def export_resources(request, cohort_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    filters = selectors.Filters.from_query(request.GET)
    now = timezone.now()
    response, writer = _csv_response(f"{cohort.slug}-resources.csv")
    writer.writerow(
        [
            "learner",
            "lab",
            "kind",
            "region",
            "name",
            "instance_type",
            "state",
            "cloud_status",
            "created_at",
            "age_minutes",
            "hourly_usd",
            "accrued_usd",
            "expires_at",
            "failure_reason",
        ]
    )
    for r in selectors.resource_rows_for_cohort(cohort, now=now):
        if not filters.matches(r):
            continue
        writer.writerow(
            [
                r.owner_name,
                r.lab,
                r.kind,
                r.region,
                r.cloud_name,
                r.instance_type,
                r.state,
                r.cloud_status,
                r.created_at.isoformat(),
                int(r.age_seconds // 60),
                f"{r.hourly_usd:.4f}",
                f"{r.accrued_usd:.4f}",
                r.expires_at.isoformat() if r.expires_at else "",
                r.failure_reason,
            ]
        )
    return response


# --- Actions ---------------------------------------------------------------------------


def _confirm_first(request, cohort, *, question: str, button: str, extra: dict | None = None):
    """None when confirmed (htmx asked already, or the confirmation page posted back);
    else the confirmation page for browsers without JavaScript."""
    if request.htmx or request.POST.get("confirm") == "yes":
        return None
    return render(
        request,
        "dashboard/confirm.html",
        {
            "cohort": cohort,
            "question": question,
            "button": button,
            "action": request.path,
            "extra": extra or {},
        },
    )


def _acted(request, cohort, operation: CohortOperation):
    if request.htmx:
        response = render(
            request, "dashboard/partials/action_result.html", {"operation": operation}
        )
        # The live region refreshes at once instead of at its next poll.
        response["HX-Trigger"] = "dashboard-changed"
        return response
    messages.success(request, f"{operation.get_kind_display()}: {operation.summary}")
    return redirect(_dashboard_url(cohort))


def _refused(request, cohort, message: str):
    if request.htmx:
        response = render(
            request, "dashboard/partials/action_result.html", {"error": message}, status=422
        )
        return response
    return refused_page(
        request,
        heading="Not done",
        message=message,
        back_url=_dashboard_url(cohort),
        back_label="Back to the dashboard",
    )


@require_POST
@login_required
def stop_notebooks(request, cohort_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    confirm = _confirm_first(
        request,
        cohort,
        question=f"Stop every running notebook instance of {cohort.name}? "
        "Learners keep their files and can start them again.",
        button="Stop all notebooks",
    )
    if confirm:
        return confirm
    operation = services.cohort_stop_notebooks(cohort=cohort, actor=request.user)
    return _acted(request, cohort, operation)


@require_POST
@login_required
def teardown_cohort(request, cohort_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    confirm = _confirm_first(
        request,
        cohort,
        question=f"Delete every resource of {cohort.name} — buckets and their data, "
        "notebooks and their files, jobs and models — in every region?",
        button="Tear down the whole cohort",
    )
    if confirm:
        return confirm
    operation = services.cohort_teardown(cohort=cohort, actor=request.user)
    return _acted(request, cohort, operation)


@require_POST
@login_required
def teardown_learner(request, cohort_id, learner_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    learner = selectors.learner_get_in_cohort(cohort=cohort, learner_id=learner_id)
    confirm = _confirm_first(
        request,
        cohort,
        question=f"Delete every resource the portal made for {learner.username}, in every region?",
        button=f"Tear down {learner.username}",
    )
    if confirm:
        return confirm
    operation = services.learner_teardown(cohort=cohort, learner=learner, actor=request.user)
    return _acted(request, cohort, operation)


@require_POST
@login_required
def extend_learner(request, cohort_id, learner_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    learner = selectors.learner_get_in_cohort(cohort=cohort, learner_id=learner_id)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        return _refused(request, cohort, form.errors["minutes"][0])
    minutes = form.cleaned_data["minutes"]
    confirm = _confirm_first(
        request,
        cohort,
        question=f"Give {learner.username} {minutes} more minutes on every resource?",
        button="Extend",
        extra={"minutes": minutes},
    )
    if confirm:
        return confirm
    try:
        operation = services.learner_extend(
            cohort=cohort, learner=learner, actor=request.user, minutes=minutes
        )
    except services.ActionRefusedError as refusal:
        return _refused(request, cohort, refusal.message)
    return _acted(request, cohort, operation)


@require_POST
@login_required
def sweep(request, cohort_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    operation = services.cohort_sweep_request(cohort=cohort, actor=request.user)
    return _acted(request, cohort, operation)


@require_POST
@login_required
def operation_delete_found(request, cohort_id, operation_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    source = selectors.operation_get_in_cohort(cohort=cohort, operation_id=operation_id)
    try:
        services.cohort_sweep_delete_check(source)  # Before asking to confirm.
    except services.ActionRefusedError as refusal:
        return _refused(request, cohort, refusal.message)
    count = len(source.live_found)
    confirm = _confirm_first(
        request,
        cohort,
        question=f"Delete the {count} resource{'s' if count != 1 else ''} found in the "
        "cloud? The portal does not know them; their data is lost.",
        button="Delete them",
    )
    if confirm:
        return confirm
    try:
        operation = services.cohort_sweep_delete_request(source=source, actor=request.user)
    except services.ActionRefusedError as refusal:
        return _refused(request, cohort, refusal.message)
    return _acted(request, cohort, operation)


@require_safe
@login_required
def operation_status(request, cohort_id, operation_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    operation = selectors.operation_get_in_cohort(cohort=cohort, operation_id=operation_id)
    if request.GET.get("v") == str(operation.version):
        return HttpResponseNotModified()
    response = render(
        request, "dashboard/partials/operation.html", {"operation": operation, "cohort": cohort}
    )
    if operation.is_final and request.htmx:
        response.status_code = HTMX_STOP_POLLING
    return response


# --- Settings --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def cohort_settings(request, cohort_id):
    cohort = selectors.cohort_get_for_instructor(user=request.user, cohort_id=cohort_id)
    lab_settings = lab_settings_for(cohort)
    if request.method == "POST":
        form = LabSettingsForm.for_settings(lab_settings, data=request.POST)
        if form.is_valid():
            operation = services.lab_settings_update(
                lab_settings=lab_settings, changes=form.cleaned_data, actor=request.user
            )
            messages.success(request, f"Settings saved. {operation.summary}")
            return redirect(_dashboard_url(cohort))
        status = 400
    else:
        form = LabSettingsForm.for_settings(lab_settings)
        status = 200
    return render(
        request,
        "dashboard/settings.html",
        {"cohort": cohort, "form": form, "lab_settings": lab_settings},
        status=status,
    )
