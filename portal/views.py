from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET


@require_GET
def home(request):
    return redirect("course-home")


@require_GET
def healthz(request):
    """Liveness probe for load balancers and docker-compose; touches nothing."""
    return HttpResponse("ok", content_type="text/plain")
