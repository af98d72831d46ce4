"""The near cache answers from process memory but never serves a value that Redis has
since changed: two cache objects with their own listeners stand in for two processes."""

import os
import time
import uuid

import pytest
import redis
from django.core.signals import request_finished, request_started

from portal.near_cache import NearRedisCache

REDIS_URL = os.environ["REDIS_URL"]


@pytest.fixture
def two_processes():
    prefix = f"near-{uuid.uuid4().hex[:8]}"
    params = {"KEY_PREFIX": prefix, "TIMEOUT": 300}
    first, second = NearRedisCache(REDIS_URL, params), NearRedisCache(REDIS_URL, params)
    yield first, second
    first.clear()


def _served_from_memory(cache, key) -> bool:
    value, _ = cache._near.lookup(cache.make_and_validate_key(key))
    return value is not None


def test_a_read_is_kept_in_memory(two_processes):
    first, second = two_processes
    second.set("page", "v1")
    assert first.get("page") == "v1"
    assert _served_from_memory(first, "page")


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda cache: cache.set("page", "v2"), "v2"),
        (lambda cache: cache.delete("page"), None),
        (lambda cache: cache.clear(), None),
    ],
)
def test_a_change_elsewhere_is_seen_at_the_next_read(two_processes, change, expected):
    first, second = two_processes
    second.set("page", "v1")
    assert first.get("page") == "v1"
    change(second)
    assert first.get("page") == expected  # No wait: the invalidation came first.


def test_a_counter_bumped_elsewhere_reads_its_new_value(two_processes):
    first, second = two_processes
    second.set("count", 1)
    assert first.get("count") == 1
    second.incr("count")
    assert first.get("count") == 2


def test_many_changes_elsewhere_at_once_are_all_seen(two_processes):
    # One round trip per key, so one invalidation message each (Redis sends a message per
    # event-loop turn): a single read off the socket then brings many of them.
    first, second = two_processes
    keys = [f"page-{n}" for n in range(300)]
    second.set_many(dict.fromkeys(keys, "old"))
    assert all(first.get(key) == "old" for key in keys)
    other = redis.Redis.from_url(REDIS_URL)
    for key in keys:
        other.delete(first.make_and_validate_key(key))
    assert [first.get(key) for key in keys] == [None] * len(keys)


def test_a_write_by_another_redis_client_is_seen(two_processes):
    first, _ = two_processes
    first.set("session", {"user": 1})
    assert first.get("session") == {"user": 1}
    key = first.make_and_validate_key("session")
    redis.Redis.from_url(REDIS_URL).delete(key)
    assert first.get("session") is None


def test_an_entry_lives_no_longer_than_its_ttl(two_processes):
    first, second = two_processes
    second.set("short", "soon gone", timeout=1)
    assert first.get("short") == "soon gone"
    time.sleep(1.2)
    assert first.get("short") is None


def test_a_lost_listener_empties_memory_and_reads_go_to_redis(two_processes):
    first, second = two_processes
    second.set("page", "v1")
    assert first.get("page") == "v1"
    # Cut the listener off, then change the value: the change sends no message to it.
    listener = first._near._listener
    listener.send_command("CLIENT", "ID")
    client_id = listener.read_response()
    redis.Redis.from_url(REDIS_URL).client_kill_filter(_id=client_id)
    second.set("page", "v2")
    assert first.get("page") == "v2"
    assert not _served_from_memory(first, "page")


def test_values_are_copies_not_shared_objects(two_processes):
    first, _ = two_processes
    first.set("session", {"user": 1})
    first.get("session")["user"] = 2  # A request editing its own session dict...
    assert first.get("session") == {"user": 1}  # ...changes nobody else's.


@pytest.mark.django_db  # Django's own request signal receivers touch the database.
def test_a_change_answered_before_a_request_began_is_seen_in_that_request(two_processes):
    # Inside a request the listener is drained once, not before every read.
    first, second = two_processes
    second.set("page", "v1")
    request_started.send(sender=None)
    assert first.get("page") == "v1"
    second.set("page", "v2")
    request_finished.send(sender=None)
    request_started.send(sender=None)
    try:
        assert first.get("page") == "v2"
    finally:
        request_finished.send(sender=None)


def test_a_forked_child_starts_with_an_empty_copy_of_its_own(two_processes):
    """gunicorn forks its workers: a child must neither serve its parent's copy nor
    share its parent's listener connection."""
    first, second = two_processes
    second.set("page", "v1")
    assert first.get("page") == "v1"
    parent_listener = first._near._listener
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # The child reports what it sees through the pipe, then leaves.
        try:
            report = (
                f"{_served_from_memory(first, 'page')} "
                f"{first._near._listener is parent_listener} {first.get('page')}"
            )
        except BaseException as error:  # noqa: BLE001 (reported to the parent)
            report = repr(error)
        os.write(writer, report.encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        assert pipe.read() == "False False v1"
    assert _served_from_memory(first, "page")  # The parent's copy is still its own.


def test_a_key_made_elsewhere_after_a_read_found_nothing_is_seen(two_processes):
    first, second = two_processes
    assert first.get("pass") is None
    assert first.get("pass", "none") == "none"  # Remembered as absent, default still given.
    second.set("pass", "v1")
    assert first.get("pass") == "v1"
