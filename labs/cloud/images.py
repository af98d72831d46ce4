"""Container image URIs of SageMaker's built-in algorithms, from the sagemaker SDK.

The SDK holds AWS's table of per-region registries; we ask it rather than keep our own
copy. ``import sagemaker`` takes a few seconds, so it happens on first use, once per
process, and every answer is cached.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings

from labs.cloud.errors import PermanentCloudError

__all__ = ["DEFAULT_XGBOOST_VERSION", "xgboost_image_uri"]

DEFAULT_XGBOOST_VERSION = "1.7-1"

_import_lock = threading.Lock()


def _image_uris():  # type: ignore[no-untyped-def]
    # The SDK announces its v3 on import (a warning and a log line) and logs where it looked
    # for config files; that is for people typing at a prompt, not for a worker's log.
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    nudge = logging.getLogger("sagemaker.deprecations")
    with _import_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        level = nudge.level
        nudge.setLevel(logging.ERROR)
        try:
            from sagemaker import image_uris
        finally:
            nudge.setLevel(level)
        return image_uris


def preload() -> None:
    """Import the SDK now. Celery calls this in the worker's parent process before it
    forks its pool, so no child pays the several seconds the import takes."""
    _image_uris()


@functools.lru_cache(maxsize=256)
def xgboost_image_uri(region: str, version: str = DEFAULT_XGBOOST_VERSION) -> str:
    """The built-in XGBoost algorithm's image for ``region``, as the sagemaker SDK gives it.

    Raises PermanentCloudError with a sentence when the region or version is not supported.
    """
    image_uris = _image_uris()
    try:
        return str(image_uris.retrieve("xgboost", region=region, version=version))
    except ValueError as exc:
        text = str(exc)
        if "region" in text.lower():
            raise PermanentCloudError(
                f"The built-in XGBoost algorithm is not available in region {region}; "
                "pick another region.",
                code="UnsupportedRegion",
            ) from exc
        raise PermanentCloudError(
            f"XGBoost version {version} is not one the built-in algorithm offers.",
            code="UnsupportedVersion",
        ) from exc
