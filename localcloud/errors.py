"""Errors that localcloud answers with, shaped as AWS shapes them."""

from __future__ import annotations


class AwsError(Exception):
    """An AWS error response: a code, a message and the HTTP status AWS uses for it."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def resource_in_use(message: str) -> AwsError:
    return AwsError("ResourceInUse", message)
