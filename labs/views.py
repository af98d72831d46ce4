"""Lab pages: thin views that read the database, call one service and render.
The web process never calls the cloud; the status partials read a single row."""

import secrets
from datetime import timedelta
from urllib.parse import unquote_plus

from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from curriculum import selectors as course
from curriculum.models import Lesson
from labs import dataset, poll_tokens, selectors
from labs.cloud import pricing, regions
from labs.forms import BucketForm, InstanceTypeForm, RegionForm, TrainingForm, first_error
from labs.models import CloudResource, Lab, LabCheck
from labs.services import labs as lab_services
from labs.services.events import version_cache_key
from labs.services.policy import LaunchRefusedError, lab_settings_for, offered_instance_types
from labs.services.resources import (
    launch_refused_by,
    notebook_request_open_url,
    resource_request_action,
)
from portal.views import refused_page

HTMX_STOP_POLLING = 286
# How far back a lab page lists what was deleted, and why.
RECENTLY = timedelta(days=1)


def _lab_or_404(lab: str) -> str:
    if lab not in Lab.values:
        raise Http404("No such lab.")
    return lab


def _learner_context(request):
    labs = selectors.learner_labs(request.user)
    if labs is None:
        raise PermissionDenied("You are not enrolled in a cohort, so you cannot launch labs yet.")
    lab_settings = labs.lab_settings or lab_settings_for(labs.cohort)
    region = selectors.region_within(labs.chosen_region, lab_settings.allowed_regions)
    return labs.cohort, lab_settings, region


def _lab_page_context(request, lab):
    cohort, lab_settings, region = _learner_context(request)
    lesson = Lesson.objects.filter(kind=Lesson.Kind.LAB, lab=lab, is_published=True).first()
    cards = _lab_resources(request.user, cohort, lab, region, lab_settings.allowed_regions)
    check = selectors.lab_check_latest(user=request.user, cohort=cohort, lab=lab)
    context = {
        "lab": lab,
        "cohort": cohort,
        "lab_settings": lab_settings,
        "region": region,
        "region_label": regions.region_name(region),
        "region_choices": [
            (code, regions.region_name(code)) for code in lab_settings.allowed_regions
        ],
        **cards,
        "check": check,
        "check_stale": _check_stale(check, cards["resources"], region),
        "instance_choices": _instance_choices(lab_settings, lab, region),
        "training_form": TrainingForm(
            initial={"instance_type": lab_settings.training_instance_type}
        ),
        "proposed_bucket": _proposed_bucket(request.user, cohort, region, lab),
        "dataset_names": [path.name for path in dataset.dataset_files().values()],
        "launch_key": _new_launch_key(),
        "lesson": lesson,
        # Without its lesson (the file was taken out of the course), the workspace still
        # shows: what was launched there may still bill.
        "page_template": "curriculum/lesson.html" if lesson else "labs/lab_alone.html",
        "lab_label": Lab(lab).label,
    }
    if lab == Lab.TRANSFORM:
        context["model_source"] = selectors.training_job_for_transform(
            user=request.user, cohort=cohort, region=region
        )
    if lesson:
        ticked, completed = course.lesson_progress_for_user(user=request.user, lesson=lesson)
        previous, following = course.lesson_neighbours(user=request.user, lesson=lesson)
        context.update(ticked=ticked, completed=completed, previous=previous, following=following)
    return context


def _check_stale(check, resources, region) -> str:
    """Why the last check's answer may no longer hold: the box keeps it beside live cards."""
    if check is None or check.checked_at is None:
        return ""
    if check.purpose == LabCheck.Purpose.PROGRESS and check.region != region:
        return f"That answer is for {check.region}; you now work in {region}."
    if any(resource.updated_at > check.checked_at for resource in resources):
        return "Your resources have changed since: check again for an answer as of now."
    return ""


def _region_cards(user, cohort, lab, region) -> dict:
    """The region's cards, and the note they put above the form."""
    resources = list(
        selectors.resource_list_for_lab(user=user, cohort=cohort, lab=lab, region=region)
    )
    return {
        "resources": resources,
        "launch_refused": launch_refused_by(resources, _LAUNCHED_KIND[lab]),
    }


