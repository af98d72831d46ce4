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

import operator
import secrets

from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token

_ALPHABET = CSRF_ALLOWED_CHARS
_PLACE = {char: place for place, char in enumerate(_ALPHABET)}
# Bytes at or above this bound are dropped so that every character is equally likely.
_UNBIASED_BELOW = 256 - 256 % len(_ALPHABET)
# Random bytes become mask characters in one C call (bytes.translate), rejected ones
# deleted on the way.
_BYTE_TO_CHAR = bytes(
    ord(_ALPHABET[byte % len(_ALPHABET)]) if byte < _UNBIASED_BELOW else 0 for byte in range(256)
)
_REJECTED_BYTES = bytes(range(_UNBIASED_BELOW, 256))
# A secret character shifted by a mask character, looked up by the two as one string.
_SHIFTED = {
    char + shift: _ALPHABET[(_PLACE[char] + _PLACE[shift]) % len(_ALPHABET)]
    for char in _ALPHABET
    for shift in _ALPHABET
}


def _random_mask(length: int) -> str:
    mask = ""
    while len(mask) < length:
        drawn = secrets.token_bytes(2 * length)
        mask += drawn.translate(_BYTE_TO_CHAR, _REJECTED_BYTES).decode("ascii")
    return mask[:length]


def well_formed_secret(value: str) -> bool:
    """Whether a CSRF cookie holds a secret as Django makes them (length and alphabet)."""
    return len(value) == CSRF_SECRET_LENGTH and all(char in _PLACE for char in value)


def mask_secret(secret: str) -> str:
    """A form token for ``secret`` (a well-formed one) under a fresh random mask."""
    mask = _random_mask(CSRF_SECRET_LENGTH)
    return mask + "".join(map(_SHIFTED.__getitem__, map(operator.add, secret, mask)))


def masked_csrf_token(request: HttpRequest) -> str:
    """The token for this request's forms; Django's own path when the secret is new."""
    # CsrfViewMiddleware puts the browser's secret here only once it has checked its
    # length and characters (a malformed cookie is replaced by a new secret).
    secret = request.META.get("CSRF_COOKIE")
    if not secret:
        return get_token(request)  # Makes the secret and sends its cookie.
    return mask_secret(secret)
