"""Request checks AWS makes on the server side and moto skips.

The constraints (enums such as instance types, name patterns, lengths, ranges) come from
botocore's copy of each service's API model, which is what AWS itself validates against,
so the lists stay current with the pinned botocore instead of going stale in our code.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape


@functools.cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        # Some AWS patterns use Java-only syntax (\p{...}); AWS still checks them, we can't.
        return None


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if value is None:
        return
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return
        for name, member in shape.members.items():
            if name in value:
                child = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
                _check(member, value[name], child, errors)
        return
    if isinstance(shape, ListShape):
        if isinstance(value, list):
            for index, item in enumerate(value, start=1):
                _check(shape.member, item, f"{path}.{index}.member", errors)
        return
    if isinstance(shape, MapShape):
        return
    meta = shape.metadata
    if shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(shape.enum)}]"
            )
            return
        if "min" in meta and len(value) < meta["min"]:
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                f"length greater than or equal to {meta['min']}"
            )
        if "max" in meta and len(value) > meta["max"]:
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                f"length less than or equal to {meta['max']}"
            )
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {meta['pattern']}"
            )
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                f"value greater than or equal to {meta['min']}"
            )
        if "max" in meta and value > meta["max"]:
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                f"value less than or equal to {meta['max']}"
            )


def request_errors(service: str, operation: str, params: dict[str, Any]) -> str | None:
    """AWS's "N validation errors detected" message for params, or None when they pass."""
    try:
        shape = _service_model(service).operation_model(operation).input_shape
    except Exception:
        return None
    if shape is None:
        return None
    errors: list[str] = []
    _check(shape, params, "", errors)
    if not errors:
        return None
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)


def enum_error(service: str, shape_name: str, value: str, path: str) -> str | None:
    shape = _service_model(service).shape_for(shape_name)
    if value in shape.enum:
        return None
    return (
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(shape.enum)}]"
    )


@functools.cache
def known_regions(service: str) -> frozenset[str]:
    """Every region of every partition where botocore knows the service."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions(service, partition_name=partition)
    )


_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def is_valid_bucket_name(name: str) -> bool:
    """S3's general purpose bucket naming rules."""
    if not 3 <= len(name) <= 63 or not _BUCKET_CHARS.fullmatch(name):
        return False
    if ".." in name or ".-" in name or "-." in name:
        return False
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        return False
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return True
    return False