def _lab_resources(user, cohort, lab, region, allowed_regions) -> dict:
    """What the page says of the lab's resources: the region's cards (and the note they
    put above the form), the counts in other regions, those left in regions no longer
    offered and those deleted lately."""
    return {
        **_region_cards(user, cohort, lab, region),
        "elsewhere": selectors.resource_counts_in_other_regions(
            user=user, cohort=cohort, lab=lab, region=region, allowed_regions=allowed_regions
        ),
        "outside_regions": list(
            selectors.resource_list_outside_regions(
                user=user, cohort=cohort, lab=lab, allowed_regions=allowed_regions
            )
        ),
        "recently_deleted": list(
            selectors.resource_list_recently_deleted(
                user=user, cohort=cohort, lab=lab, since=timezone.now() - RECENTLY
            )
        ),
    }


def _proposed_bucket(user, cohort, region, lab):
    """The first of the learner's proposed names not used yet in this region."""
    from labs.cloud import naming

    if lab != Lab.STORAGE:
        return ""
    used = selectors.bucket_names_used(user=user, cohort=cohort, region=region)
    attempt = 1
    while True:
        name = naming.proposed_bucket_name(
            cohort_slug=cohort.slug,
            username=user.username,
            user_id=user.pk,
            region=region,
            attempt=attempt,
        )
        if name not in used:
            return name
        attempt += 1


# The billed resource each lab's instance-type menu is for.
_BILLED_KIND = {
    Lab.NOTEBOOK: CloudResource.Kind.NOTEBOOK,
    Lab.TRAINING: CloudResource.Kind.TRAINING_JOB,
    Lab.TRANSFORM: CloudResource.Kind.TRANSFORM_JOB,
}
# What each lab's form launches.
_LAUNCHED_KIND = {Lab.STORAGE: CloudResource.Kind.BUCKET, **_BILLED_KIND}


def _instance_choices(lab_settings, lab, region):
    if lab not in _BILLED_KIND:
        return []
    choices = []
    for name in offered_instance_types(lab_settings, _BILLED_KIND[lab]):
        gpu = pricing.is_gpu(name)
        price = pricing.hourly_price(name, region)  # What a launch here would be billed.
        choices.append({"name": name, "gpu": gpu, "hourly": price})
    return choices


@require_safe
@login_required
def lab_page(request, lab):
    lab = _lab_or_404(lab)
    return render(request, "labs/lab.html", _lab_page_context(request, lab))


@require_safe
@login_required
def dataset_file(request, name):
    """One of the course data set's CSV files, for learners who upload it themselves."""
    files = {path.name: path for path in dataset.dataset_files().values()}
    if name not in files:
        raise Http404("No such file in the course data set.")
    return FileResponse(files[name].open("rb"), as_attachment=True, content_type="text/csv")


@require_POST
@login_required
def region_select(request):
    cohort, lab_settings, _ = _learner_context(request)
    form = RegionForm(request.POST)
    lab = request.POST.get("lab", Lab.STORAGE)
    lab = lab if lab in Lab.values else Lab.STORAGE
    if not form.is_valid():
        return _refused_page(request, lab, "Choose a region from the list.", "Region not changed")
    try:
        region = lab_services.learner_set_region(
            learner=request.user, lab_settings=lab_settings, region=form.cleaned_data["region"]
        )
    except LaunchRefusedError as refusal:
        return _refused_page(request, lab, refusal.message, "Region not changed")
    messages.success(request, f"Region set to {region} ({regions.region_name(region)}).")
    return redirect("lab-page", lab=lab)


def _refused(request, lab, message, status=400, heading="That didn't start"):
    if request.htmx:
        # 422 is the one client error the page swaps in, always into the message area.
        response = render(request, "labs/partials/error.html", {"message": message}, status=422)
        response["HX-Retarget"] = "#launch-error"
        response["HX-Reswap"] = "innerHTML show:top"  # Scrolled to: it may be far above.
        return response
    return _refused_page(request, lab, message, heading, status)


def _refused_page(request, lab, message, heading, status=400):
    return refused_page(
        request,
        heading=heading,
        message=message,
        back_url=reverse("lab-page", args=[lab]),
        back_label="Back to the lab",
        status=status,
    )


