from django import template
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from labs.actions import STOPPABLE
from labs.drivers import JUPYTER_SESSION_HOURS
from labs.models import CloudResource
from labs.services.expiry import GRACE
from labs.status_text import status_sentence

register = template.Library()

CHART_WIDTH, CHART_HEIGHT, PAD = 320, 120, 8


@register.filter
def poll_token(resource) -> str:
    from labs.poll_tokens import poll_token as make_token

    return make_token(resource_id=resource.pk, owner_id=resource.owner_id)


@register.filter
def explain_status(resource) -> str:
    """The sentence beside a resource's cloud status."""
    return status_sentence(
        kind=resource.kind,
        state=resource.state,
        cloud_status=resource.cloud_status,
        secondary_status=resource.secondary_status,
    )


# What the lab time deletes along with each kind.
_LOST_WITH = {"notebook": " with its files", "bucket": " with the data in it"}


@register.filter
def expiry_note(resource) -> str:
    """What the cohort's lab time will do to a resource, and when."""
    if not resource.expires_at or resource.state in ("deleting", "deleted", "stopping"):
        return ""
    when = date_format(localtime(resource.expires_at), "M j, H:i T")
    if resource.never_made:
        return f"removed from your list at {when} (the cloud never made it)"
    lost = _LOST_WITH.get(resource.kind, "")
    # Running, a kind that can be stopped is stopped first (to stop billing), then
    # deleted after the grace period.
    if resource.kind in STOPPABLE and resource.state in CloudResource.LIVE_STATES:
        grace = int(GRACE.total_seconds() // 60)
        return f"stopped at {when}, then deleted {grace} minutes later{lost}"
    return f"deleted at {when}{lost}"


@register.simple_tag
def jupyter_link_note() -> str:
    return (
        f"On AWS the link works for 5 minutes, and JupyterLab then stays signed in for "
        f"{JUPYTER_SESSION_HOURS} hours (localcloud's link does not expire); click “Get a "
        "JupyterLab link” again for a new one."
    )


@register.filter
def log_line(line: str) -> str:
    """A CloudWatch line as the program wrote it: CloudWatch shows a tab as "#011"."""
    return line.replace("#011", "\t")


@register.simple_tag
def metric_chart(metrics: dict, name: str):
    """An inline SVG line of one metric per round (no JavaScript, no external files)."""
    points = metrics.get(name) or []
    if not points:
        return ""
    if len(points) == 1:
        # One round draws no line: the value is said instead.
        ((round_number, value),) = points
        return format_html(
            '<p class="chart-single">{} after round {}: <strong>{}</strong>. '
            "A line is drawn from the second round on.</p>",
            name,
            int(round_number) + 1,  # XGBoost logs count from 0, the card from 1.
            f"{value:.4g}",
        )
    rounds = [p[0] for p in points]
    values = [p[1] for p in points]
    low, high = min(values), max(values)
    span_x = (max(rounds) - min(rounds)) or 1
    span_y = (high - low) or 1

    def xy(r, v):
        x = PAD + (r - min(rounds)) / span_x * (CHART_WIDTH - 2 * PAD)
        y = CHART_HEIGHT - PAD - (v - low) / span_y * (CHART_HEIGHT - 2 * PAD)
        return f"{x:.1f},{y:.1f}"

    path = " ".join(xy(r, v) for r, v in points)
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-label">{}</text>',
        [(PAD, 14, f"{high:.4g}"), (PAD, CHART_HEIGHT - 2, f"{low:.4g}")],
    )
    description = (
        f"{name} by round: from {values[0]:.4g} at round {rounds[0]} "
        f"to {values[-1]:.4g} at round {rounds[-1]}"
    )
    return format_html(
        '<svg class="metric-chart" viewBox="0 0 {} {}" role="img" aria-label="{}">{}'
        '<polyline points="{}" fill="none" stroke="currentColor" stroke-width="2"/></svg>',
        CHART_WIDTH,
        CHART_HEIGHT,
        description,
        labels,
        path,
    )


@register.filter
def money(value) -> str:
    try:
        return f"${float(value):,.2f}" if float(value) >= 0.01 or float(value) == 0 else "<$0.01"
    except (TypeError, ValueError):
        return ""
