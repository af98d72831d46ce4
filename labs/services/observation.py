"""What a driver saw in the cloud, in the portal's terms."""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Observation:
    state: str
    cloud_status: str = ""
    secondary_status: str = ""
    modified_at: datetime | None = None
    failure_reason: str = ""
    arn: str = ""
    message: str = ""
    # Optional extras; None means "unchanged".
    progress_done: int | None = None
    progress_total: int | None = None
    metrics: dict | None = None
    log_tail: list | None = None
    details: dict = field(default_factory=dict)
    billing_started_at: datetime | None = None
    billing_ended_at: datetime | None = None
