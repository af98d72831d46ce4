"""What instructors did to a cohort from the dashboard, and what the cloud answered.

Each action (stop all notebooks, teardown, extend, settings, sweep) leaves one row here,
besides the sentences it adds to each resource's own timeline. Sweeps and teardown checks
store what they found in the cloud, so the page can show it and offer to delete it.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from labs.cloud.pricing import format_hourly
from portal.models import Cohort


class CohortOperation(models.Model):
    class Kind(models.TextChoices):
        STOP_NOTEBOOKS = "stop_notebooks", "Stop all notebooks"
        TEARDOWN = "teardown", "Tear down the cohort"
        TEARDOWN_LEARNER = "teardown_learner", "Tear down a learner"
        EXTEND_LEARNER = "extend_learner", "Extend a learner's lab time"
        SETTINGS = "settings", "Change the cohort settings"
        SWEEP = "sweep", "Sweep the cloud for unknown resources"
        SWEEP_DELETE = "sweep_delete", "Delete unknown resources"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Working"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    FINAL_STATES = (State.DONE, State.FAILED)

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="operations")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The learner it was about, for per-learner actions.",
    )
    source = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The sweep or teardown whose findings a deletion acts on.",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    summary = models.TextField(blank=True)
    regions = models.JSONField(default=list, blank=True)
    # Cloud items found (sweep, teardown check) or still being removed (deletion), as
    # labs.cloud.inventory.CloudItem.as_dict() gives them.
    found = models.JSONField(default=list, blank=True)
    resources_touched = models.PositiveIntegerField(default=0)
    # When an instructor sent what it found for deletion: once is enough.
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cohort", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.cohort}, {self.get_state_display()})"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def live_found(self) -> list[dict]:
        return [item for item in self.found if item.get("live", True)]

    @property
    def found_running_cost(self) -> str:
        return found_running_cost(self.found)

    @property
    def can_delete_found(self) -> bool:
        return (
            self.kind in (self.Kind.SWEEP, self.Kind.TEARDOWN, self.Kind.TEARDOWN_LEARNER)
            and self.state == self.State.DONE
            and self.deletion_requested_at is None
            and bool(self.live_found)
        )


def found_running_cost(found: list[dict]) -> str:
    """ "; those running cost about $1.20/hour together" (and how many of them have no
    price), as estimated when it was listed; "" when nothing found runs. Rows stored
    before estimates were kept count as not running."""
    running = [row for row in found if row.get("runs_instance")]
    unpriced = sum(1 for row in running if not row.get("hourly_usd"))
    if not running:
        return ""
    if unpriced == len(running):
        return f"; {len(running)} running, of unknown price"
    hourly = sum((Decimal(row["hourly_usd"]) for row in running if row["hourly_usd"]), Decimal(0))
    also = f", {unpriced} more of unknown price" if unpriced else ""
    return f"; those running cost {format_hourly(hourly)} together{also}"
