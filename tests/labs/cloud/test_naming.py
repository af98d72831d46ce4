"""Bucket naming rules, and deterministic names valid for S3 and SageMaker."""

from __future__ import annotations

import random
import string

import pytest

from labs.cloud.naming import (
    SAGEMAKER_NAME,
    bucket_name_problem,
    proposed_bucket_name,
    resource_name,
)
from labs.cloud.regions import REGIONS


@pytest.mark.parametrize(
    "name",
    [
        "abc",
        "my-bucket",
        "my.bucket.name",
        "a" * 63,
        "lab-2024-cohort-7",
        "1bucket",
        "bucket1",
        "xn-abc",  # only "xn--" is reserved
        "my-s3alias-bucket",  # reserved only as a suffix
        "192.168.1.1a",
    ],
)
def test_valid_bucket_names_have_no_problem(name: str) -> None:
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Bad_Name", "lowercase"),
        ("UPPER", "lowercase"),
        ("has space", "lowercase"),
        ("ab", "between 3 and 63"),
        ("a" * 64, "between 3 and 63"),
        ("", "between 3 and 63"),
        ("my..bucket", "two dots"),
        ("-bucket", "begin and end"),
        ("bucket-", "begin and end"),
        (".bucket", "begin and end"),
        ("192.168.1.1", "IP address"),
        ("xn--abc", '"xn--"'),
        ("sthree-bucket", '"sthree-"'),
        ("amzn-s3-demo-bucket", '"amzn-s3-demo-"'),
        ("bucket-s3alias", '"-s3alias"'),
        ("bucket--ol-s3", '"--ol-s3"'),
        ("bucket.mrap", '".mrap"'),
        ("bucket--x-s3", '"--x-s3"'),
        ("bucket--table-s3", '"--table-s3"'),
    ],
)
def test_invalid_bucket_names_get_a_sentence_saying_why(name: str, words: str) -> None:
    problem = bucket_name_problem(name)

    assert problem is not None
    assert words in problem
    assert problem.endswith(".")


def _random_text(rng: random.Random, max_length: int) -> str:
    alphabet = string.ascii_letters + string.digits + "-_. @+éüßø漢字" + "\t/"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_length)))


def test_proposed_bucket_names_are_valid_deterministic_and_distinct() -> None:
    rng = random.Random(7)
    regions = list(REGIONS)
    seen: dict[str, tuple[object, ...]] = {}
    for user_id in range(3000):
        inputs = {
            "cohort_slug": _random_text(rng, 80),
            "username": _random_text(rng, 160),
            "user_id": user_id,
            "region": rng.choice(regions),
        }

        name = proposed_bucket_name(**inputs)

        assert bucket_name_problem(name) is None, (inputs, name)
        assert len(name) <= 63
        assert proposed_bucket_name(**inputs) == name
        key = tuple(inputs.values())
        assert seen.setdefault(name, key) == key, f"{name} made for two inputs"


def test_proposed_bucket_name_reads_like_its_owner() -> None:
    name = proposed_bucket_name(
        cohort_slug="spring-2025", username="Alice.Smith", user_id=42, region="eu-west-1"
    )

    assert name.startswith("lab-spring-2025-alice-smith-eu-west-1-")


def test_proposed_bucket_name_does_not_publish_an_email_address() -> None:
    # Enrolled learners' usernames are their emails; bucket names are public DNS names.
    name = proposed_bucket_name(
        cohort_slug="spring", username="alice@example.com", user_id=3, region="us-east-1"
    )

    assert name.startswith("lab-spring-alice-us-east-1-")
    assert "example" not in name


def test_proposed_bucket_name_differs_per_region_and_learner() -> None:
    base = {"cohort_slug": "c1", "username": "bob", "user_id": 1, "region": "us-east-1"}

    names = {
        proposed_bucket_name(**base),
        proposed_bucket_name(**{**base, "region": "us-east-2"}),
        proposed_bucket_name(**{**base, "user_id": 2}),
        proposed_bucket_name(**{**base, "username": "bob2"}),
        proposed_bucket_name(**{**base, "cohort_slug": "c2"}),
    }

    assert len(names) == 5


def test_resource_names_are_valid_for_sagemaker_deterministic_and_distinct() -> None:
    rng = random.Random(11)
    kinds = ["notebook", "training_job", "model", "transform_job", "odd kind!", ""]
    seen: dict[str, tuple[object, ...]] = {}
    for _ in range(5000):
        inputs = {
            "kind": rng.choice(kinds),
            "cohort_slug": _random_text(rng, 70),
            "user_id": rng.choice([1, 7, 123456, 10**12, -3]),
            "lab": rng.choice(["L1", "L2", "L3-training", "", _random_text(rng, 90)]),
            "attempt": rng.randint(0, 10**6),
        }

        name = resource_name(**inputs)

        assert SAGEMAKER_NAME.match(name), (inputs, name)
        assert len(name) <= 63
        assert resource_name(**inputs) == name
        key = tuple(inputs.values())
        assert seen.setdefault(name, key) == key, f"{name} made for two inputs"


def test_resource_name_changes_with_every_input() -> None:
    base = {"kind": "training_job", "cohort_slug": "c", "user_id": 5, "lab": "L3", "attempt": 1}

    names = [
        resource_name(**base),
        resource_name(**{**base, "kind": "model"}),
        resource_name(**{**base, "cohort_slug": "d"}),
        resource_name(**{**base, "user_id": 6}),
        resource_name(**{**base, "lab": "L4"}),
        resource_name(**{**base, "attempt": 2}),
    ]

    assert len(set(names)) == len(names)
    assert names[0].startswith("train-c-u5-l3-a1-")
