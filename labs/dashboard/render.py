"""The learners table, built as HTML in Python.

A cohort of 500 learners × 14 lessons is 7,000 cells; through the template engine each
costs several microseconds of node rendering, here a lookup of a prepared string. Every
value that comes from the database passes through `escape` (the standard library's, which
Django's own wraps; quotes are escaped too, so values are safe inside attributes).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from labs.dashboard.selectors import (
    DONE,
    IN_PROGRESS,
    NOT_STARTED,
    PROGRESS_LABELS,
    STUCK,
    Dashboard,
    LearnerRow,
    ResourceRow,
    duration_text,
)
from labs.dashboard.services import EXTEND_CHOICES
from labs.models import CloudResource

SYMBOLS = {DONE: "✓", IN_PROGRESS: "◐", STUCK: "!", NOT_STARTED: "·"}
# The symbol is for the eye; the word in <i> (visually hidden by dashboard.css) is what a
# screen reader reads.
CELLS = {
    state: f'<td class="p-{state}">{SYMBOLS[state]}<i> {PROGRESS_LABELS[state]}</i></td>'
    for state in SYMBOLS
}
KIND_LABELS = dict(CloudResource.Kind.choices)
BADGES = {
    state: f'<li><span class="badge badge-{state}">{label}</span>'
    for state, label in CloudResource.State.choices
}
ID_MARK = 987654321
HALF_CENT = Decimal("0.005")


def money(amount: Decimal) -> str:
    if 0 < amount < HALF_CENT:
        return "&lt;$0.01"
    return f"${amount:,.2f}"


def ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return '<span class="muted">never</span>'
    text = duration_text((now - at).total_seconds())
    text = "just now" if text == "<1 min" else f"{text} ago"
    return f'<time datetime="{at.isoformat()}">{text}</time>'


def resource_line(r: ResourceRow) -> str:
    status = f" <code>{escape(r.cloud_status)}</code>" if r.cloud_status else ""
    instance = f" · {escape(r.instance_type)}" if r.instance_type else ""
    return (
        f"{BADGES[r.state]}{status} {KIND_LABELS[r.kind]} · {escape(r.region)}{instance}"
        f" · {duration_text(r.age_seconds)} · {money(r.accrued_usd)}"
        f'<span class="vh"> ({escape(r.cloud_name)})</span></li>'
    )


class RowRenderer:
    def __init__(self, dashboard: Dashboard, *, csrf_token: str):
        cohort_id = dashboard.cohort.pk
        self.now = dashboard.now
        self.csrf = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
        )
        self.teardown_url = reverse("dashboard-learner-teardown", args=[cohort_id, ID_MARK])
        self.extend_url = reverse("dashboard-learner-extend", args=[cohort_id, ID_MARK])
        self.options = "".join(
            f'<option value="{m}"{" selected" if m == 60 else ""}>+{m} min</option>'
            for m in EXTEND_CHOICES
        )

    def actions(self, row: LearnerRow, who: str) -> str:
        """One form: "Extend" posts to its action, "Tear down" to its ``formaction``
        (both work without JavaScript); htmx posts each with its own confirmation.
        ``hx-target`` and ``hx-swap`` are inherited from the table."""
        if not row.has_current:
            return '<td class="acts"></td>'
        mark = str(ID_MARK)
        extend = self.extend_url.replace(mark, str(row.id))
        teardown = self.teardown_url.replace(mark, str(row.id))
        return (
            f'<td class="acts"><form method="post" action="{extend}">{self.csrf}'
            f'<label class="vh" for="ext-{row.id}">More time for {who}</label>'
            # Kept as chosen when the live table is swapped in every few seconds.
            f'<select id="ext-{row.id}" name="minutes" hx-preserve="true">{self.options}</select>'
            f'<button class="button secondary small-button" hx-post="{extend}" '
            f'hx-confirm="Give {who} more lab time on every resource?">Extend</button>'
            f'<button class="button danger small-button" formaction="{teardown}" '
            f'hx-post="{teardown}" hx-confirm="Delete every resource of {who}, in every '
            f'region?">Tear down<span class="vh"> {who}</span></button></form></td>'
        )

    def row(self, row: LearnerRow, lesson_count: int) -> str:
        who = escape(row.username)
        name = f'<span class="full-name">{escape(row.full_name)}</span>' if row.full_name else ""
        cells = "".join([CELLS[state] for state in row.cells])
        if row.resources:
            resources = (
                '<ul class="res-list">' + "".join(map(resource_line, row.resources)) + "</ul>"
            )
        else:
            resources = ""
        # What runs, what it costs and what to do about it come first: on a laptop they
        # are in view, and the lesson columns scroll.
        return (
            f'<tr id="learner-{row.id}"><th scope="row">{who}{name}</th>'
            f'<td class="last">{ago(row.last_activity, self.now)}</td>'
            f'<td class="res">{resources}</td>'
            f'<td class="num">{money(row.spend_usd)}</td>{self.actions(row, who)}'
            f'<td class="num">{row.done}/{lesson_count}</td>{cells}</tr>'
        )


def learner_rows_html(
    dashboard: Dashboard, rows: list[LearnerRow], *, csrf_token: str
) -> SafeString:
    renderer = RowRenderer(dashboard, csrf_token=csrf_token)
    count = len(dashboard.lessons)
    return mark_safe("".join([renderer.row(row, count) for row in rows]))
