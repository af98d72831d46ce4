"""localcloud accepts exactly the XGBoost images the sagemaker SDK names, per region."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud import images


@pytest.fixture(scope="module")
def sdk_config():
    import sagemaker

    path = Path(sagemaker.__file__).parent / "image_uri_config" / "xgboost.json"
    return json.loads(path.read_text())


def test_accepted_images_are_what_image_uris_retrieve_returns(sdk_config):
    from sagemaker import image_uris

    versions = sdk_config["training"]["versions"]
    # Every region for the version labs use, every version for a few regions (retrieve is slow).
    pairs = {(region, "1.7-1") for region in versions["1.7-1"]["registries"]}
    pairs |= {
        (region, version)
        for version, config in versions.items()
        for region in ("us-east-1", "eu-west-1", "cn-north-1")
        if region in config["registries"]
    }
    for region, version in sorted(pairs):
        expected = image_uris.retrieve("xgboost", region, version)
        assert expected in images.xgboost_images()[region], (region, version)
    assert len(pairs) > 50


def test_another_regions_image_names_both_regions():
    us_east = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert images.check_xgboost_image(us_east, "us-east-1", "TrainingImage") is None
    message = images.check_xgboost_image(us_east, "eu-west-1", "TrainingImage")
    assert "us-east-1" in message and "eu-west-1" in message
