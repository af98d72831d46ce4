"""A job's log stream in CloudWatch Logs, written as SageMaker's containers write it."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from localcloud import moto_patches

logger = logging.getLogger("localcloud.jobs")


class JobLog:
    """Lines go to CloudWatch Logs in small batches so a 1000-round job stays cheap."""

    def __init__(self, account: str, region: str, group: str, stream: str) -> None:
        self.account = account
        self.region = region
        self.group = group
        self.stream = stream
        self._pending: list[tuple[datetime, str]] = []
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()

    def write(self, message: str, *, flush: bool = True) -> None:
        with self._lock:
            self._pending.append((datetime.now(UTC), message))
            due = flush or time.monotonic() - self._last_flush > 0.5
        if due:
            self.flush()

    def info(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d:%H:%M:%S")
        self.write(f"[{stamp}:INFO] {message}")

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        if pending:
            try:
                moto_patches.put_log_events(
                    self.account, self.region, self.group, self.stream, pending
                )
            except Exception:
                logger.exception("could not write to %s %s", self.group, self.stream)
