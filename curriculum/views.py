from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from curriculum import selectors, services
from portal.page_cache import personal_page


def _visible_lesson_or_403(user, slug):
    try:
        return selectors.lesson_get_visible(user=user, slug=slug)
    except selectors.LessonForbiddenError:
        raise PermissionDenied("This page is for the cohort's instructors.") from None


def _wants_on(request) -> bool | None:
    value = request.POST.get("on")
    return {"1": True, "0": False}.get(value)


@require_safe
@login_required
def course_home(request):
    def render_page(extra_context):
        modules = selectors.toc_for_user(request.user)
        total = sum(len(module.entries) for module in modules)
        done = sum(module.completed for module in modules)
        context = {"modules": modules, "total": total, "done": done, **extra_context}
        return render(request, "curriculum/course_home.html", context)

    return personal_page(request, render_page, shared=(selectors.COURSE_PAGES,))


@require_safe
@login_required
def lesson_detail(request, slug):
    def render_page(extra_context):
        lesson = _visible_lesson_or_403(request.user, slug)
        if lesson.kind == lesson.Kind.LAB:
            # A lab's text lives on its lab page, beside the buttons that do the work.
            return redirect("lab-page", lab=lesson.lab)
        ticked, completed = selectors.lesson_progress_for_user(user=request.user, lesson=lesson)
        previous, following = selectors.lesson_neighbours(user=request.user, lesson=lesson)
        context = {
            "lesson": lesson,
            "ticked": ticked,
            "completed": completed,
            "previous": previous,
            "following": following,
            **extra_context,
        }
        return render(request, "curriculum/lesson.html", context)

    # Served from the cache, the page skips these checks: it was rendered for this user
    # after they passed, and a new role or course starts a new page generation.
    return personal_page(request, render_page, shared=(selectors.COURSE_PAGES,))


@require_POST
@login_required
def objective_tick(request, slug, key):
    lesson = _visible_lesson_or_403(request.user, slug)
    on = _wants_on(request)
    if on is None:
        return HttpResponseBadRequest("Send on=1 to tick or on=0 to untick.")
    try:
        services.objective_set_ticked(
            user=request.user, lesson=lesson, objective_key=key, ticked=on
        )
    except KeyError:
        return HttpResponseBadRequest("This lesson has no such objective.")
    objective = next(o for o in lesson.objectives if o["key"] == key)
    context = {"lesson": lesson, "objective": objective, "is_ticked": on}
    if request.htmx:
        return render(request, "curriculum/partials/objective.html", context)
    return redirect("lesson-detail", slug=lesson.slug)


@require_POST
@login_required
def lesson_complete(request, slug):
    lesson = _visible_lesson_or_403(request.user, slug)
    on = _wants_on(request)
    if on is None:
        return HttpResponseBadRequest("Send on=1 to mark complete or on=0 to undo.")
    try:
        services.lesson_set_completed(user=request.user, lesson=lesson, completed=on)
    except services.CompletedByCheckError as refused:
        return HttpResponseBadRequest(refused.message)
    if request.htmx:
        return render(
            request, "curriculum/partials/complete.html", {"lesson": lesson, "completed": on}
        )
    return redirect("lesson-detail", slug=lesson.slug)
