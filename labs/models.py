"""Cloud accounts, per-cohort lab policy, cloud resources and their timelines."""

from datetime import timedelta
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.models import Cohort


class Lab(models.TextChoices):
    STORAGE = "storage", "L1 Storage"
    NOTEBOOK = "notebook", "L2 Notebook instance"
    TRAINING = "training", "L3 Training"
    TRANSFORM = "transform", "L4 Batch transform"


class CloudAccount(models.Model):
    """Where a cohort's resources live: localcloud, or AWS through a role or the server's
    own credentials. The external ID is treated as a secret and never rendered."""

    class Kind(models.TextChoices):
        LOCALCLOUD = "localcloud", "localcloud (offline AWS-compatible endpoint)"
        ASSUME_ROLE = "assume_role", "AWS, by assuming a role"
        DEFAULT_CHAIN = "default_chain", "AWS, with the server's own credentials"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LOCALCLOUD)
    endpoint_url = models.URLField(blank=True, help_text="localcloud only.")
    role_arn = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    execution_role_arn = models.CharField(
        max_length=200,
        blank=True,
        help_text="SageMaker execution role for AWS; localcloud creates its own.",
    )

    def __str__(self) -> str:
        return self.name

    def connection(self):
        from labs.cloud.connection import CloudConnection

        return CloudConnection(
            kind=self.kind,
            endpoint_url=self.endpoint_url,
            role_arn=self.role_arn,
            external_id=self.external_id,
        )


DEFAULT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
DEFAULT_INSTANCE_TYPES = [
    "ml.t3.medium",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.c5.xlarge",
    "ml.g4dn.xlarge",
    "ml.g5.xlarge",
]


class LabSettings(models.Model):
    """A cohort's guard rails: checked before anything is sent to the cloud."""

    cohort = models.OneToOneField(Cohort, on_delete=models.CASCADE, related_name="lab_settings")
    account = models.ForeignKey(CloudAccount, on_delete=models.PROTECT, related_name="cohorts")
    allowed_regions = models.JSONField(default=list)
    allowed_instance_types = models.JSONField(default=list)
    gpu_allowed = models.BooleanField(
        "GPU instance types allowed", default=False, help_text="GPU instance types are opt-in."
    )
    notebook_instance_type = models.CharField(max_length=40, default="ml.t3.medium")
    training_instance_type = models.CharField(max_length=40, default="ml.m5.large")
    transform_instance_type = models.CharField(max_length=40, default="ml.m5.large")
    max_active_per_learner = models.PositiveSmallIntegerField(
        "running resources per learner", default=4
    )
    lab_ttl_minutes = models.PositiveIntegerField("lab time-to-live (minutes)", default=180)
    budget_usd = models.DecimalField(
        "budget (US dollars)", max_digits=10, decimal_places=2, default=Decimal("50.00")
    )

    class Meta:
        verbose_name_plural = "lab settings"

    def __str__(self) -> str:
        return f"Lab settings for {self.cohort}"

    @property
    def lab_ttl(self) -> timedelta:
        return timedelta(minutes=self.lab_ttl_minutes)


