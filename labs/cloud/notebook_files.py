"""Put a file into a notebook instance's JupyterLab through its presigned URL.

Opening the presigned URL logs a session in (AWS and localcloud both answer with a
cookie); Jupyter's contents API then accepts a PUT carrying the ``_xsrf`` cookie back as
the X-XSRFToken header. This is how the portal drops the starter notebook into a new
notebook instance without any lifecycle script.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request

from labs.cloud.errors import PermanentCloudError, TransientCloudError

TIMEOUT_SECONDS = 15


def _opener() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def notebook_put_file(presigned_url: str, *, path: str, content: dict) -> None:
    """Create or replace ``path`` (a notebook, as nbformat JSON) in the instance."""
    parts = urllib.parse.urlsplit(presigned_url)
    base = f"{parts.scheme}://{parts.netloc}"
    opener, jar = _opener()
    try:
        opener.open(presigned_url, timeout=TIMEOUT_SECONDS).read()
        xsrf = next((cookie.value for cookie in jar if cookie.name == "_xsrf"), "")
        body = json.dumps({"type": "notebook", "format": "json", "content": content}).encode()
        request = urllib.request.Request(
            f"{base}/api/contents/{urllib.parse.quote(path)}",
            data=body,
            method="PUT",
            headers={"Content-Type": "application/json", "X-XSRFToken": xsrf},
        )
        opener.open(request, timeout=TIMEOUT_SECONDS).read()
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise TransientCloudError(
                f"JupyterLab answered {error.code}; will try again."
            ) from error
        raise PermanentCloudError(
            f"JupyterLab refused the starter notebook ({error.code})."
        ) from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise TransientCloudError("JupyterLab did not answer yet; will try again.") from error
