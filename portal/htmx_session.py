"""A click on a page whose session has ended sends the whole page to the login form.

Logged out in another tab, or timed out, a button's request was answered with a
redirect to the login page. The browser follows a redirect inside htmx's request, so
htmx put a whole login page into the panel, and logging in there led to the button's
address. Now htmx is told to load the login page in place of the page, and the login
brings the learner back to the page they were on (htmx sends its address).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def _page_address(request) -> str | None:
    """The path of the page that sent the request, when it is one of this site's."""
    current = request.headers.get("HX-Current-URL", "")
    if not url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(current)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class HtmxLoginRedirectMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code != 302:
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        if urlsplit(response["Location"]).path != login_path:
            return response
        page = _page_address(request) or resolve_url(settings.LOGIN_REDIRECT_URL)
        navigate = HttpResponse(status=204)  # Nothing to swap: htmx navigates instead.
        navigate["HX-Redirect"] = redirect_to_login(page)["Location"]
        return navigate
