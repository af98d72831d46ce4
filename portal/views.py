from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

STALE_PAGE = (
    "This page is out of date: you logged in or out in another tab since it was opened, "
    "so its buttons no longer work."
)


@require_safe
def home(request):
    return redirect("course-home")


@require_safe
def healthz(request):
    """Liveness probe for load balancers and docker-compose; touches nothing."""
    return HttpResponse("ok", content_type="text/plain")


def csrf_failure(request, reason=""):
    """A form refused for its CSRF token: nearly always a page opened before a login or
    logout elsewhere, so say that, in the page's message area when htmx sent it."""
    if getattr(request, "htmx", False):
        response = render(request, "page_error.html", {"message": STALE_PAGE}, status=422)
        response["HX-Retarget"] = "#page-error"
        response["HX-Reswap"] = "innerHTML show:top"  # At the top of the page: scrolled to.
        return response
    return render(request, "403_csrf.html", {"message": STALE_PAGE}, status=403)


def refused_page(request, *, heading, message, back_url, back_label, status=400):
    """A refusal as a page of its own (a form sent without JavaScript): the reason, and
    the way back."""
    context = {
        "heading": heading,
        "message": message,
        "back_url": back_url,
        "back_label": back_label,
    }
    return render(request, "refused.html", context, status=status)


class _RefusedFormIs400:
    """A form sent back with its errors answers 400: bad input is a client error (the
    page still shows the form and says what to fix)."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class LoginView(_RefusedFormIs400, auth_views.LoginView):
    redirect_authenticated_user = True


class PasswordChangeView(_RefusedFormIs400, auth_views.PasswordChangeView):
    pass
