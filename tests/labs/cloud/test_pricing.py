"""Price table and cost estimates (per-second billing, 4 decimals kept)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labs.cloud import pricing
from labs.cloud.pricing import (
    INSTANCE_TYPES,
    estimated_cost,
    format_usd,
    hourly_price,
    instance_type,
    is_gpu,
    notebook_only,
)


def test_table_holds_the_lab_instance_types() -> None:
    for name in [
        "ml.t3.medium",
        "ml.m5.large",
        "ml.m5.xlarge",
        "ml.c5.xlarge",
        "ml.c5.2xlarge",
        "ml.g4dn.xlarge",
        "ml.g5.xlarge",
        "ml.p3.2xlarge",
    ]:
        row = INSTANCE_TYPES[name]
        assert row.name == name
        assert row.hourly_usd > 0
        assert row.vcpus >= 2


def test_module_documents_source_and_date() -> None:
    doc = pricing.__doc__ or ""

    assert "pricing page" in doc
    assert "us-east-1" in doc
    assert pricing.PRICES_AS_OF in doc
    assert "ESTIMATES" in doc


def test_gpu_detection() -> None:
    assert is_gpu("ml.g4dn.xlarge")
    assert is_gpu("ml.p3.2xlarge")
    assert is_gpu("ml.g5.xlarge")
    assert not is_gpu("ml.m5.xlarge")
    assert not is_gpu("ml.t3.medium")
    assert is_gpu("ml.p4d.24xlarge")  # not in the table: judged by its family
    assert not is_gpu("ml.r5.large")


def test_burstable_types_are_for_notebooks_only() -> None:
    assert notebook_only("ml.t3.medium") and notebook_only("ml.t2.large")  # t2: not in table
    assert not notebook_only("ml.m5.large") and not notebook_only("ml.g4dn.xlarge")


def test_hourly_price_in_us_east_1_is_the_table_price() -> None:
    assert hourly_price("ml.m5.xlarge", "us-east-1") == Decimal("0.2300")


def test_other_regions_cost_a_little_more() -> None:
    assert hourly_price("ml.m5.xlarge", "eu-west-1") == Decimal("0.2553")  # 0.23 × 1.11
    assert hourly_price("ml.m5.xlarge", "sa-east-1") > hourly_price("ml.m5.xlarge", "eu-west-1")
    assert hourly_price("ml.m5.xlarge", "me-central-1") == Decimal("0.2875")  # default 1.25


def test_estimated_cost_is_per_second() -> None:
    assert estimated_cost("ml.m5.xlarge", "us-east-1", 3600) == Decimal("0.2300")
    # 90 s of a T4: 0.736 × 90 / 3600 = 0.0184
    assert estimated_cost("ml.g4dn.xlarge", "us-east-1", 90) == Decimal("0.0184")
    # 1 s of ml.m5.large: 0.115 / 3600 = 0.0000319… → 0.0000
    assert estimated_cost("ml.m5.large", "us-east-1", 1) == Decimal("0.0000")
    assert estimated_cost("ml.m5.large", "us-east-1", 0.5 * 3600, count=2) == Decimal("0.1150")
    assert estimated_cost("ml.m5.large", "us-east-1", -5) == Decimal("0")


def test_many_short_jobs_add_up_without_losing_cents() -> None:
    one = estimated_cost("ml.c5.xlarge", "us-east-1", 45)

    total = sum((one for _ in range(100)), Decimal(0))

    # Each job, 0.204 × 45 / 3600 = 0.00255, would round to $0.00 in cents; kept to four
    # decimals the 100 jobs add up to the true 0.255 within half a cent.
    assert one == Decimal("0.0026")
    assert abs(total - Decimal("0.255")) <= Decimal("0.005")
    assert format_usd(total) == "$0.26"


def test_format_usd() -> None:
    assert format_usd(Decimal("0.2553")) == "$0.26"
    assert format_usd(Decimal("0.0012")) == "<$0.01"
    assert format_usd(Decimal("0")) == "$0.00"
    assert format_usd(Decimal("1234.5")) == "$1,234.50"


def test_unknown_instance_type_says_so() -> None:
    with pytest.raises(ValueError, match="no price for instance type ml.x9.huge"):
        hourly_price("ml.x9.huge", "us-east-1")


def test_instance_label() -> None:
    assert (
        instance_type("ml.g4dn.xlarge").label == "ml.g4dn.xlarge — 4 vCPU, 16 GiB, 1 × NVIDIA T4"
    )
