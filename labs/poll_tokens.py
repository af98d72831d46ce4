"""Signed poll tokens: a resource card tells its poller whose resource it is, so an
unchanged poll needs neither the session nor the database, only one cache read.

A token names one resource and its owner, is signed with SECRET_KEY and expires; it is
only ever rendered into the owner's own page.
"""

from django.core import signing

SALT = "labs.resource-poll"
MAX_AGE_SECONDS = 12 * 3600


def poll_token(*, resource_id: int, owner_id: int) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{resource_id}:{owner_id}")


def owner_from_token(token: str, *, resource_id: int) -> int | None:
    """The owner's id if the token is genuine, fresh and for this resource; else None."""
    if not token:
        return None
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:  # Also raised for an expired token.
        return None
    token_resource, _, owner = value.partition(":")
    if token_resource != str(resource_id) or not owner.isdigit():
        return None
    return int(owner)
