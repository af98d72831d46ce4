"""State changes for accounts and cohorts."""

import csv
import io
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from portal.models import Cohort, Enrolment
from portal.selectors import enrolments_first_to_last

User = get_user_model()

CSV_COLUMNS = ("name", "email", "role")


@dataclass(frozen=True)
class EnrolledUser:
    username: str
    email: str
    role: str
    password: str | None  # Set only when the account was created by this import.
    # A learner's labs run in their first cohort: named here when that is another one.
    labs_cohort: str | None = None


class CohortImportError(Exception):
    """The CSV cannot be imported; the message says which line and why."""


def _parse_enrolment_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [column.strip().lower() for column in reader.fieldnames or []]
    if tuple(header[:3]) != CSV_COLUMNS:
        raise CohortImportError(
            f"The first line must be the header 'name,email,role' (found {','.join(header)!r})."
        )
    rows = []
    seen = set()
    for line_number, raw in enumerate(reader, start=2):
        row = {key.strip().lower(): (value or "").strip() for key, value in raw.items() if key}
        email = row["email"].lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CohortImportError(
                f"Line {line_number}: {email!r} is not an email address."
            ) from None
        role = row["role"].lower()
        if role not in Enrolment.Role.values:
            raise CohortImportError(
                f"Line {line_number}: role must be 'learner' or 'instructor', not {row['role']!r}."
            )
        if email in seen:
            raise CohortImportError(f"Line {line_number}: {email} appears twice.")
        seen.add(email)
        rows.append({"name": row["name"], "email": email, "role": role})
    if not rows:
        raise CohortImportError("The CSV has a header but no people.")
    return rows


@transaction.atomic
def cohort_enrol_from_csv(*, cohort_name: str, csv_text: str) -> tuple[Cohort, list[EnrolledUser]]:
    """Create (or reuse) a cohort and enrol everyone in the CSV.

    New accounts get a random one-time password, returned so the caller can hand it
    out; existing accounts keep theirs. Nothing is written if any line is invalid.
    """
    rows = _parse_enrolment_csv(csv_text)
    slug = slugify(cohort_name)[:60]
    if not slug:
        raise CohortImportError("The cohort name needs at least one letter or digit.")
    cohort, _ = Cohort.objects.get_or_create(slug=slug, defaults={"name": cohort_name})
    enrolled = []
    for row in rows:
        user = User.objects.filter(email__iexact=row["email"]).first()
        password = None
        if user is None:
            first, _, last = row["name"].partition(" ")
            password = one_time_password()
            user = User.objects.create_user(
                username=row["email"],
                email=row["email"],
                password=password,
                first_name=first[:150],
                last_name=last[:150],
            )
        Enrolment.objects.update_or_create(
            cohort=cohort, user=user, defaults={"role": row["role"]}
        )
        first_cohort = enrolments_first_to_last(user).select_related("cohort").first().cohort
        labs_cohort = first_cohort.name if first_cohort.pk != cohort.pk else None
        enrolled.append(
            EnrolledUser(user.username, row["email"], row["role"], password, labs_cohort)
        )
    return cohort, enrolled


# Letters and digits that cannot be mistaken for one another when read off a sheet.
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def one_time_password(length: int = 12) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


DEMO_COHORT = "Demo cohort"
DEMO_PASSWORD = "learn-the-cloud"
DEMO_USERS = (
    ("instructor", "Ada Instructor", Enrolment.Role.INSTRUCTOR),
    ("learner1", "Lin Learner", Enrolment.Role.LEARNER),
    ("learner2", "Sam Learner", Enrolment.Role.LEARNER),
)


@transaction.atomic
def demo_setup() -> Cohort:
    """The demo cohort with one instructor and two learners; safe to run again."""
    cohort, _ = Cohort.objects.get_or_create(slug="demo", defaults={"name": DEMO_COHORT})
    for username, full_name, role in DEMO_USERS:
        first, _, last = full_name.partition(" ")
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.com", "first_name": first, "last_name": last},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        Enrolment.objects.update_or_create(cohort=cohort, user=user, defaults={"role": role})
    return cohort


def demo_users_lock() -> list[str]:
    """Demo users who still have the public password can no longer log in (their
    password is unusable until an administrator sets one); returns their usernames."""
    locked = []
    for user in User.objects.filter(username__in=[name for name, _, _ in DEMO_USERS]).order_by(
        "username"
    ):
        if user.check_password(DEMO_PASSWORD):
            user.set_unusable_password()
            user.save(update_fields=["password"])
            locked.append(user.username)
    return locked
