"""Whole pages kept per user, for pages read far more often than what they show changes.

A learner reads the course pages over and over, while their ticks, their role and the
course itself change rarely. ``personal_page`` keeps the rendered page in the cache
under the user, the path and the *generations* the page depends on: one per user and
one per shared source (the course). Anything that changes what a user's pages show
calls ``forget_user_pages`` (or ``forget_shared_pages``), which starts a new generation,
so the old pages are never read again and expire on their own.

The CSRF token is not kept: the page is rendered with a placeholder, and each answer
gets the requester's own token.

An answer from the cache carries a ``KeptPage`` note, from which portal/page_shortcut.py
answers the same session's next request for the page before the middleware runs.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from portal.cache_forget import forget_now_and_after_commit
from portal.csrf_tokens import masked_csrf_token

PAGE_CACHE_SECONDS = 300
CSRF_PLACEHOLDER = "csrf-placeholder-4f1c9d2e7a"


def _generation_key(name: str) -> str:
    return f"pages:generation:{name}"


def _generation(name: str) -> str:
    key = _generation_key(name)
    value = cache.get(key)
    if value is None:
        cache.add(key, secrets.token_hex(6), None)
        value = cache.get(key)
    return value


def _forget(name: str) -> None:
    forget_now_and_after_commit(_generation_key(name))


def forget_user_pages(user_id: int) -> None:
    _forget(f"user:{user_id}")


def forget_shared_pages(name: str) -> None:
    _forget(name)


def user_generation(user_id: int) -> str:
    """The generation of what a user's pages show of them (account, role, ticks)."""
    return _generation(f"user:{user_id}")


def page_generations(user_id: int, shared: tuple[str, ...]) -> str:
    """The generations a user's page depends on, as one string: the user's first."""
    return ".".join([user_generation(user_id), *map(_generation, shared)])


def kept_parts(user_id: int, generations: str, path: str) -> tuple[bytes, ...] | None:
    """The kept page as the bytes between its CSRF token placeholders, if it is kept."""
    return cache.get(_page_key(user_id, generations, path))


def _page_key(user_id: int, generations: str, path: str) -> str:
    return f"pages:{user_id}:{generations}:{path}"


@dataclass(frozen=True)
class KeptPage:
    """Which kept page an answer was, for which user and session: what the shortcut
    needs to answer it again."""

    user_id: int
    shared: tuple[str, ...]
    path: str
    generations: str
    session: tuple  # The session's items, sorted.


def sorted_session_items(session) -> tuple:
    """A session's items as a kept page's note holds them, and the shortcut compares them."""
    return tuple(sorted(session.items()))


def _plain_items(session) -> tuple | None:
    """The session's items, sorted, when they are all plain values (what a login, a
    region or a message puts there); None otherwise."""
    items = sorted_session_items(session)
    plain = (str, int, float, bool, type(None))
    return items if all(type(value) in plain for _, value in items) else None


def _cacheable(request: HttpRequest) -> bool:
    return (
        request.method == "GET"
        and not request.GET
        and "HTTP_HX_REQUEST" not in request.META  # (request.headers copies them all)
        and not get_messages(request)  # A pending message belongs to this answer only.
    )


def personal_page(
    request: HttpRequest,
    render: Callable[[dict], HttpResponse],
    *,
    shared: tuple[str, ...] = (),
) -> HttpResponse:
    """The page from the cache, or ``render(extra_context)`` kept for next time.

    ``render`` must put ``extra_context`` into the template's context; it may raise
    Http404 or PermissionDenied, or answer a redirect, which are never kept.
    """
    if not _cacheable(request):
        return render({})
    user_id = request.user.pk
    generations = page_generations(user_id, shared)
    # Kept as the bytes between the placeholders, ready to be joined by a fresh token.
    parts = kept_parts(user_id, generations, request.path)
    if parts is None:
        response = render({"csrf_token": CSRF_PLACEHOLDER})
        if response.status_code != 200 or response.streaming:
            return response
        parts = tuple(response.content.split(CSRF_PLACEHOLDER.encode()))
        cache.set(_page_key(user_id, generations, request.path), parts, PAGE_CACHE_SECONDS)
    response = HttpResponse(masked_csrf_token(request).encode().join(parts))
    session = _plain_items(request.session)
    if session is not None:
        response.kept_page = KeptPage(user_id, shared, request.path, generations, session)
    return response
