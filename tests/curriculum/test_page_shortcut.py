"""Kept pages answered before Django's middleware (portal/page_shortcut.py): the same
answer Django would give, and Django's own answer whenever anything has changed.

Requests go to the WSGI application as gunicorn sends them; a request Django handled is
told apart by Django's request_started signal."""

import io
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.middleware.csrf import CSRF_ALLOWED_CHARS
from django.test import Client, override_settings
from django.utils.crypto import get_random_string

from portal.auth_backend import CachedUserBackend
from portal.page_shortcut import PageShortcut

pytestmark = pytest.mark.django_db

User = get_user_model()
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    by_django: bool

    @property
    def token(self) -> bytes:
        return TOKEN.search(self.body).group(1)

    def without_tokens(self) -> bytes:
        return self.body.replace(self.token, b"")


@pytest.fixture
def application():
    return PageShortcut(WSGIHandler())


class Browser:
    def __init__(self, application, user, csrf_secret: str | None = ""):
        self.application = application
        self.client = Client()
        self.client.force_login(user)
        self.session_key = self.client.cookies["sessionid"].value
        if csrf_secret == "":
            csrf_secret = get_random_string(32, CSRF_ALLOWED_CHARS)
        self.csrf_secret = csrf_secret

    def request(self, path, *, method="GET", query="", body=b"", **headers) -> Answer:
        cookie = f"sessionid={self.session_key}"
        if self.csrf_secret is not None:
            cookie += f"; csrftoken={self.csrf_secret}"
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "HTTP_COOKIE": cookie,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
        }
        if body:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["CONTENT_LENGTH"] = str(len(body))
        environ.update(headers)
        answered, started = [], []

        def start_response(status, headers, exc_info=None):
            answered[:] = [status, headers]

        def note_start(**kwargs):
            started.append(True)

        # As the test client does: the test's transaction must outlive the request.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        request_started.connect(note_start)
        try:
            result = self.application(environ, start_response)
            content = b"".join(result)
            if hasattr(result, "close"):
                result.close()
        finally:
            request_started.disconnect(note_start)
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        status, header_list = answered
        return Answer(status, list(header_list), content, by_django=bool(started))

    def get(self, path, **kwargs) -> Answer:
        return self.request(path, **kwargs)

    def visit(self, path) -> Answer:
        """Open a page until Django has answered it with a pass recorded: each process
        first learns which paths are kept pages."""
        self.get(path)
        return self.get(path)


def _sent_to_login_by_django(answer: Answer) -> bool:
    location = dict(answer.headers).get("Location", "")
    return answer.by_django and answer.status.startswith("302") and "/login/" in location


def test_a_kept_page_is_answered_again_as_django_answered_it(application, learner, small_course):
    browser = Browser(application, learner)
    first = browser.visit("/course/intro/")
    assert first.by_django and first.status == "200 OK"
    for _ in range(2):
        again = browser.get("/course/intro/")
        assert not again.by_django
        assert again.status == first.status
        assert again.headers == first.headers  # In order; tokens are of one length.
        assert again.without_tokens() == first.without_tokens()
        assert again.token != first.token  # Each answer masks the secret anew.


def test_a_token_from_the_shortcut_is_accepted(application, learner, small_course):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    page = browser.get("/course/intro/")
    assert not page.by_django
    key = small_course["intro"].objectives[0]["key"]
    body = b"on=1&csrfmiddlewaretoken=" + page.token
    answer = browser.request(f"/course/intro/objectives/{key}/", method="POST", body=body)
    assert answer.status.startswith("302"), answer.body[:300]
    after = browser.get("/course/intro/")
    assert after.by_django and b"checked" in after.body  # The tick started a new page.


def test_a_change_made_in_another_browser_shows_at_once(application, learner, small_course):
    browser, other_tab = Browser(application, learner), Client()
    other_tab.force_login(learner)
    browser.visit("/course/intro/")
    assert b"checked" not in browser.get("/course/intro/").body
    key = small_course["intro"].objectives[0]["key"]
    other_tab.post(f"/course/intro/objectives/{key}/", {"on": "1"})
    assert b"checked" in browser.get("/course/intro/").body


def _log_out(browser, learner):
    browser.client.logout()


def _change_password_elsewhere(browser, learner):
    learner.set_password("a-new-password-2")
    learner.save()


def _deactivate(browser, learner):
    learner.is_active = False
    learner.save()


def _delete_the_session_row_and_its_cache(browser, learner):
    SessionStore(browser.session_key).delete()


@pytest.mark.parametrize(
    "end_the_login",
    [_log_out, _change_password_elsewhere, _deactivate, _delete_the_session_row_and_its_cache],
)
def test_a_login_that_ended_is_sent_to_the_login_page(
    application, learner, small_course, end_the_login
):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    assert not browser.get("/course/intro/").by_django
    end_the_login(browser, learner)
    answer = browser.get("/course/intro/")
    assert _sent_to_login_by_django(answer)


def test_a_new_secret_key_ends_the_passes_with_the_logins(application, learner, small_course):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    assert not browser.get("/course/intro/").by_django
    with override_settings(SECRET_KEY="another-test-only-secret-key"):
        browser.application = PageShortcut(WSGIHandler())  # As a restarted server.
        assert _sent_to_login_by_django(browser.get("/course/intro/"))


