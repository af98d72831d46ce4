"""Logged-in requests read their user from the cache rather than the database.

The cached user carries what every page asks of it (whether they teach a cohort), and
is dropped whenever the user or one of their enrolments is saved or deleted
(portal/signals.py), so a changed password, a deactivation or a new role counts at the
next request.
"""

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

from portal.cache_forget import forget_now_and_after_commit
from portal.selectors import user_is_instructor

USER_CACHE_SECONDS = 3600


def user_cache_key(user_id) -> str:
    return f"auth:user:{user_id}"


def forget_cached_user(user_id) -> None:
    forget_now_and_after_commit(user_cache_key(user_id))


class CachedUserBackend(ModelBackend):
    def get_user(self, user_id):
        key = user_cache_key(user_id)
        user = cache.get(key)
        if user is None:
            user = super().get_user(user_id)
            if user is None:
                return None
            user_is_instructor(user)  # Remembered on the object, so cached with it.
            cache.set(key, user, USER_CACHE_SECONDS)
        return user
