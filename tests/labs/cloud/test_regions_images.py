"""Region table and the built-in XGBoost image URIs, checked against boto3 and the SDK."""

from __future__ import annotations

import re
import warnings

import boto3
import pytest

from labs.cloud.errors import PermanentCloudError
from labs.cloud.images import xgboost_image_uri
from labs.cloud.regions import REGIONS, is_known_region, region_label, region_name


def test_at_least_fifteen_real_sagemaker_regions_are_listed() -> None:
    sagemaker_regions = set(boto3.session.Session().get_available_regions("sagemaker"))

    assert len(REGIONS) >= 15
    assert set(REGIONS) <= sagemaker_regions
    assert all(re.fullmatch(r"[a-z]{2}-[a-z]+-\d", code) for code in REGIONS)


def test_region_names() -> None:
    assert region_name("us-east-1") == "US East (N. Virginia)"
    assert region_name("eu-west-1") == "Europe (Ireland)"
    assert region_name("xx-nowhere-9") == "xx-nowhere-9"
    assert region_label("eu-west-1") == "Europe (Ireland) · eu-west-1"
    assert is_known_region("ap-southeast-2")
    assert not is_known_region("us-east-9")


def test_image_uri_is_what_the_sagemaker_sdk_says_in_every_listed_region() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from sagemaker import image_uris

    for region in REGIONS:
        expected = image_uris.retrieve("xgboost", region=region, version="1.7-1")
        assert xgboost_image_uri(region) == expected, region
        assert f".dkr.ecr.{region}." in expected


def test_image_uri_differs_per_region_and_version() -> None:
    us = xgboost_image_uri("us-east-1")
    eu = xgboost_image_uri("eu-west-1")

    assert us != eu
    assert us.endswith("/sagemaker-xgboost:1.7-1")
    assert xgboost_image_uri("us-east-1", "1.5-1").endswith(":1.5-1")


def test_image_uri_is_cached() -> None:
    xgboost_image_uri("us-west-2")
    hits = xgboost_image_uri.cache_info().hits

    xgboost_image_uri("us-west-2")

    assert xgboost_image_uri.cache_info().hits == hits + 1


def test_unsupported_region_is_a_permanent_error_with_a_sentence() -> None:
    with pytest.raises(PermanentCloudError) as caught:
        xgboost_image_uri("xx-nowhere-1")

    assert caught.value.code == "UnsupportedRegion"
    assert caught.value.message == (
        "The built-in XGBoost algorithm is not available in region xx-nowhere-1; "
        "pick another region."
    )


def test_unsupported_version_is_a_permanent_error() -> None:
    with pytest.raises(PermanentCloudError) as caught:
        xgboost_image_uri("us-east-1", "9.9-9")

    assert caught.value.code == "UnsupportedVersion"
