"""Cloud names: S3's bucket naming rules, and deterministic names for what the portal makes.

A name derived only from our own keys (cohort, learner, lab, attempt) means a retried task
asks for the same name again, so "already exists" tells it to adopt what the first try
made instead of making a second one. A short hash of all the inputs keeps two different
keys from ever sharing a name, even when their readable parts were cut to fit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "SAGEMAKER_NAME",
    "bucket_name_problem",
    "is_valid_sagemaker_name",
    "proposed_bucket_name",
    "resource_name",
]

# SageMaker's pattern for training job, transform job, model and notebook instance names.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
SAGEMAKER_MAX = 63
BUCKET_MIN, BUCKET_MAX = 3, 63

_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_IP_LIKE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as an S3 general-purpose bucket name, or None if nothing.

    The rules are those of the S3 user guide ("General purpose bucket naming rules").
    """
    if not BUCKET_MIN <= len(name) <= BUCKET_MAX:
        return (
            f"A bucket name must be between {BUCKET_MIN} and {BUCKET_MAX} characters long; "
            f"this one has {len(name)}."
        )
    if not _BUCKET_CHARS.match(name):
        return (
            "A bucket name may contain only lowercase letters, digits, hyphens (-) and "
            "dots (.); no capitals, underscores or spaces."
        )
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "A bucket name must begin and end with a lowercase letter or a digit."
    if ".." in name:
        return "A bucket name must not contain two dots in a row."
    if _IP_LIKE.match(name):
        return "A bucket name must not look like an IP address (such as 192.168.5.4)."
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f'A bucket name must not start with "{prefix}": AWS reserves that prefix.'
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f'A bucket name must not end with "{suffix}": AWS reserves that suffix.'
    return None


def is_valid_sagemaker_name(name: str) -> bool:
    return bool(SAGEMAKER_NAME.match(name))


def _digest(*parts: object, length: int = 8) -> str:
    # The unit separator cannot occur in our inputs, so ("a", "bc") and ("ab", "c") differ.
    joined = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:length]


def _slug(value: object, limit: int) -> str:
    """Lowercase ASCII letters and digits joined by single hyphens, at most ``limit`` long."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:limit].strip("-")


def proposed_bucket_name(
    *, cohort_slug: str, username: str, user_id: int, region: str, attempt: int = 1
) -> str:
    """A valid bucket name for this learner in this region, the same every time for the
    same ``attempt`` (a learner who deleted their bucket gets the next attempt's name).

    Bucket names are global across all AWS accounts, so the name carries a hash of all the
    inputs; the region is part of it because a learner may have a bucket in each region.
    """
    extra = (attempt,) if attempt > 1 else ()  # The first attempt keeps its old name.
    digest = _digest("bucket", cohort_slug, username, user_id, region, *extra)
    region_part = _slug(region, 16)
    # "lab-" + cohort + "-" + user + "-" + region + "-" + hash, within 63 characters.
    room = BUCKET_MAX - len("lab") - len(region_part) - len(digest) - 4
    cohort = _slug(cohort_slug, min(16, room // 2))
    # Bucket names are public (they are DNS names): of an email, only the part before @.
    readable = username.split("@", 1)[0]
    user = _slug(readable, room - len(cohort)) or f"u{user_id}"[: max(room - len(cohort), 1)]
    parts = ["lab", cohort, user, region_part, digest]
    name = "-".join(part for part in parts if part)
    if len(name) > BUCKET_MAX:  # Cannot happen with the budget above; kept as a guard.
        name = f"lab-{digest}-{_digest(name)}"
    return name


_KIND_ABBREVIATIONS = {
    "bucket": "bkt",
    "notebook": "nb",
    "notebook_instance": "nb",
    "notebook-instance": "nb",
    "training": "train",
    "training_job": "train",
    "training-job": "train",
    "model": "model",
    "transform": "xform",
    "transform_job": "xform",
    "transform-job": "xform",
}


def resource_name(*, kind: str, cohort_slug: str, user_id: int, lab: str, attempt: int) -> str:
    """A SageMaker-valid name (training/transform job, model, notebook instance), ≤ 63.

    Same inputs give the same name; different inputs give different names, because a hash of
    all of them ends the name. The readable parts only help a human reading a console.
    """
    digest = _digest(kind, cohort_slug, user_id, lab, attempt)
    kind_part = _KIND_ABBREVIATIONS.get(kind) or _slug(kind, 8) or "res"
    user_part = f"u{user_id}"
    attempt_part = f"a{attempt}"
    fixed = [kind_part, user_part, attempt_part, digest]
    room = SAGEMAKER_MAX - sum(len(p) for p in fixed) - 5  # five hyphens between six parts
    cohort = _slug(cohort_slug, min(14, max(room // 2, 0)))
    lab_part = _slug(lab, max(room - len(cohort), 0))
    parts = [kind_part, cohort, user_part, lab_part, attempt_part, digest]
    name = "-".join(part for part in parts if part)
    if len(name) > SAGEMAKER_MAX:  # Only with absurd user ids or attempts.
        name = f"{kind_part}-{digest}{_digest(name, length=16)}"[:SAGEMAKER_MAX]
    return name
