"""The portal's URLs plus a logged-in page that renders nothing (bench/reference_settings)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from portal.urls import urlpatterns as portal_urlpatterns


@require_GET
@login_required
def logged_in_constant(request, size):
    """What a logged-in page of ``size`` bytes costs through Django: the middleware, the
    session, the user and the answer, with no template and no cache lookup."""
    return HttpResponse(b"x" * size, content_type="text/html; charset=utf-8")


urlpatterns = [
    *portal_urlpatterns,
    path("bench/logged-in/<int:size>/", logged_in_constant),
]