def _launched(request, lab, cohort, resource):
    if request.htmx:
        # The region's cards, the new one among them, in place of the old list: cheaper
        # than reloading the page, and the form keeps what the learner typed.
        context = {
            **_region_cards(request.user, cohort, lab, resource.region),
            "launched": resource,
            "launch_key": _new_launch_key(),  # A next launch is a new one.
        }
        response = render(request, "labs/partials/launched.html", context)
        response["HX-Retarget"] = "#resources"
        response["HX-Reswap"] = "outerHTML"
        return response
    messages.success(request, f"Launched the {resource.kind_in_sentence} {resource.cloud_name}.")
    return redirect("lab-page", lab=lab)


@require_POST
@login_required
def lab_launch(request, lab):
    lab = _lab_or_404(lab)
    cohort, lab_settings, region = _learner_context(request)
    try:
        resource = _launch_for_lab(request, lab, lab_settings, region)
    except LaunchRefusedError as refusal:
        return _refused(request, lab, refusal.message)
    return _launched(request, lab, cohort, resource)


def _new_launch_key() -> str:
    return secrets.token_urlsafe(16)


def _launch_key(request) -> str:
    """The launch form's one-time key; anything malformed counts as none."""
    key = request.POST.get("launch_key", "")
    return key if len(key) <= 40 and key.replace("-", "").replace("_", "").isalnum() else ""


def _launch_for_lab(request, lab, lab_settings, region):
    learner = request.user
    launch_key = _launch_key(request)
    if lab == Lab.STORAGE:
        form = BucketForm(request.POST)
        if not form.is_valid():
            raise LaunchRefusedError(first_error(form))
        return lab_services.lab_launch_bucket(
            learner=learner,
            lab_settings=lab_settings,
            region=region,
            bucket_name=form.cleaned_data["bucket_name"],
            launch_key=launch_key,
        )
    if lab == Lab.TRAINING:
        form = TrainingForm(request.POST)
        if not form.is_valid():
            raise LaunchRefusedError(first_error(form))
        return lab_services.lab_launch_training(
            learner=learner,
            lab_settings=lab_settings,
            region=region,
            instance_type=form.cleaned_data["instance_type"],
            hyperparameters=form.hyperparameters(),
            launch_key=launch_key,
        )
    form = InstanceTypeForm(request.POST)
    if not form.is_valid():
        raise LaunchRefusedError(first_error(form))
    launch = (
        lab_services.lab_launch_notebook
        if lab == Lab.NOTEBOOK
        else lab_services.lab_launch_transform
    )
    return launch(
        learner=learner,
        lab_settings=lab_settings,
        region=region,
        instance_type=form.cleaned_data["instance_type"],
        launch_key=launch_key,
    )


@require_POST
@login_required
def resource_action(request, pk, action):
    resource = selectors.resource_get_for_owner(user=request.user, pk=pk)
    if action not in ("stop", "start", "delete", "open"):
        raise Http404("No such action.")
    try:
        if action == "open":
            resource = notebook_request_open_url(resource)
        else:
            resource = resource_request_action(resource=resource, action=action)
    except LaunchRefusedError as refusal:
        if request.htmx:
            # The card as it is now, the sentence beside the button: the page may have
            # been showing an older state (another tab, a clean-up).
            resource.refresh_from_db()
            context = {"resource": resource, "refusal": refusal.message}
            return render(request, "labs/partials/resource.html", context, status=422)
        heading = "Nothing was changed" if action != "open" else "JupyterLab is not ready"
        return _refused(request, resource.lab, refusal.message, status=409, heading=heading)
    if request.htmx:
        resource.refresh_from_db()
        return render(
            request,
            "labs/partials/resource.html",
            {"resource": resource, "waiting_for_url": action == "open", "announce": True},
        )
    return redirect("lab-page", lab=resource.lab)


