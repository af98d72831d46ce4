"""Where the portal's boto3 clients come from.

A `CloudConnection` says how to reach one cloud account:

- ``localcloud``: an AWS-compatible endpoint (our emulator); every client gets the
  ``endpoint_url`` and a dummy key pair.
- ``assume_role``: real AWS; the server's own credentials call STS AssumeRole for the role
  (with its external id), per learner, for 15 minutes, with session tags naming the learner
  and the cohort, so CloudTrail and IAM conditions can tell learners apart.
  ``endpoint_url`` may be set as well, to point every call (STS included) at an emulator.
- ``default_chain``: real AWS with the server's own credentials (environment, instance
  profile, ...), as boto3 finds them (``endpoint_url`` again optional).

`client()` caches clients because building one costs tens of milliseconds and a few
hundred kilobytes; boto3 clients are thread-safe once built, building them is not, so
building happens under a lock. Credentials are never logged and never part of a repr.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from labs.cloud.errors import PermanentCloudError, translating

__all__ = [
    "KINDS",
    "LOCALCLOUD_ACCESS_KEY",
    "CloudConnection",
    "clear_caches",
    "client",
    "client_config",
]

logger = logging.getLogger(__name__)

KINDS = ("localcloud", "assume_role", "default_chain")
LOCALCLOUD_ACCESS_KEY = "localcloud"
SESSION_DURATION_SECONDS = 900
# Assumed-role credentials are replaced this long before they expire, so that a call made
# with a freshly fetched client never carries credentials about to lapse.
CREDENTIAL_MARGIN = timedelta(seconds=60)
# Enough for every (service, region, learner) a busy worker touches; least recently used
# clients are dropped beyond it (they are rebuilt on demand).
MAX_CACHED_CLIENTS = 1024


@dataclass(frozen=True)
class CloudConnection:
    """How to reach one cloud account. Hashable, so it can key caches."""

    kind: str  # "localcloud" | "assume_role" | "default_chain"
    endpoint_url: str = ""
    role_arn: str = ""
    external_id: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown cloud connection kind {self.kind!r}; use one of {KINDS}.")
        if self.kind == "localcloud" and not self.endpoint_url:
            raise ValueError("A localcloud connection needs an endpoint URL.")
        if self.kind == "assume_role" and not self.role_arn:
            raise ValueError("An assume_role connection needs a role ARN.")

    @property
    def is_localcloud(self) -> bool:
        return self.kind == "localcloud"

    def __str__(self) -> str:
        if self.kind == "localcloud":
            return f"localcloud at {self.endpoint_url}"
        if self.kind == "assume_role":
            return f"AWS role {self.role_arn}"
        return "AWS (server credentials)"


def client_config(region: str, **overrides: Any) -> Config:
    """The botocore settings every portal client uses: region explicit, standard retries."""
    settings: dict[str, Any] = {
        "region_name": region,
        "retries": {"mode": "standard", "max_attempts": 5},
        "connect_timeout": 5,
        "read_timeout": 30,
        "user_agent_extra": "cloud-ml-lab-portal",
        # Endpoints come from the CloudConnection only: an AWS_ENDPOINT_URL meant for a
        # learner's notebook must never redirect the portal's real-AWS calls (or the reverse).
        "ignore_configured_endpoint_urls": True,
    }
    settings.update(overrides)
    return Config(**settings)


# --- Shared boto3 session ----------------------------------------------------------------

_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def _base_session() -> boto3.session.Session:
    """One boto3 session per process: its clients share the loaded service models."""
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session


def _build_client(service: str, **kwargs: Any) -> Any:
    session = _base_session()
    # A boto3 session is not thread-safe while it builds clients; the clients it returns are.
    with _session_lock:
        return session.client(service, **kwargs)


# --- Assumed-role credentials ------------------------------------------------------------


@dataclass(frozen=True)
class _Credentials:
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: str = field(repr=False)
    expires_at: datetime

    def fresh(self, now: datetime) -> bool:
        return now < self.expires_at - CREDENTIAL_MARGIN


_credentials: dict[tuple[Hashable, ...], _Credentials] = {}
_credentials_guard = threading.Lock()
_credential_locks: dict[tuple[Hashable, ...], threading.Lock] = {}


def _now() -> datetime:
    return datetime.now(UTC)


_NAME_CHARS = re.compile(r"[^\w+=,.@-]")
_TAG_CHARS = re.compile(r"[^\w .:/=+@-]")


def session_name(learner_tag: str) -> str:
    """An STS RoleSessionName (2-64 chars of [\\w+=,.@-]) naming the learner."""
    cleaned = _NAME_CHARS.sub("-", learner_tag.strip())[:56]
    return f"portal-{cleaned}" if cleaned else "portal"


def _session_tags(learner_tag: str, cohort_tag: str) -> list[dict[str, str]]:
    tags = []
    for key, value in (("learner", learner_tag), ("cohort", cohort_tag)):
        cleaned = _TAG_CHARS.sub("-", value.strip())[:256]
        if cleaned:
            tags.append({"Key": key, "Value": cleaned})
    return tags


def _lock_for(key: tuple[Hashable, ...]) -> threading.Lock:
    with _credentials_guard:
        lock = _credential_locks.get(key)
        if lock is None:
            lock = _credential_locks[key] = threading.Lock()
        return lock


def _assumed_credentials(
    connection: CloudConnection, region: str, learner_tag: str, cohort_tag: str
) -> _Credentials:
    key = (
        connection.role_arn,
        connection.external_id,
        connection.endpoint_url,
        learner_tag,
        cohort_tag,
    )
    cached = _credentials.get(key)
    if cached is not None and cached.fresh(_now()):
        return cached
    # One AssumeRole per (role, learner) at a time; other threads wait and reuse its result.
    with _lock_for(key):
        cached = _credentials.get(key)
        if cached is not None and cached.fresh(_now()):
            return cached
        sts = _cached_client(
            ("sts", connection.endpoint_url, region),
            lambda: _build_client(
                "sts",
                config=client_config(region),
                **({"endpoint_url": connection.endpoint_url} if connection.endpoint_url else {}),
            ),
        )
        request: dict[str, Any] = {
            "RoleArn": connection.role_arn,
            "RoleSessionName": session_name(learner_tag),
            "DurationSeconds": SESSION_DURATION_SECONDS,
        }
        if connection.external_id:
            request["ExternalId"] = connection.external_id
        tags = _session_tags(learner_tag, cohort_tag)
        if tags:
            request["Tags"] = tags
        with translating(action="sts:AssumeRole"):
            answer = sts.assume_role(**request)["Credentials"]
        expires_at = answer["Expiration"]
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        fresh = _Credentials(
            access_key=answer["AccessKeyId"],
            secret_key=answer["SecretAccessKey"],
            token=answer["SessionToken"],
            expires_at=expires_at.astimezone(UTC),
        )
        _credentials[key] = fresh
        logger.info(
            "assumed %s for session %s until %s",
            connection.role_arn,
            request["RoleSessionName"],
            fresh.expires_at.isoformat(),
        )
        return fresh


# --- Client cache ------------------------------------------------------------------------

_clients: OrderedDict[tuple[Hashable, ...], tuple[Any, _Credentials | None]] = OrderedDict()
_clients_lock = threading.Lock()


def _cached_client(key: tuple[Hashable, ...], build: Callable[[], Any]) -> Any:
    with _clients_lock:
        entry = _clients.get(key)
        if entry is not None:
            _clients.move_to_end(key)
            return entry[0]
    built = build()
    with _clients_lock:
        # Another thread may have built the same client meanwhile; keep the first one.
        entry = _clients.setdefault(key, (built, None))
        _clients.move_to_end(key)
        while len(_clients) > MAX_CACHED_CLIENTS:
            _clients.popitem(last=False)
        return entry[0]


def client(
    connection: CloudConnection,
    service: str,
    region: str,
    *,
    learner_tag: str = "",
    cohort_tag: str = "",
) -> Any:
    """A boto3 client for ``service`` in ``region`` of the connection's account.

    The same arguments return the same client object while its credentials are valid.
    ``learner_tag`` and ``cohort_tag`` matter only for ``assume_role`` (they name the STS
    session); for the other kinds the client is shared by all learners.

    Call this each time rather than keeping a client for long: an assumed-role client is
    replaced once its 15-minute credentials come within a minute of expiring.
    """
    if not region:
        raise PermanentCloudError("No cloud region was given for this call.", code="NoRegion")
    if connection.kind == "assume_role":
        return _assumed_role_client(connection, service, region, learner_tag, cohort_tag)

    key = (connection, service, region)
    if connection.kind == "localcloud":
        return _cached_client(
            key,
            lambda: _build_client(
                service,
                endpoint_url=connection.endpoint_url,
                aws_access_key_id=LOCALCLOUD_ACCESS_KEY,
                aws_secret_access_key=LOCALCLOUD_ACCESS_KEY,
                config=client_config(region, s3={"addressing_style": "path"}),
            ),
        )
    extra = {"endpoint_url": connection.endpoint_url} if connection.endpoint_url else {}
    return _cached_client(
        key, lambda: _build_client(service, config=client_config(region), **extra)
    )


def _assumed_role_client(
    connection: CloudConnection, service: str, region: str, learner_tag: str, cohort_tag: str
) -> Any:
    key = (connection, service, region, learner_tag, cohort_tag)
    now = _now()
    with _clients_lock:
        entry = _clients.get(key)
        if entry is not None and entry[1] is not None and entry[1].fresh(now):
            _clients.move_to_end(key)
            return entry[0]
    credentials = _assumed_credentials(connection, region, learner_tag, cohort_tag)
    extra: dict[str, Any] = {}
    if connection.endpoint_url:
        extra["endpoint_url"] = connection.endpoint_url
    built = _build_client(
        service,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        config=client_config(region),
        **extra,
    )
    with _clients_lock:
        entry = _clients.get(key)
        if entry is not None and entry[1] is not None and entry[1].fresh(now):
            _clients.move_to_end(key)
            return entry[0]
        _clients[key] = (built, credentials)
        _clients.move_to_end(key)
        while len(_clients) > MAX_CACHED_CLIENTS:
            _clients.popitem(last=False)
        return built


def clear_caches() -> None:
    """Forget every cached client, credential and the shared session (tests, key rotation)."""
    global _session
    with _clients_lock:
        _clients.clear()
    with _credentials_guard:
        _credentials.clear()
        _credential_locks.clear()
    with _session_lock:
        _session = None
