"""Django's Redis cache with a copy of recently read values inside each web process.

Most requests read the same few cache entries again and again (the session, the user,
a page's generations, a resource's version) while those entries rarely change. Reading
them from the process's own memory saves a Redis round trip per read, which is most of
the cost of a cached page.

The copy is kept honest by Redis itself ("client-side caching", CLIENT TRACKING in
broadcast mode): every write to a key under this cache's prefix, from any process,
makes Redis send the key's name to this process's listener connection. The listener's
pending messages are drained before a read unless they have been drained since the
current request began (outside a request: before every read), so a change answered to
its writer before a request arrived is never served stale in that request. Draining once
per request rather than once per read saves a system call per read, and with it a
handover of the GIL between the worker's threads. If the listener is lost, the
copy is emptied and reads go to Redis until it is back. A local entry also lives no
longer than the key's own TTL nor MAX_AGE_SECONDS.

Only ``get`` reads through the local copy; every write also drops the local entry.
Immutable values (strings, bytes, numbers, tuples of them, nested or not) are kept
decoded and shared between reads; anything else is kept as Redis's bytes and decoded per
read, so no two requests share a mutable object.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import threading
import time
from collections import OrderedDict

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisSerializer
from django.core.signals import request_finished, request_started

logger = logging.getLogger(__name__)

_this_thread = threading.local()


def note_request_started(**kwargs) -> None:
    """A request begins on this thread (also called by portal/page_shortcut.py, which
    answers some requests before Django's own signal is sent)."""
    _this_thread.request_started_at = time.monotonic()


def note_request_finished(**kwargs) -> None:
    _this_thread.request_started_at = None


request_started.connect(note_request_started)
request_finished.connect(note_request_finished)

_SHAREABLE = (str, bytes, int, float, bool, type(None))


def _shareable(value) -> bool:
    kind = type(value)
    return kind in _SHAREABLE or (kind is tuple and all(map(_shareable, value)))


class _Shared:
    """An immutable value kept decoded in the local copy."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


# A key Redis does not hold is remembered too: broadcast tracking reports its creation
# like any other write, and a page view asks for some keys that rarely exist.
_ABSENT = object()


class PickleFirstSerializer(RedisSerializer):
    """Django's Redis serializer (an integer as its digits, anything else pickled),
    reading a pickle without first trying int() on it: a pickle of protocol 2 or later
    starts with 0x80, and the failed int() cost every read an exception."""

    def loads(self, data):
        if data[:1] != b"\x80":
            try:
                return int(data)
            except ValueError:
                pass
        return pickle.loads(data)


# A copy made before a fork is no use to the child (gunicorn forks its workers): the child
# starts over. Forks are counted here, so that a read compares two integers rather than
# asking os.getpid(), a system call, every time.
_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)

RECONNECT_PAUSE_SECONDS = 1.0
PING_EVERY_SECONDS = 1.0


class NearStore:
    """The local copy and its listener. One per process (reset after a fork)."""

    def __init__(self, url: str, prefix: str, max_entries: int, max_age: float, max_bytes: int):
        self._url = url
        self._prefix = prefix
        self._max_entries = max_entries
        self._max_age = max_age
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._reset_state()

    def _reset_state(self) -> None:
        self._forks_seen = _forks
        self._entries: OrderedDict[str, tuple[object, float]] = OrderedDict()
        # Every invalidation bumps the epoch; a read that began before an invalidation
        # of its key must not store what it read (it may be the old value).
        self._epoch = 0
        self._floor = 0
        self._touched: dict[str, int] = {}
        self._listener: redis.Connection | None = None
        self._poller: select.poll | None = None
        self._drained_at = float("-inf")
        self._retry_at = 0.0
        self._ping_at = 0.0

    # -- listener -------------------------------------------------------------------

    def _connect(self) -> None:
        # RESP3 delivers the invalidations on the tracking connection itself.
        pool = redis.ConnectionPool.from_url(self._url, protocol=3)
        listener = pool.connection_class(**pool.connection_kwargs)
        listener.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self._prefix)
        listener.read_response()
        # redis-py routes "invalidate" pushes to this hook (its own client-side cache
        # uses the same one); a contract test guards it.
        listener._parser.set_invalidation_push_handler(self._invalidate)
        poller = select.poll()
        poller.register(listener._sock, select.POLLIN)
        self._listener, self._poller = listener, poller

    def _lose_listener(self, error: Exception) -> None:
        logger.warning("near cache: listener lost (%s); reading from Redis only", error)
        if self._listener is not None:
            self._listener.disconnect()
        self._listener = self._poller = None
        self._forget_everything()
        self._retry_at = time.monotonic() + RECONNECT_PAUSE_SECONDS

    def _forget_everything(self) -> None:
        self._entries.clear()
        self._touched.clear()
        self._epoch += 1
        self._floor = self._epoch

    def _ready(self) -> bool:
        """Drain pending invalidations; False when there is no listener to trust."""
        if self._forks_seen != _forks:
            self._reset_state()
        request_started_at = getattr(_this_thread, "request_started_at", None)
        if (
            self._listener is not None
            and request_started_at is not None
            and self._drained_at >= request_started_at
        ):
            return True  # Every invalidation sent before this request began is applied.
        now = time.monotonic()
        if self._listener is None:
            if now < self._retry_at:
                return False
            try:
                self._connect()
            except (redis.RedisError, OSError) as error:
                self._lose_listener(error)
                return False
        try:
            while self._pending():
                self._listener.read_response(push_request=True)
            if now >= self._ping_at:  # A silent listener must be a live one.
                self._listener.send_command("PING")
                self._listener.read_response()
                self._ping_at = now + PING_EVERY_SECONDS
        except (redis.RedisError, OSError) as error:
            self._lose_listener(error)
            return False
        self._drained_at = now
        return True

    def _pending(self) -> bool:
        """Whether an invalidation (or a closed connection) waits to be read. One poll()
        when none does, as on most requests, where redis-py's own check tries a read
        (three system calls and an exception); what its parser has already taken off
        the socket is looked at first."""
        buffered = self._listener._parser._buffer
        return bool(buffered is not None and buffered.unread_bytes()) or bool(self._poller.poll(0))

    def _invalidate(self, message) -> None:
        """An ``invalidate`` push: [b"invalidate", [keys]], or None keys on a flush."""
        self._epoch += 1
        keys = message[1]
        if keys is None:  # FLUSHDB / FLUSHALL
            self._forget_everything()
            return
        for raw in keys:
            key = raw.decode()
            self._entries.pop(key, None)
            self._touched[key] = self._epoch
        if len(self._touched) > self._max_entries:
            self._touched.clear()
            self._floor = self._epoch

    # -- the copy -----------------------------------------------------------------

    def lookup(self, key: str) -> tuple[object | None, int | None]:
        """(value, None) on a hit; (None, epoch) on a miss, epoch to pass to ``keep``;
        (None, None) when the copy cannot be trusted right now."""
        with self._lock:
            if not self._ready():
                return None, None
            entry = self._entries.get(key)
            if entry is not None:
                value, deadline = entry
                if time.monotonic() < deadline:
                    self._entries.move_to_end(key)
                    return value, None
                del self._entries[key]
            return None, self._epoch

    def keep(self, key: str, value, size: int, ttl_ms: int, since_epoch: int) -> None:
        if size > self._max_bytes:
            return
        with self._lock:
            if not self._ready():
                return
            if since_epoch < self._floor or self._touched.get(key, 0) > since_epoch:
                return  # Changed while it was being read.
            lifetime = self._max_age if ttl_ms < 0 else min(self._max_age, ttl_ms / 1000)
            self._entries[key] = (value, time.monotonic() + lifetime)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def drop(self, *keys: str) -> None:
        with self._lock:
            self._epoch += 1
            for key in keys:
                self._entries.pop(key, None)
                self._touched[key] = self._epoch

    def clear(self) -> None:
        with self._lock:
            self._forget_everything()


class NearRedisCache(RedisCache):
    """RedisCache whose ``get`` answers from the process's copy when it can.

    OPTIONS (beside RedisCache's own): NEAR_MAX_ENTRIES (2000), NEAR_MAX_AGE (60 s),
    NEAR_MAX_BYTES per value (256 KiB). Its serializer is PickleFirstSerializer unless
    OPTIONS names another.
    """

    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS", {}))
        max_entries = int(options.pop("NEAR_MAX_ENTRIES", 2000))
        max_age = float(options.pop("NEAR_MAX_AGE", 60))
        max_bytes = int(options.pop("NEAR_MAX_BYTES", 256 * 1024))
        options.setdefault("serializer", PickleFirstSerializer)
        params["OPTIONS"] = options
        super().__init__(server, params)
        # Keys are "<KEY_PREFIX>:<version>:<key>"; track exactly this cache's keys.
        self._near = NearStore(
            self._servers[0], f"{self.key_prefix}:", max_entries, max_age, max_bytes
        )

    def validate_key(self, key):
        """Nothing to check: Django's key warnings are about memcached's limits (length,
        spaces), which Redis does not have, and walking every key costs each read."""

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        loads = self._cache._serializer.loads
        kept, epoch = self._near.lookup(key)
        if kept is not None:
            if kept is _ABSENT:
                return default
            return kept.value if type(kept) is _Shared else loads(kept)
        client = self._cache.get_client(key)
        with client.pipeline(transaction=False) as pipe:
            raw, ttl_ms = pipe.get(key).pttl(key).execute()
        if raw is None:
            if epoch is not None:
                self._near.keep(key, _ABSENT, 0, -1, epoch)
            return default
        value = loads(raw)
        if epoch is not None:
            kept = _Shared(value) if _shareable(value) else raw
            self._near.keep(key, kept, len(raw), ttl_ms, epoch)
        return value

    # Every write drops the local entry at once; the invalidation from Redis follows.

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        super().set(key, value, timeout, version)
        self._near.drop(self.make_key(key, version=version))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        added = super().add(key, value, timeout, version)
        self._near.drop(self.make_key(key, version=version))
        return added

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        touched = super().touch(key, timeout, version)
        self._near.drop(self.make_key(key, version=version))
        return touched

    def delete(self, key, version=None):
        deleted = super().delete(key, version)
        self._near.drop(self.make_key(key, version=version))
        return deleted

    def incr(self, key, delta=1, version=None):
        value = super().incr(key, delta, version)
        self._near.drop(self.make_key(key, version=version))
        return value

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        failed = super().set_many(data, timeout, version)
        self._near.drop(*(self.make_key(key, version=version) for key in data))
        return failed

    def delete_many(self, keys, version=None):
        super().delete_many(keys, version)
        self._near.drop(*(self.make_key(key, version=version) for key in keys))

    def clear(self):
        super().clear()
        self._near.clear()
