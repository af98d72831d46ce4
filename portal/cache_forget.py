"""Dropping a cached copy of rows that are being changed."""

from django.core.cache import cache
from django.db import transaction


def forget_now_and_after_commit(key: str) -> None:
    """Delete ``key`` now and, inside a transaction, again once it commits: a request
    that read the old rows in the meantime may have cached them anew, and would be
    believed until the entry expires."""
    cache.delete(key)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: cache.delete(key))
