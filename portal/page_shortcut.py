"""Kept course pages answered before Django's middleware, for sessions it has let in.

A kept page (portal/page_cache.py) costs little to send; most of what a page view still
cost was the way through Django around it: the middleware, the session, the user and the
URL patterns. When Django has answered a kept page, this records a *pass* for that
session, path, host and scheme: the session's contents, the user's page generations and
the answer's headers. The session's next request for that page is answered here, from
the kept page with a CSRF token of its own, if

- the session holds exactly what it held: logging out, an expired session, a new region
  or a waiting message change or remove it;
- the user's page generations are the same: any change to the user (a password changed
  elsewhere, a deactivation), their enrolments, their ticks or the course starts new
  ones, and Django looks at the session again;
- the browser's CSRF cookie is a well-formed secret.

Anything else (another method, a query string, an htmx request, no pass) goes to Django
as before. A pass's key is a MAC under the secret key, so a new key, which ends every
login, also ends every pass.
"""

import hashlib
import logging
from importlib import import_module

from django.conf import settings
from django.core.cache import cache, caches
from django.http.cookie import parse_cookie
from django.utils.crypto import salted_hmac

from portal.csrf_tokens import mask_secret, well_formed_secret
from portal.near_cache import note_request_finished, note_request_started
from portal.page_cache import PAGE_CACHE_SECONDS, kept_parts, page_generations

logger = logging.getLogger(__name__)

# What Django reads of a request to decide who asks for what, and how it answers.
_REQUEST_IDENTITY = (
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PROTO",
    "SCRIPT_NAME",
    "PATH_INFO",
)


class PageShortcut:
    """WSGI middleware around Django's application."""

    def __init__(self, application):
        self.application = application
        store = import_module(settings.SESSION_ENGINE).SessionStore
        # Only sessions kept in a cache can be read here without the database, and only
        # a CSRF secret kept in a cookie.
        self._session_prefix = getattr(store, "cache_key_prefix", None)
        self._enabled = self._session_prefix is not None and not settings.CSRF_USE_SESSIONS
        self._session_cache = caches[getattr(settings, "SESSION_CACHE_ALIAS", "default")]
        self._pass_mac_key = salted_hmac(
            "portal.page_shortcut", "pass keys", algorithm="sha256"
        ).digest()
        # The paths this process has answered a kept page for: no other request pays
        # for looking for a pass (each process learns a page at its first answer).
        self._page_paths: set[str] = set()

    def __call__(self, environ, start_response):
        if (
            not self._enabled
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or "HTTP_HX_REQUEST" in environ
        ):
            return self.application(environ, start_response)
        if environ.get("PATH_INFO") in self._page_paths:
            answer = self._answer(environ)
            if answer is not None:
                headers, body = answer
                start_response("200 OK", headers)
                return [body]
        return self._through_django(environ, start_response)

    def _pass_key(self, environ, session_key: str) -> str:
        identity = "\n".join(str(environ.get(name, "")) for name in _REQUEST_IDENTITY)
        mac = hashlib.blake2b(
            f"{session_key}\n{identity}".encode("utf-8", "surrogateescape"),
            key=self._pass_mac_key,
            digest_size=16,
        )
        return f"pages:pass:{mac.hexdigest()}"

    def _cookies(self, environ) -> tuple[str | None, str | None]:
        """The session key and the CSRF secret from the request's cookies."""
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        return cookies.get(settings.SESSION_COOKIE_NAME), cookies.get(settings.CSRF_COOKIE_NAME)

    def _answer(self, environ):
        session_key, csrf_secret = self._cookies(environ)
        if not session_key or not csrf_secret or not well_formed_secret(csrf_secret):
            return None
        note_request_started()  # The near cache's reads see every change made until now.
        try:
            return self._answer_from_pass(environ, session_key, csrf_secret)
        except Exception:  # Django answers instead, and reports what it meets in its way.
            logger.warning("page shortcut: could not answer from a pass", exc_info=True)
            return None
        finally:
            note_request_finished()

    def _answer_from_pass(self, environ, session_key: str, csrf_secret: str):
        found = cache.get(self._pass_key(environ, session_key))
        if found is None:
            return None
        (user_id, shared, path, generations, session_items), headers = found
        session = self._session_cache.get(self._session_prefix + session_key)
        if session is None or tuple(sorted(session.items())) != session_items:
            return None
        if page_generations(user_id, shared) != generations:
            return None
        parts = kept_parts(user_id, generations, path)
        if parts is None:
            return None
        body = mask_secret(csrf_secret).encode().join(parts)
        return [*headers, ("Content-Length", str(len(body)))], body

    def _through_django(self, environ, start_response):
        answered = []

        def noting_start_response(status, headers, exc_info=None):
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        response = self.application(environ, noting_start_response)
        kept = getattr(response, "kept_page", None)
        if kept is None or not answered or not answered[0].startswith("200 "):
            return response
        status, headers = answered
        if any(name.lower() == "set-cookie" for name, _ in headers):
            return response  # The browser was sent something new: Django answers again.
        session_key, _ = self._cookies(environ)
        if not session_key:
            return response
        headers = tuple((n, v) for n, v in headers if n.lower() != "content-length")
        note = (kept.user_id, kept.shared, kept.path, kept.generations, kept.session)
        cache.set(self._pass_key(environ, session_key), (note, headers), PAGE_CACHE_SECONDS)
        self._page_paths.add(environ.get("PATH_INFO"))
        return response
