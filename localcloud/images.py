"""Which container images localcloud can run: the built-in XGBoost algorithm, per region.

The accepted URIs are exactly what `sagemaker.image_uris.retrieve("xgboost", region,
version)` returns. They are computed from the SDK's bundled JSON config, read as a file so
that the slow `import sagemaker` never happens here; without the SDK a small copy of the
table for common regions is used.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

# Used only when the sagemaker SDK is not installed: the registries of the
# `sagemaker-xgboost` repository (versions 1.2-1 and later) for the usual lab regions.
_FALLBACK_REGISTRIES = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "eu-central-1": "492215442770",
    "eu-north-1": "662702820516",
    "ap-south-1": "720646828776",
    "ap-northeast-1": "354813040037",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ca-central-1": "341280168497",
    "sa-east-1": "737474898029",
}
_FALLBACK_VERSIONS = ("1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1", "3.0-5")

_URI = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.[a-z0-9.]+/"
    r"(?P<repository>[a-z0-9-]+):(?P<tag>[A-Za-z0-9._-]+)"
)


@functools.cache
def _resolver() -> Any:
    import botocore.loaders
    import botocore.regions

    return botocore.regions.EndpointResolver(
        botocore.loaders.create_loader().load_data("endpoints")
    )


def _ecr_host(region: str) -> str:
    """ECR's hostname in region, resolved as the SDK resolves it (partition DNS suffix)."""
    endpoint = _resolver().construct_endpoint("ecr", region)
    return endpoint["hostname"] if endpoint else f"ecr.{region}.amazonaws.com"


def _sdk_config() -> dict[str, Any] | None:
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "image_uri_config" / "xgboost.json"
        if path.is_file():
            return json.loads(path.read_text())
    return None


def _tags(version: str, config: dict[str, Any], scope: str) -> list[str]:
    if scope == "inference_graviton":
        return [f"{version}-arm64"]
    processors = config.get("processors") or [None]
    py_versions = config.get("py_versions") or [None]
    return [
        "-".join(part for part in (version, processor, py) if part)
        for processor in processors
        for py in py_versions
    ]


@functools.cache
def xgboost_images() -> dict[str, dict[str, str]]:
    """{region: {image URI: framework version}} for the built-in XGBoost algorithm."""
    images: dict[str, dict[str, str]] = {}
    config = _sdk_config()
    if config is None:
        for region, account in _FALLBACK_REGISTRIES.items():
            for version in _FALLBACK_VERSIONS:
                uri = f"{account}.dkr.{_ecr_host(region)}/sagemaker-xgboost:{version}"
                images.setdefault(region, {})[uri] = version
        return images
    for scope, scope_config in config.items():
        for version, version_config in scope_config["versions"].items():
            repository = version_config["repository"]
            for region, account in version_config["registries"].items():
                for tag in _tags(version, version_config, scope):
                    uri = f"{account}.dkr.{_ecr_host(region)}/{repository}:{tag}"
                    images.setdefault(region, {})[uri] = version
    return images


def image_region(uri: str) -> str | None:
    match = _URI.fullmatch(uri)
    return match["region"] if match else None


def check_xgboost_image(uri: str, region: str, what: str) -> str | None:
    """None when uri is the built-in XGBoost image for region, else a message saying why not."""
    if uri in xgboost_images().get(region, {}):
        return None
    other = image_region(uri)
    if other and other != region and uri in xgboost_images().get(other, {}):
        return (
            f"{what} '{uri}' is the XGBoost image of region {other}, but this request is in "
            f"{region}. Use sagemaker.image_uris.retrieve('xgboost', '{region}', "
            f"'{xgboost_images()[other][uri]}')."
        )
    return (
        f"{what} '{uri}' does not exist or is not supported by localcloud, which runs only "
        f"the built-in XGBoost algorithm. Use sagemaker.image_uris.retrieve('xgboost', "
        f"'{region}', '1.7-1')."
    )
