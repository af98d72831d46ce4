import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_application = get_wsgi_application()

# Kept course pages are answered before the middleware (the module says when).
from portal.page_shortcut import PageShortcut  # noqa: E402 (needs Django set up)

application = PageShortcut(django_application)

# Launch forms check instance types against botocore's model: read it before serving.
from labs.cloud import pricing  # noqa: E402

pricing.preload()