def _session_user_id(request) -> int | None:
    """The logged-in user's id read straight from the (cached) session. Full pages still
    load and verify the user; the poll only needs to know whose resource it may show."""
    try:
        return int(request.session[SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return None


def _poll_query(request) -> dict[str, str]:
    """The poll's query parameters (v, t, open), the last of each name winning as in
    ``request.GET``. Every open card asks every second or two, and building Django's
    QueryDict cost a tenth of an unchanged poll."""
    query = {}
    for part in request.META.get("QUERY_STRING", "").split("&"):
        name, _, value = part.partition("=")
        query[unquote_plus(name)] = unquote_plus(value)
    return query


def _poller_id(request, pk: int, token: str) -> int | None:
    """Who polls: the owner named by the card's signed poll token, else the session."""
    owner_id = poll_tokens.owner_from_token(token, resource_id=pk)
    return owner_id if owner_id is not None else _session_user_id(request)


@require_safe
def resource_status(request, pk):
    """The poll target: 304 when the version is unchanged (one cache read), the card
    when it changed (one indexed row and its last events, for the owner's session only),
    286 once it rests (htmx stops polling)."""
    query = _poll_query(request)
    user_id = _poller_id(request, pk, query.get("t", ""))
    if user_id is None:
        return redirect_to_login(request.get_full_path())
    known = query.get("v")
    if known and cache.get(version_cache_key(pk)) == f"{user_id}:{known}":
        return HttpResponseNotModified()  # Unchanged, and theirs: no database at all.
    resource = CloudResource.objects.filter(pk=pk, owner_id=user_id).first()
    if resource is None:
        raise Http404("No such resource.")
    etag = f'"r{resource.pk}-v{resource.version}"'
    if request.headers.get("If-None-Match") == etag or known == str(resource.version):
        return HttpResponseNotModified()
    # The card itself (its open-JupyterLab link above all) only for the owner's live
    # session: the token alone, still valid after a logout or a password change, says
    # no more than "unchanged".
    if not (request.user.is_authenticated and request.user.pk == resource.owner_id):
        # Under htmx, the whole page goes to the login form and back (htmx_session.py),
        # as a click does; the card is not replaced by a sentence.
        return redirect_to_login(request.get_full_path())
    asked_to_open = query.get("open") == "1"
    # Until the link is there, or the worker said why it could not make one.
    waiting = asked_to_open and not (resource.details.get("open_url") or resource.failure_reason)
    context = {
        "resource": resource,
        "waiting_for_url": waiting,
        "announce": True,
        "link_ready": asked_to_open and not waiting,
    }
    if resource.is_resting and not waiting:
        # Its last answer: the note above the form ("you have one here...") may no longer
        # hold (a job that finished, a launch that failed), so it comes along, out of band.
        context["launch_note_now"] = _region_cards(
            request.user, resource.cohort_id, resource.lab, resource.region
        )["launch_refused"]
    response = render(request, "labs/partials/resource.html", context)
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    if resource.is_resting and not waiting:
        response.status_code = HTMX_STOP_POLLING if request.htmx else 200
    return response


@require_POST
@login_required
def lab_check(request, lab):
    lab = _lab_or_404(lab)
    cohort, lab_settings, region = _learner_context(request)
    purpose = request.POST.get("purpose", "")
    if purpose == LabCheck.Purpose.CLEANUP:
        check = lab_services.lab_cleanup(
            learner=request.user, lab_settings=lab_settings, lab=lab, region=region
        )
    elif purpose == LabCheck.Purpose.PROGRESS:
        check = lab_services.lab_check_request(
            learner=request.user,
            lab_settings=lab_settings,
            lab=lab,
            region=region,
            purpose=purpose,
        )
    else:
        return _refused(
            request, lab, "Choose Check my progress or Clean up this lab.", heading="Not checked"
        )
    if request.htmx and purpose == LabCheck.Purpose.CLEANUP:
        context = {
            "check": check,
            **_lab_resources(request.user, cohort, lab, region, lab_settings.allowed_regions),
        }
        return render(request, "labs/partials/cleanup_started.html", context)
    if request.htmx:
        return render(request, "labs/partials/check.html", {"check": check})
    return redirect("lab-page", lab=lab)


@require_safe
@login_required
def lab_check_status(request, pk):
    check = selectors.lab_check_get_for_user(user=request.user, pk=pk)
    response = render(request, "labs/partials/check.html", {"check": check})
    if check.state != LabCheck.State.PENDING and request.htmx:
        response.status_code = HTMX_STOP_POLLING
    return response
