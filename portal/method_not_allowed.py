"""A page that says why, for the 405s Django's require_POST/require_safe leave empty.

They happen when someone opens a button's address in the browser (a bookmark, a
copied link, the back button after a form): an empty page would look like a crash.
"""

from django.template.loader import render_to_string


class MethodNotAllowedPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and not response.streaming and not response.content:
            allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
            response.content = render_to_string("405.html", {"allowed": allowed}, request=request)
            response["Content-Type"] = "text/html; charset=utf-8"
        return response
