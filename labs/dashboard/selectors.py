"""Read queries for the instructor dashboard.

The page is built from a fixed handful of aggregate queries whatever the cohort's size:
learners, lessons, completions, ticks per (learner, lesson), checks per (learner, lab,
state), resources per (learner, lab), the resources that still exist, and recent
operations. Everything per learner is assembled in Python from those rows, so the query
count is the same for 10 learners and for 500.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.http import Http404
from django.utils import timezone

from curriculum.models import Lesson, LessonCompletion, ObjectiveTick
from labs.cloud import pricing
from labs.cloud import regions as cloud_regions
from labs.dashboard.models import CohortOperation
from labs.models import CloudResource, Lab, LabCheck, LabSettings, kind_in_sentence
from portal.models import Cohort, Enrolment
from portal.selectors import user_is_instructor

State = CloudResource.State
Kind = CloudResource.Kind

# A notebook in a transitional state for longer than this is reported as stuck.
STUCK_NOTEBOOK_MINUTES = getattr(settings, "DASHBOARD_STUCK_NOTEBOOK_MINUTES", 15)
# Spend at or past this share of the budget raises an alert.
BUDGET_ALERT_SHARE = Decimal(str(getattr(settings, "DASHBOARD_BUDGET_ALERT_SHARE", "0.8")))
# The live region is re-rendered at least this often, so ages and accrued costs move
# even when no row changed.
LIVE_TICK_SECONDS = 60
RECENT_OPERATIONS = 6

TRANSITIONAL_NOTEBOOK_STATES = (
    State.REQUESTED,
    State.SUBMITTING,
    State.PROVISIONING,
    State.STOPPING,
    State.DELETING,
)
JOB_KINDS = (Kind.TRAINING_JOB, Kind.TRANSFORM_JOB)

# Progress of one learner on one lesson or lab.
NOT_STARTED, IN_PROGRESS, STUCK, DONE = "none", "doing", "stuck", "done"
PROGRESS_LABELS = {
    NOT_STARTED: "not started",
    IN_PROGRESS: "in progress",
    STUCK: "stuck",
    DONE: "done",
}

STATE_FILTERS = [
    ("live", "Running or starting (may bill)"),
    ("current", "Everything not deleted"),
    *[(value, label) for value, label in State.choices if value != State.DELETED],
]


class CommaList(Aggregate):
    """The group's values joined by commas: one row per learner instead of one per
    (learner, lesson), which is most of the rows the page would otherwise fetch.
    PostgreSQL's STRING_AGG; SQLite's GROUP_CONCAT (the embedded default)."""

    function = "STRING_AGG"
    template = "%(function)s(CAST(%(expressions)s AS TEXT), ',')"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # A copy with SQLite's spelling: a FILTER clause is added to the template, so the
        # template cannot simply be passed as an argument.
        clone = self.copy()
        clone.function = "GROUP_CONCAT"
        clone.template = "%(function)s(%(expressions)s, ',')"
        return clone.as_sql(compiler, connection, **extra_context)


def _ids(text: str | None) -> set[int]:
    return set(map(int, text.split(","))) if text else set()


def _words(text: str | None) -> set[str]:
    return set(text.split(",")) if text else set()


# --- Access ----------------------------------------------------------------------------


def cohort_get_for_instructor(*, user, cohort_id: int) -> Cohort:
    """The cohort, if ``user`` teaches it or is staff.

    Learners are refused (403) whatever the id; an instructor of another cohort is told
    the id does not exist (404), so ids of other cohorts reveal nothing.
    """
    teaches = Enrolment.objects.filter(
        cohort=OuterRef("pk"), user=user, role=Enrolment.Role.INSTRUCTOR
    )
    cohort = Cohort.objects.filter(pk=cohort_id).annotate(teaches=Exists(teaches)).first()
    if cohort is not None and (user.is_staff or cohort.teaches):
        return cohort
    if user.is_staff or user_is_instructor(user):
        raise Http404("No such cohort.")
    raise PermissionDenied("The dashboard is for the cohort's instructors.")


def cohort_list_for_dashboard(user):
    if not user_is_instructor(user):
        raise PermissionDenied("The dashboard is for instructors.")
    if user.is_staff:
        return Cohort.objects.all()
    return Cohort.objects.filter(
        enrolments__user=user, enrolments__role=Enrolment.Role.INSTRUCTOR
    ).distinct()


def learner_get_in_cohort(*, cohort: Cohort, learner_id: int):
    enrolment = (
        Enrolment.objects.filter(cohort=cohort, user_id=learner_id, role=Enrolment.Role.LEARNER)
        .select_related("user")
        .first()
    )
    if enrolment is None:
        raise Http404("No such learner in this cohort.")
    return enrolment.user


def operation_get_in_cohort(*, cohort: Cohort, operation_id: int) -> CohortOperation:
    operation = (
        CohortOperation.objects.filter(cohort=cohort, pk=operation_id)
        .select_related("actor", "learner")
        .first()
    )
    if operation is None:
        raise Http404("No such operation.")
    return operation


def operation_list_recent(cohort: Cohort, limit: int = RECENT_OPERATIONS):
    return list(
        CohortOperation.objects.filter(cohort=cohort)
        .select_related("actor", "learner")
        .order_by("-created_at", "-id")[:limit]
    )


# --- Live fingerprint ------------------------------------------------------------------


def _learner_ids(cohort: Cohort):
    return Enrolment.objects.filter(cohort=cohort, role=Enrolment.Role.LEARNER).values("user_id")


def _scalar(queryset, aggregate):
    """``(SELECT <aggregate> FROM <queryset>)``: grouping by a constant groups nothing."""
    return Subquery(
        queryset.order_by()
        .annotate(_all=Value(1))
        .values("_all")
        .annotate(value=aggregate)
        .values("value")[:1]
    )


def dashboard_fingerprint(cohort: Cohort, *, now: datetime | None = None) -> str:
    """Changes whenever anything the dashboard shows changes (and once a minute, for ages
    and accrued costs); one query of counts and latest times."""
    now = now or timezone.now()
    learners = _learner_ids(cohort)
    resources = CloudResource.objects.filter(cohort=cohort)
    completions = LessonCompletion.objects.filter(user_id__in=learners)
    ticks = ObjectiveTick.objects.filter(user_id__in=learners)
    checks = LabCheck.objects.filter(cohort=cohort)
    operations = CohortOperation.objects.filter(cohort=cohort)
    enrolments = Enrolment.objects.filter(cohort=cohort)
    row = (
        Cohort.objects.filter(pk=cohort.pk)
        .order_by()
        .annotate(
            r_count=_scalar(resources, Count("id")),
            r_last=_scalar(resources, Max("updated_at")),
            c_count=_scalar(completions, Count("id")),
            c_last=_scalar(completions, Max("completed_at")),
            t_count=_scalar(ticks, Count("id")),
            t_last=_scalar(ticks, Max("ticked_at")),
            k_count=_scalar(checks, Count("id")),
            k_versions=_scalar(checks, Sum("version")),
            o_last=_scalar(operations, Max("updated_at")),
            e_count=_scalar(enrolments, Count("id")),
            e_last=_scalar(enrolments, Max("enrolled_at")),
            s_last=_scalar(Lesson.objects.all(), Max("updated_at")),
        )
        .values_list(
            "r_count",
            "r_last",
            "c_count",
            "c_last",
            "t_count",
            "t_last",
            "k_count",
            "k_versions",
            "o_last",
            "e_count",
            "e_last",
            "s_last",
        )
        .first()
    )
    tick = int(now.timestamp()) // LIVE_TICK_SECONDS
    return hashlib.sha1(repr((row, tick)).encode(), usedforsecurity=False).hexdigest()[:16]


# --- Filters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    region: str = ""
    lab: str = ""
    state: str = "live"

    @classmethod
    def from_query(cls, query) -> Filters:
        region = query.get("region", "")
        lab = query.get("lab", "")
        state = query.get("state", "live")
        return cls(
            region=region if cloud_regions.is_known_region(region) else "",
            lab=lab if lab in Lab.values else "",
            state=state if state in dict(STATE_FILTERS) else "live",
        )

    @property
    def is_default(self) -> bool:
        return not self.region and not self.lab and self.state == "live"

    def matches(self, resource: ResourceRow) -> bool:
        if self.region and resource.region != self.region:
            return False
        if self.lab and resource.lab != self.lab:
            return False
        if self.state == "live":
            return resource.state in CloudResource.LIVE_STATES
        if self.state == "current":
            return resource.state != State.DELETED
        return resource.state == self.state

    def as_query(self) -> str:
        return f"region={self.region}&lab={self.lab}&state={self.state}"


# --- The page's data -------------------------------------------------------------------


@dataclass(slots=True)
class ResourceRow:
    id: int
    owner_id: int
    lab: str
    kind: str
    region: str
    cloud_name: str
    instance_type: str
    state: str
    cloud_status: str
    hourly_usd: Decimal
    accrued_usd: Decimal
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    failure_reason: str
    age_seconds: float
    owner_name: str
    settled_usd: Decimal
    billing_open: bool

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def state_label(self) -> str:
        return State(self.state).label


@dataclass(slots=True)
class LearnerRow:
    id: int
    username: str
    full_name: str
    last_activity: datetime | None
    cells: list[str]
    done: int
    resources: list[ResourceRow]
    spend_usd: Decimal
    has_current: bool


@dataclass
class Alert:
    kind: str
    level: str  # "warn" | "bad"
    title: str
    items: list[str] = field(default_factory=list)


@dataclass
class Totals:
    learners: int = 0
    lessons: int = 0
    done_cells: int = 0
    stuck_cells: int = 0
    live_resources: int = 0
    billing_now: int = 0
    gpus_billing: int = 0
    # Stopped notebooks still hold their storage (and bill for it) until deleted.
    stopped_resources: int = 0
    hourly_usd: Decimal = Decimal("0")
    spend_usd: Decimal = Decimal("0")
    budget_usd: Decimal = Decimal("0")
    by_region: dict[str, int] = field(default_factory=dict)
    # Resources of people who are not learners here (instructors trying the labs): in
    # the totals, since they bill the cohort, but in no learner's row.
    others_live: int = 0
    others_hourly_usd: Decimal = Decimal("0")
    others_spend_usd: Decimal = Decimal("0")

    @property
    def in_cloud(self) -> int:
        return self.live_resources + self.stopped_resources

    @property
    def progress_percent(self) -> int:
        cells = self.learners * self.lessons
        return round(100 * self.done_cells / cells) if cells else 0

    @property
    def budget_percent(self) -> int:
        if not self.budget_usd:
            return 100 if self.spend_usd else 0
        return round(100 * self.spend_usd / self.budget_usd)


@dataclass
class Dashboard:
    cohort: Cohort
    lab_settings: LabSettings
    filters: Filters
    lessons: list[dict]
    learners: list[LearnerRow]
    resources: list[ResourceRow]
    totals: Totals
    alerts: list[Alert]
    operations: list[CohortOperation]
    now: datetime


def _accrued(hourly, settled, started, now) -> Decimal:
    if not started or not hourly:
        return settled
    seconds = max(0.0, (now - started).total_seconds())
    return (settled + hourly * Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.0001"))


RESOURCE_FIELDS = (
    "id",
    "owner_id",
    "lab",
    "kind",
    "region",
    "cloud_name",
    "instance_type",
    "state",
    "cloud_status",
    "hourly_usd",
    "estimated_cost_usd",
    "billing_started_at",
    "created_at",
    "updated_at",
    "expires_at",
    "failure_reason",
)


def resource_rows_for_cohort(
    cohort: Cohort, *, now: datetime, usernames: dict[int, str] | None = None
) -> list[ResourceRow]:
    """Resources that still exist (or still bill), oldest first; one query (joined to the
    owners' usernames unless ``usernames`` already maps owner ids to them)."""
    resources = (
        CloudResource.objects.filter(cohort=cohort)
        .filter(~Q(state=State.DELETED) | Q(billing_started_at__isnull=False))
        .order_by("created_at", "id")
    )
    if usernames is None:
        rows = resources.values_list(*RESOURCE_FIELDS, "owner__username")
    else:
        rows = (
            (*row, usernames.get(row[1]) or f"user {row[1]}")
            for row in resources.values_list(*RESOURCE_FIELDS)
        )
    built = []
    for (
        pk,
        owner_id,
        lab,
        kind,
        region,
        name,
        instance_type,
        state,
        status,
        hourly,
        settled,
        started,
        created,
        updated,
        expires,
        reason,
        username,
    ) in rows:
        built.append(
            ResourceRow(
                pk,
                owner_id,
                lab,
                kind,
                region,
                name,
                instance_type,
                state,
                status,
                hourly,
                _accrued(hourly, settled, started, now),
                created,
                updated,
                expires,
                reason,
                (now - created).total_seconds(),
                username,
                settled,
                bool(started and hourly),
            )
        )
    return built


def _learners(cohort: Cohort) -> list[tuple]:
    return list(
        Enrolment.objects.filter(cohort=cohort, role=Enrolment.Role.LEARNER)
        .order_by("user__username")
        .values_list(
            "user_id", "user__username", "user__first_name", "user__last_name", "user__last_login"
        )
    )


def _lessons() -> list[dict]:
    lessons = list(
        Lesson.objects.filter(is_published=True, audience=Lesson.Audience.EVERYONE)
        .order_by("module", "order", "slug")
        .values("id", "slug", "title", "module", "order", "kind", "lab")
    )
    for lesson in lessons:
        # "2.3" is module 2, lesson 3; labs are "Lab 1" to "Lab 4", as the course says.
        lesson["short"] = (
            f"{lesson['module']}.{lesson['order']}"
            if not lesson["lab"]
            else "Lab " + Lab(lesson["lab"]).label.split(" ", 1)[0].removeprefix("L")
        )
    return lessons


def _who(r: ResourceRow) -> str:
    return f"{r.owner_name}: {kind_in_sentence(r.kind)} {r.cloud_name} ({r.region})"


def _unknown_alert(cohort_id: int) -> Alert | None:
    """What the newest sweep found in the cloud that the portal did not make, while
    nobody has sent it for deletion: it may bill, and no row shows it."""
    sweep = (
        CohortOperation.objects.filter(
            cohort_id=cohort_id,
            kind=CohortOperation.Kind.SWEEP,
            state=CohortOperation.State.DONE,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if sweep is None or not sweep.can_delete_found:
        return None
    return Alert(
        "unknown",
        "bad",
        f"Found by the sweep of {timezone.localtime(sweep.created_at):%H:%M}, unknown to "
        f"the portal{sweep.found_running_cost}: delete them under Recent actions",
        [
            f"{i['kind']} {i['name']} in {i['region']} ({i['status']}"
            + (f"; {i['costs']})" if i.get("costs") else ")")
            for i in sweep.live_found
        ],
    )


def _alerts(
    lab_settings: LabSettings,
    resources: list[ResourceRow],
    totals: Totals,
    now: datetime,
) -> list[Alert]:
    ttl = lab_settings.lab_ttl
    stuck_after = timedelta(minutes=STUCK_NOTEBOOK_MINUTES)
    allowed = set(lab_settings.allowed_regions)
    over_ttl = Alert("ttl", "warn", f"Running longer than the lab time ({ttl_text(ttl)})")
    stuck = Alert(
        "stuck",
        "warn",
        f"Notebooks stuck in a transitional state for over {STUCK_NOTEBOOK_MINUTES} minutes",
    )
    failed = Alert("failed", "bad", "Failed jobs and notebook instances")
    region = Alert(
        "region",
        "bad",
        "Resources in regions outside the cohort's allowlist",
    )
    # The instructor's first worry: a GPU left running bills several times a CPU's price.
    gpu = Alert(
        "gpu",
        "warn" if lab_settings.gpu_allowed else "bad",
        "GPU instances running"
        if lab_settings.gpu_allowed
        else "GPU instances running, though GPU types are off for new launches",
    )
    live_states = set(CloudResource.LIVE_STATES)
    for r in resources:
        state = r.state
        due = r.expires_at or (r.created_at + ttl)
        if state in live_states and due < now:
            over_ttl.items.append(f"{_who(r)}, {ttl_text(now - due)} past its lab time")
        if (
            r.kind == Kind.NOTEBOOK
            and state in TRANSITIONAL_NOTEBOOK_STATES
            and now - r.updated_at > stuck_after
        ):
            status = r.cloud_status or r.state_label
            stuck.items.append(f"{_who(r)}, {status} for {ttl_text(now - r.updated_at)}")
        if state == State.FAILED and r.kind in (*JOB_KINDS, Kind.NOTEBOOK):
            failed.items.append(f"{_who(r)}: {r.failure_reason or 'no reason given'}")
        if r.region not in allowed and state != State.DELETED:
            region.items.append(_who(r))
        if r.billing_open and pricing.is_gpu(r.instance_type):
            gpu.items.append(f"{_who(r)}, {r.instance_type} at ${r.hourly_usd:,.2f}/hour")
    alerts = [a for a in (gpu, over_ttl, stuck, failed, region) if a.items]
    unknown = _unknown_alert(lab_settings.cohort_id)
    if unknown is not None:
        alerts.append(unknown)
    if not totals.budget_usd:
        alerts.append(
            Alert(
                "budget",
                "bad",
                "The budget is $0.00",
                ["Every notebook and job launch is refused until you raise it in Settings."],
            )
        )
    elif totals.spend_usd >= totals.budget_usd * BUDGET_ALERT_SHARE:
        share = int(BUDGET_ALERT_SHARE * 100)
        spent = totals.spend_usd >= totals.budget_usd
        alerts.append(
            Alert(
                "budget",
                "bad" if spent else "warn",
                "Spend has reached the budget: new notebooks and jobs are refused"
                if spent
                else f"Spend is past {share}% of the budget",
                [
                    f"${totals.spend_usd:,.2f} of ${totals.budget_usd:,.2f} "
                    f"({totals.budget_percent}%)"
                ],
            )
        )
    return alerts


def ttl_text(delta: timedelta) -> str:
    return duration_text(delta.total_seconds())


def duration_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _latest(into: dict, rows) -> None:
    """Keep, per key, the latest time of ``(key, time)`` rows."""
    for key, at in rows:
        if at is not None and (key not in into or at > into[key]):
            into[key] = at


def dashboard_build(
    *, cohort: Cohort, lab_settings: LabSettings, filters: Filters, now: datetime | None = None
) -> Dashboard:
    """Everything the cohort page shows, in eight queries whatever the cohort's size."""
    now = now or timezone.now()
    learner_ids = _learner_ids(cohort)
    learners = _learners(cohort)
    lessons = _lessons()
    last_seen: dict[int, datetime] = {}
    empty: frozenset = frozenset()

    completed: dict[int, set[int]] = {}
    completion_times = []
    for user_id, lesson_ids, at in (
        LessonCompletion.objects.filter(user_id__in=learner_ids)
        .values_list("user_id")
        .annotate(lessons=CommaList("lesson_id"), last=Max("completed_at"))
        .order_by()
    ):
        completed[user_id] = _ids(lesson_ids)
        completion_times.append((user_id, at))
    _latest(last_seen, completion_times)

    ticked: dict[int, set[int]] = {}
    tick_times = []
    for user_id, lesson_ids, at in (
        ObjectiveTick.objects.filter(user_id__in=learner_ids)
        .values_list("user_id")
        .annotate(lessons=CommaList("lesson_id"), last=Max("ticked_at"))
        .order_by()
    ):
        ticked[user_id] = _ids(lesson_ids)
        tick_times.append((user_id, at))
    _latest(last_seen, tick_times)

    # The latest progress check per (learner, lab) decides: a "not yet" there means
    # stuck. A clean-up check says nothing of progress; it only shows the learner active.
    latest_check: dict[tuple[int, str], tuple[datetime, str]] = {}
    check_times = []
    for user_id, lab, purpose, state, at in (
        LabCheck.objects.filter(cohort=cohort)
        .values_list("user_id", "lab", "purpose", "state")
        .annotate(last=Max("created_at"))
        .order_by()
    ):
        key = (user_id, lab)
        progress = purpose == LabCheck.Purpose.PROGRESS
        if progress and (key not in latest_check or at > latest_check[key][0]):
            latest_check[key] = (at, state)
        check_times.append((user_id, at))
    _latest(last_seen, check_times)

    touched_lab: set[tuple[int, str]] = set()
    failed_lab: set[tuple[int, str]] = set()
    spend: dict[int, Decimal] = defaultdict(Decimal)
    settled_total = Decimal("0")
    resource_times = []
    for owner_id, labs, failed_labs, at, settled in (
        CloudResource.objects.filter(cohort=cohort)
        .values_list("owner_id")
        .annotate(
            labs=CommaList("lab"),
            failed=CommaList("lab", filter=Q(state=State.FAILED)),
            last=Max("updated_at"),
            settled=Sum("estimated_cost_usd"),
        )
        .order_by()
    ):
        touched_lab.update((owner_id, lab) for lab in _words(labs))
        failed_lab.update((owner_id, lab) for lab in _words(failed_labs))
        if settled:
            spend[owner_id] += settled
            settled_total += settled
        resource_times.append((owner_id, at))
    _latest(last_seen, resource_times)
    _latest(last_seen, [(row[0], row[4]) for row in learners])

    resources = resource_rows_for_cohort(
        cohort, now=now, usernames={row[0]: row[1] for row in learners}
    )
    totals = Totals(
        learners=len(learners), lessons=len(lessons), budget_usd=lab_settings.budget_usd
    )
    live_states = set(CloudResource.LIVE_STATES)
    live_lab: set[tuple[int, str]] = set()
    current_owners: set[int] = set()
    by_owner: dict[int, list[ResourceRow]] = defaultdict(list)
    shown: list[ResourceRow] = []
    open_total = Decimal("0")
    learner_set = {row[0] for row in learners}
    for r in resources:
        others = r.owner_id not in learner_set
        if r.state in live_states:
            live_lab.add((r.owner_id, r.lab))
            totals.live_resources += 1
            totals.others_live += others
        elif r.state == State.STOPPED:
            totals.stopped_resources += 1
        if r.state in live_states or r.state == State.STOPPED:  # In the cloud (in_cloud).
            totals.by_region[r.region] = totals.by_region.get(r.region, 0) + 1
        if r.state != State.DELETED:
            current_owners.add(r.owner_id)
        # What an open billing period has accrued is not in the settled sums yet.
        if r.billing_open:
            totals.billing_now += 1
            totals.gpus_billing += pricing.is_gpu(r.instance_type)
            totals.hourly_usd += r.hourly_usd
            if others:
                totals.others_hourly_usd += r.hourly_usd
            spend[r.owner_id] += r.accrued_usd - r.settled_usd
            open_total += r.accrued_usd - r.settled_usd
        if filters.matches(r):
            by_owner[r.owner_id].append(r)
            shown.append(r)
    totals.spend_usd = settled_total + open_total
    totals.others_spend_usd = sum(
        (amount for owner, amount in spend.items() if owner not in learner_set), Decimal("0")
    )

    passed, not_yet = LabCheck.State.PASSED, LabCheck.State.NOT_YET
    lesson_keys = [(lesson["id"], lesson["lab"]) for lesson in lessons]
    show_all = filters.is_default
    zero = Decimal("0")
    rows: list[LearnerRow] = []
    for user_id, username, first, last, _ in learners:
        done_set = completed.get(user_id, empty)
        tick_set = ticked.get(user_id, empty)
        cells = []
        done = stuck = 0
        for lesson_id, lab in lesson_keys:
            if lesson_id in done_set:
                state = DONE
            elif not lab:
                state = IN_PROGRESS if lesson_id in tick_set else NOT_STARTED
            else:
                key = (user_id, lab)
                check = latest_check.get(key)
                check_state = check[1] if check else None
                if check_state == passed:
                    state = DONE
                elif check_state == not_yet or (key in failed_lab and key not in live_lab):
                    state = STUCK
                elif check or key in touched_lab or lesson_id in tick_set:
                    state = IN_PROGRESS
                else:
                    state = NOT_STARTED
            if state is DONE:
                done += 1
            elif state is STUCK:
                stuck += 1
            cells.append(state)
        totals.done_cells += done
        totals.stuck_cells += stuck
        mine = by_owner.get(user_id, [])
        if not show_all and not mine:
            continue
        rows.append(
            LearnerRow(
                user_id,
                username,
                f"{first} {last}".strip(),
                last_seen.get(user_id),
                cells,
                done,
                mine,
                spend.get(user_id, zero),
                user_id in current_owners,
            )
        )
    return Dashboard(
        cohort=cohort,
        lab_settings=lab_settings,
        filters=filters,
        lessons=lessons,
        learners=rows,
        resources=shown,
        totals=totals,
        alerts=_alerts(lab_settings, resources, totals, now),
        operations=operation_list_recent(cohort),
        now=now,
    )
