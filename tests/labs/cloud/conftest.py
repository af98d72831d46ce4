"""Fixtures for the cloud boundary: a real localcloud process, and clients for it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from labs.cloud.connection import CloudConnection, clear_caches, client


@pytest.fixture(scope="session")
def connection(localcloud: Any) -> CloudConnection:
    return CloudConnection(kind="localcloud", endpoint_url=localcloud.url)


@pytest.fixture(autouse=True)
def _fresh_client_cache() -> Iterator[None]:
    # Tests that patch the environment or a constant must not leak clients to others.
    yield
    clear_caches()


@pytest.fixture
def s3(connection: CloudConnection) -> Any:
    return client(connection, "s3", "us-east-1")


@pytest.fixture
def sm(connection: CloudConnection) -> Any:
    return client(connection, "sagemaker", "us-east-1")


@pytest.fixture
def logs(connection: CloudConnection) -> Any:
    return client(connection, "logs", "us-east-1")


@pytest.fixture
def unique() -> str:
    """A short random suffix, so that tests sharing the session's localcloud never collide."""
    return uuid.uuid4().hex[:8]


def wait_for(
    probe: Callable[[], Any], done: Callable[[Any], bool], *, timeout: float = 120.0
) -> Any:
    """Call probe until done(result); the last result, or AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    result = probe()
    while not done(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not done after {timeout}s: {result!r}")
        time.sleep(0.2)
        result = probe()
    return result
