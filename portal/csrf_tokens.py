"""A fresh CSRF form token for a page served from the cache, at a fraction of the cost.

Django's ``get_token`` draws its random mask one character at a time from the system's
random source (64 system calls when the browser has no secret yet, 32 when it has) and
marks the cookie to be sent again. On a page served from memory that was the largest
single cost. Here the mask comes from one ``secrets.token_bytes`` call, and a browser
that already holds a valid secret is not sent its cookie again.

The token has Django's form: 32 characters of mask followed by the secret with each
character shifted along the token alphabet by the mask's character at that place. So
every answer still carries a different token for the same secret, and
``CsrfViewMiddleware`` accepts it (tests/curriculum/test_page_cache.py).
"""

import secrets

from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token

_ALPHABET = CSRF_ALLOWED_CHARS
_PLACE = {char: place for place, char in enumerate(_ALPHABET)}
# Bytes at or above this bound are skipped so that every character is equally likely.
_UNBIASED_BELOW = 256 - 256 % len(_ALPHABET)


def _random_places(count: int) -> list[int]:
    places: list[int] = []
    while len(places) < count:
        drawn = secrets.token_bytes(2 * count)
        places += [byte % len(_ALPHABET) for byte in drawn if byte < _UNBIASED_BELOW]
    return places[:count]


def masked_csrf_token(request: HttpRequest) -> str:
    """The token for this request's forms; Django's own path when the secret is new."""
    # CsrfViewMiddleware puts the browser's secret here only once it has checked its
    # length and characters (a malformed cookie is replaced by a new secret).
    secret = request.META.get("CSRF_COOKIE")
    if not secret:
        return get_token(request)  # Makes the secret and sends its cookie.
    mask = _random_places(CSRF_SECRET_LENGTH)
    shifted = (
        _ALPHABET[(_PLACE[char] + shift) % len(_ALPHABET)]
        for char, shift in zip(secret, mask, strict=True)
    )
    return "".join(_ALPHABET[place] for place in mask) + "".join(shifted)