def test_a_changed_session_is_looked_at_by_django_again(application, learner, small_course):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    session = SessionStore(browser.session_key)
    session["lab_region"] = "eu-west-1"  # As choosing a region does.
    session.save()
    assert browser.get("/course/intro/").by_django
    assert not browser.get("/course/intro/").by_django  # The new contents have a pass.


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"query": "x=1"},
        {"HTTP_HX_REQUEST": "true"},
        {"method": "HEAD"},
        {"HTTP_HOST": "elsewhere.example"},
        {"wsgi.url_scheme": "https"},
        {"CONTENT_TYPE": "application/x-www-form-urlencoded; charset=latin-1"},
    ],
    ids=["query string", "htmx", "HEAD", "another host", "another scheme", "a body's type"],
)
def test_other_requests_for_the_page_go_to_django(
    application, learner, small_course, request_kwargs
):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    assert browser.get("/course/intro/", **request_kwargs).by_django


@pytest.mark.parametrize("csrf_secret", [None, "short", "x" * 31 + "!"])
def test_a_browser_without_a_good_csrf_cookie_gets_one_from_django(
    application, learner, small_course, csrf_secret
):
    browser = Browser(application, learner, csrf_secret=csrf_secret)
    for _ in range(2):
        answer = browser.get("/course/intro/")
        assert answer.by_django and "Set-Cookie" in dict(answer.headers)


def test_a_pass_is_the_sessions_own(application, learner, other_learner, small_course):
    mine, theirs = Browser(application, learner), Browser(application, other_learner)
    mine.visit("/course/")
    assert not mine.get("/course/").by_django
    answer = theirs.get("/course/")
    assert answer.by_django
    assert other_learner.username.encode() in answer.body
    assert b"Log out learner<" not in answer.body


def test_a_password_changed_in_another_browser_ends_this_login_even_once_that_browser_has_the_page(
    application, learner, small_course
):
    this_browser = Browser(application, learner)
    this_browser.visit("/course/intro/")
    assert not this_browser.get("/course/intro/").by_django
    learner.set_password("a-new-password-2")
    learner.save()
    other_browser = Browser(application, learner)  # Logged in with the new password.
    other_browser.visit("/course/intro/")
    assert not other_browser.get("/course/intro/").by_django  # The page is kept anew.
    assert _sent_to_login_by_django(this_browser.get("/course/intro/"))


def test_a_message_waiting_after_a_redirect_is_shown_once(
    application, learner, lab_settings, small_course
):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    assert not browser.get("/course/intro/").by_django
    # Choosing a region without JavaScript leaves a message for the next page.
    page = browser.get("/course/intro/")
    body = b"region=eu-west-1&lab=storage&csrfmiddlewaretoken=" + page.token
    assert browser.request("/labs/region/", method="POST", body=body).status.startswith("302")
    answer = browser.get("/course/intro/")
    assert answer.by_django and b"Region set to eu-west-1" in answer.body
    assert b"Region set to" not in browser.get("/course/intro/").body


def test_a_password_change_during_djangos_answer_gives_no_pass(
    application, learner, small_course, monkeypatch
):
    """The change lands after Django checked the session and before the page was read:
    that answer stands, but the session must not be answered again without a check."""
    browser = Browser(application, learner)
    browser.get("/course/intro/")  # The process learns the page.
    original = CachedUserBackend.get_user

    def get_user_then_change_password(self, user_id):
        user = original(self, user_id)
        monkeypatch.setattr(CachedUserBackend, "get_user", original)  # Once.
        changed = User.objects.get(pk=user_id)
        changed.set_password("a-new-password-2")
        changed.save()
        return user

    monkeypatch.setattr(CachedUserBackend, "get_user", get_user_then_change_password)
    assert browser.get("/course/intro/").status == "200 OK"  # Checked before the change.
    assert _sent_to_login_by_django(browser.get("/course/intro/"))


def test_a_pass_that_cannot_be_recorded_leaves_djangos_answer_whole(
    application, learner, small_course, monkeypatch
):
    browser = Browser(application, learner)
    browser.get("/course/intro/")
    finished = []

    def note_finished(**kwargs):
        finished.append(True)

    request_finished.connect(note_finished, weak=False, dispatch_uid="finished")
    original_set = cache.set

    def failing_set(key, *args, **kwargs):
        if key.startswith("pages:pass:"):
            raise OSError("the cache is full")
        return original_set(key, *args, **kwargs)

    monkeypatch.setattr(cache, "set", failing_set)
    try:
        answer = browser.get("/course/intro/")
    finally:
        request_finished.disconnect(dispatch_uid="finished")
    assert answer.status == "200 OK" and b"Intro" in answer.body
    assert finished, "the request was never finished"
    assert browser.get("/course/intro/").by_django


def test_a_restart_with_other_answer_settings_ends_the_passes(application, learner, small_course):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    with override_settings(X_FRAME_OPTIONS="SAMEORIGIN"):
        browser.application = PageShortcut(WSGIHandler())  # As a restarted server.
        browser.visit("/course/intro/")
        answer = browser.get("/course/intro/")
    assert not answer.by_django
    assert dict(answer.headers)["X-Frame-Options"] == "SAMEORIGIN"


def test_headers_django_does_not_read_do_not_make_new_passes(application, learner, small_course):
    browser = Browser(application, learner)
    browser.visit("/course/intro/")
    for port in ("1", "2", "3"):
        assert not browser.get("/course/intro/", HTTP_X_FORWARDED_PORT=port).by_django


def test_the_embedded_default_cache_serves_the_shortcut_too(learner, small_course, tmp_path):
    files = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}
    with override_settings(CACHES={"default": {**files, "LOCATION": str(tmp_path)}}):
        browser = Browser(PageShortcut(WSGIHandler()), learner)
        first = browser.visit("/course/intro/")
        again = browser.get("/course/intro/")
        assert not again.by_django and again.without_tokens() == first.without_tokens()
        browser.client.logout()
        assert browser.get("/course/intro/").status.startswith("302")
