"""Signed poll tokens: a resource card tells its poller whose resource it is, so an
unchanged poll needs neither the session nor the database, only one cache read.

A token names one resource and its owner, is signed with SECRET_KEY and expires; it is
only ever rendered into the owner's own page.
"""

import time
from functools import lru_cache

from django.conf import settings
from django.core import signing

SALT = "labs.resource-poll"
MAX_AGE_SECONDS = 12 * 3600


@lru_cache(maxsize=4)
def _signer_for(secret_key: str, fallback_keys: tuple[str, ...]) -> signing.TimestampSigner:
    return signing.TimestampSigner(key=secret_key, fallback_keys=fallback_keys, salt=SALT)


def _signer() -> signing.TimestampSigner:
    # Made once per key rather than once per poll (its setup cost a third of checking).
    return _signer_for(settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


def poll_token(*, resource_id: int, owner_id: int) -> str:
    return _signer().sign(f"{resource_id}:{owner_id}")


@lru_cache(maxsize=4096)
def _genuine(token: str, secret_key: str, fallback_keys: tuple[str, ...]) -> tuple[str, int]:
    """(value, signing time) of a token whose signature holds; raises BadSignature.

    Kept per token: a card polls with the same token every second or two, and checking
    the signature again cost a fifth of an unchanged poll. Only genuine tokens are kept
    (a forged one raises, which is never cached), and age is judged at every use."""
    signer = _signer_for(secret_key, fallback_keys)
    value, stamp = signing.Signer.unsign(signer, token).rsplit(signer.sep, 1)
    return value, signing.b62_decode(stamp)


def owner_from_token(token: str, *, resource_id: int) -> int | None:
    """The owner's id if the token is genuine, fresh and for this resource; else None."""
    if not token:
        return None
    try:
        value, signed_at = _genuine(
            token, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS)
        )
    except (signing.BadSignature, ValueError):
        return None
    if time.time() - signed_at > MAX_AGE_SECONDS:
        return None
    token_resource, _, owner = value.partition(":")
    if token_resource != str(resource_id) or not owner.isdigit():
        return None
    return int(owner)
