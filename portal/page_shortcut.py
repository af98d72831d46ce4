"""Kept course pages answered before Django's middleware, for sessions it has let in.

A kept page (portal/page_cache.py) costs little to send; most of what a page view still
cost was the way through Django around it: the middleware, the session, the user and the
URL patterns. When Django has answered a kept page, this records a *pass* for that
session, path, host and scheme: the session's contents and the user's page generations,
both as read *before* Django checked the session, and the answer's headers. The
session's next request for that page is answered here, from the kept page with a CSRF
token of its own, if

- the session holds exactly what it held: logging out, an expired session, a new region
  or a waiting message change or remove it;
- the user's page generations are the same: any change to the user (a password changed
  elsewhere, a deactivation), their enrolments, their ticks or the course starts new
  ones, and Django looks at the session again. Read before Django's check, a change
  that lands during the request makes them differ too;
- the browser's CSRF cookie is a well-formed secret.

Anything else (another method, a query string, a body, an htmx request, no pass) goes to
Django as before. A pass's key is a MAC under the secret key and the settings that shape
Django's answer (hosts, middleware, security headers, cookies), so a restart that changes
any of them ends every pass.
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
from portal.page_cache import (
    PAGE_CACHE_SECONDS,
    kept_parts,
    page_generations,
    sorted_session_items,
    user_generation,
)

logger = logging.getLogger(__name__)

# The settings that shape who Django lets in and what it answers them, beside the key.
_ANSWER_SETTINGS = (
    "ALLOWED_HOSTS",
    "AUTHENTICATION_BACKENDS",
    "MIDDLEWARE",
    "X_FRAME_OPTIONS",
    "USE_X_FORWARDED_HOST",
    "USE_X_FORWARDED_PORT",
    "SECRET_KEY_FALLBACKS",
)
_ANSWER_SETTING_PREFIXES = ("SECURE_", "SESSION_", "CSRF_")
_LENGTH = "Content-Length"


def _answer_settings_fingerprint() -> str:
    names = sorted(
        name
        for name in dir(settings)
        if name in _ANSWER_SETTINGS or name.startswith(_ANSWER_SETTING_PREFIXES)
    )
    return "\n".join(f"{name}={getattr(settings, name)!r}" for name in names)


def _identity_names() -> tuple[str, ...]:
    """What Django reads of a request, under these settings, to decide who asks for what."""
    names = ["wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT"]
    if settings.USE_X_FORWARDED_HOST:
        names.append("HTTP_X_FORWARDED_HOST")
    if settings.USE_X_FORWARDED_PORT:
        names.append("HTTP_X_FORWARDED_PORT")
    if settings.SECURE_PROXY_SSL_HEADER:
        names.append(settings.SECURE_PROXY_SSL_HEADER[0])
    return (*names, "SCRIPT_NAME", "PATH_INFO")


class PageShortcut:
    """WSGI middleware around Django's application."""

    def __init__(self, application):
        self.application = application
        store = import_module(settings.SESSION_ENGINE).SessionStore
        # Only sessions kept in a cache can be read here without the database, only a
        # CSRF secret kept in a cookie, and only while no setting makes Django answer by
        # what this does not read (the browser's name, a www. to add).
        self._session_prefix = getattr(store, "cache_key_prefix", None)
        self._enabled = (
            self._session_prefix is not None
            and not settings.CSRF_USE_SESSIONS
            and not settings.DISALLOWED_USER_AGENTS
            and not settings.PREPEND_WWW
        )
        self._pass_mac_key = salted_hmac(
            "portal.page_shortcut", _answer_settings_fingerprint(), algorithm="sha256"
        ).digest()
        self._identity = _identity_names()
        # The paths this process has seen Django answer with a kept page: no other
        # request pays for looking for a pass (each process learns a page at its first
        # answer).
        self._page_paths: set[str] = set()

    def __call__(self, environ, start_response):
        if (
            not self._enabled
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("CONTENT_TYPE")
            or "HTTP_HX_REQUEST" in environ
        ):
            return self.application(environ, start_response)
        if environ.get("PATH_INFO") not in self._page_paths:
            return self._learn_pages(environ, start_response)
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        csrf_secret = cookies.get(settings.CSRF_COOKIE_NAME)
        if not session_key or not csrf_secret or not well_formed_secret(csrf_secret):
            return self.application(environ, start_response)  # Django sets what is missing.
        pass_key = self._pass_key(environ, session_key)
        note_request_started()  # The near cache's reads see every change made until now.
        try:
            answer, before = self._answer(pass_key, session_key, csrf_secret)
        except Exception:  # Django answers instead, and reports what it meets in its way.
            logger.warning("page shortcut: could not answer from a pass", exc_info=True)
            answer, before = None, None
        finally:
            note_request_finished()
        if answer is not None:
            headers, body = answer
            start_response("200 OK", headers)
            return [body]
        return self._through_django(environ, start_response, pass_key, before)

    def _pass_key(self, environ, session_key: str) -> str:
        identity = "\n".join(str(environ.get(name, "")) for name in self._identity)
        mac = hashlib.blake2b(
            f"{session_key}\n{identity}".encode("utf-8", "surrogateescape"),
            key=self._pass_mac_key,
            digest_size=16,
        )
        return f"pages:pass:{mac.hexdigest()}"

    def _answer(self, pass_key: str, session_key: str, csrf_secret: str):
        """The answer from the pass, or None and what a new pass would be checked
        against: the session's items and the user's generation as they are now."""
        # (Django keeps a cache object per thread: looked up on this one.)
        session = caches[settings.SESSION_CACHE_ALIAS].get(self._session_prefix + session_key)
        if session is None:
            return None, None
        session_items = sorted_session_items(session)
        found = cache.get(pass_key)
        if found is not None:
            (user_id, shared, path, generations, pass_session), headers = found
            if pass_session == session_items and page_generations(user_id, shared) == generations:
                parts = kept_parts(user_id, generations, path)
                if parts is not None:
                    body = mask_secret(csrf_secret).encode().join(parts)
                    length = str(len(body))
                    return ([(n, length if n == _LENGTH else v) for n, v in headers], body), None
        return None, self._before(session_items, session)

    @staticmethod
    def _before(session_items: tuple, session: dict) -> tuple | None:
        user_id = session.get("_auth_user_id")
        if user_id is None:
            return None
        return session_items, user_generation(user_id)

    def _learn_pages(self, environ, start_response):
        response = self.application(environ, start_response)
        if getattr(response, "kept_page", None) is not None:
            self._page_paths.add(environ.get("PATH_INFO"))
        return response

    def _through_django(self, environ, start_response, pass_key: str, before: tuple | None):
        answered = []

        def noting_start_response(status, headers, exc_info=None):
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        response = self.application(environ, noting_start_response)
        kept = getattr(response, "kept_page", None)
        if kept is None or before is None or not answered:
            return response
        status, headers = answered
        session_items, generation = before
        if (
            status != "200 OK"
            or kept.session != session_items
            or kept.generations.split(".")[0] != generation
            # The browser was sent something new: Django answers again.
            or any(name.lower() == "set-cookie" for name, _ in headers)
        ):
            return response
        note = (kept.user_id, kept.shared, kept.path, kept.generations, kept.session)
        headers = tuple((n, "" if n == _LENGTH else v) for n, v in headers)
        try:
            cache.set(pass_key, (note, headers), PAGE_CACHE_SECONDS)
        except Exception:  # The answer stands; the next request goes to Django again.
            logger.warning("page shortcut: could not record a pass", exc_info=True)
        return response
