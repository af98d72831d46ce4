"""Form posts must be UTF-8; anything else gets a sentence and a 400.

Django refuses a urlencoded body that declares another charset, but with DEBUG on its
error page reads the same body again and fails, so the browser saw a 500. Browsers always
send UTF-8; only a hand-made request declares another charset.
"""

from django.http import HttpResponse

FORM_TYPE = "application/x-www-form-urlencoded"
REFUSAL = (
    "This form was sent in the {charset} character set; this site reads forms in UTF-8 "
    "only. Send it again from the page, or as UTF-8."
)


class FormEncodingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = request.encoding  # The request's declared charset, when Python knows it.
        if request.content_type == FORM_TYPE and charset and charset.lower() != "utf-8":
            return HttpResponse(
                REFUSAL.format(charset=charset),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