class LabPreference(models.Model):
    """The region a learner picked; shown on every lab page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE)
    region = models.CharField(max_length=30)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "cohort"], name="one_region_per_learner")
        ]


_LIVE_STATES = ("requested", "submitting", "provisioning", "running", "ready", "stopping")
# A learner holds at most one resource of a kind per lab and region while it is live, or,
# for a notebook, while it can still be started again. The database enforces it, so two
# clicks racing each other make one resource.
_RESTARTABLE_KIND, _RESTARTABLE_STATES = "notebook", ("stopped", "failed")
HELD = models.Q(state__in=_LIVE_STATES) | models.Q(
    kind=_RESTARTABLE_KIND, state__in=_RESTARTABLE_STATES
)


def is_held(kind: str, state: str) -> bool:
    """``HELD`` for a row already read."""
    return state in _LIVE_STATES or (kind == _RESTARTABLE_KIND and state in _RESTARTABLE_STATES)


class CloudResource(models.Model):
    """One thing a learner asked the cloud for, and what we last knew of it."""

    class Kind(models.TextChoices):
        BUCKET = "bucket", "S3 bucket"
        NOTEBOOK = "notebook", "Notebook instance"
        TRAINING_JOB = "training_job", "Training job"
        MODEL = "model", "Model"
        TRANSFORM_JOB = "transform_job", "Batch transform job"

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SUBMITTING = "submitting", "Submitting"
        PROVISIONING = "provisioning", "Provisioning"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        STOPPING = "stopping", "Stopping"
        STOPPED = "stopped", "Stopped"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"

    # States in which the cloud may still change the resource by itself.
    ACTIVE_STATES = (
        State.SUBMITTING,
        State.PROVISIONING,
        State.RUNNING,
        State.STOPPING,
        State.DELETING,
    )
    # States the browser stops polling in (a new action starts polling again).
    RESTING_STATES = (State.READY, State.COMPLETED, State.FAILED, State.STOPPED, State.DELETED)
    # States that count against the learner's concurrent-resource limit and may bill.
    LIVE_STATES = _LIVE_STATES

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cloud_resources"
    )
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="cloud_resources")
    account = models.ForeignKey(CloudAccount, on_delete=models.PROTECT)
    lab = models.CharField(max_length=20, choices=Lab.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    region = models.CharField(max_length=30)
    attempt = models.PositiveSmallIntegerField(default=1)
    cloud_name = models.CharField(max_length=63)
    # The launch form's one-time key: the second click of a double click that the server
    # reaches late (after the first click's resource already ended) finds that resource.
    launch_key = models.CharField(max_length=40, blank=True, default="")
    arn = models.CharField(max_length=300, blank=True)
    instance_type = models.CharField(max_length=40, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED)
    cloud_status = models.CharField(max_length=40, blank=True)
    secondary_status = models.CharField(max_length=40, blank=True)
    cloud_modified_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)

    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    log_tail = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)

    # Per-second billing: ``estimated_cost_usd`` holds the settled periods; an open
    # period runs from ``billing_started_at`` (a notebook can stop and start again).
    hourly_usd = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0"))
    billing_started_at = models.DateTimeField(null=True, blank=True)
    billing_ended_at = models.DateTimeField(null=True, blank=True)
    estimated_cost_usd = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))

    submit_attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Deterministic names make retries find what they made; this makes a
            # double-clicked launch find the row the first click made.
            models.UniqueConstraint(
                fields=["account", "region", "kind", "cloud_name"], name="one_row_per_cloud_name"
            ),
            models.UniqueConstraint(
                fields=["owner", "cohort", "lab", "kind", "region"],
                condition=HELD,
                name="one_held_resource_per_lab_region",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "cohort", "lab"]),
            models.Index(fields=["state", "account", "region", "kind"]),
            models.Index(fields=["cohort", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.cloud_name} ({self.region})"

    @property
    def is_resting(self) -> bool:
        return self.state in self.RESTING_STATES

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def never_made(self) -> bool:
        """Failed before the cloud made anything for it (a name taken, a refused type),
        whatever was asked of it since: the name may well belong to something else of the
        account, which the portal never touches."""
        return bool(self.failure_reason) and not (self.cloud_status or self.arn)

    def recent_events(self, count: int = 8) -> list:
        """The last few timeline lines, oldest first (the card shows no more)."""
        return list(reversed(self.events.order_by("-at", "-id")[:count]))

    @property
    def available_actions(self) -> tuple[str, ...]:
        from labs.actions import actions_for

        return actions_for(self.kind, self.state)

    @property
    def runs_no_more(self) -> bool:
        """Deleted, or a job that has ended: it will not bill again (a stopped notebook
        can be started again)."""
        if self.state == self.State.DELETED:
            return True
        ended = (self.State.COMPLETED, self.State.FAILED, self.State.STOPPED)
        return self.kind != self.Kind.NOTEBOOK and self.state in ended

    @property
    def kind_in_sentence(self) -> str:
        return kind_in_sentence(self.kind)

    @property
    def kind_with_article(self) -> str:
        """ "an S3 bucket", "a training job" (S3 is said "ess-three")."""
        article = "an" if self.kind == self.Kind.BUCKET else "a"
        return f"{article} {self.kind_in_sentence}"

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    def accrued_cost(self, now=None) -> Decimal:
        """Estimated cost so far: settled billing periods plus the one still open."""
        if not self.billing_started_at or not self.hourly_usd:
            return self.estimated_cost_usd
        open_period = open_period_cost(
            self.hourly_usd, self.billing_started_at, now or timezone.now()
        )
        return (self.estimated_cost_usd + open_period).quantize(
            Decimal("0.0001"), rounding=ROUND_UP
        )


def kind_in_sentence(kind: str) -> str:
    """A resource kind as a sentence says it: "S3 bucket", "notebook instance"."""
    label = CloudResource.Kind(kind).label
    return label if label[:2].isupper() else label[0].lower() + label[1:]


def open_period_cost(hourly_usd: Decimal, billing_started_at, now) -> Decimal:
    """What a billing period still open has cost by ``now``."""
    seconds = max(0.0, (now - billing_started_at).total_seconds())
    return hourly_usd * Decimal(seconds) / Decimal(3600)


class ResourceEvent(models.Model):
    """One line of a resource's timeline, written as a sentence for the learner."""

    resource = models.ForeignKey(CloudResource, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=20, choices=CloudResource.State.choices)
    cloud_status = models.CharField(max_length=40, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["at", "id"]


class LabCheck(models.Model):
    """A learner's "Check my progress", verified by a worker against the cloud."""

    class State(models.TextChoices):
        PENDING = "pending", "Checking"
        PASSED = "passed", "Passed"
        NOT_YET = "not_yet", "Not yet"

    class Purpose(models.TextChoices):
        PROGRESS = "progress", "Check my progress"
        CLEANUP = "cleanup", "Clean up this lab"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE)
    lab = models.CharField(max_length=20, choices=Lab.choices)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.PROGRESS)
    region = models.CharField(max_length=30)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "cohort", "lab", "state"])]
