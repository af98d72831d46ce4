"""Our own cloud errors: whether a retry can help, and a sentence a learner can read.

Everything in `labs.cloud` raises `CloudError` subclasses only. `translate` turns botocore's
exceptions into them; the original exception stays reachable as ``__cause__`` for the
logs, but the sentence in ``.message`` is built from the error code and a few parsed facts
(the IAM action, the quota name), never from request parameters or credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

__all__ = [
    "CloudError",
    "PermanentCloudError",
    "TransientCloudError",
    "error_code",
    "is_already_exists",
    "is_not_found",
    "translate",
    "translating",
]


class CloudError(Exception):
    """A cloud call failed. ``message`` is safe to show to a learner and to log."""

    retryable: bool = False

    def __init__(self, message: str, *, code: str = "", retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Celery pickles exceptions between processes; keep the keyword-only arguments.
        return (_rebuild, (type(self), self.message, self.code, self.retryable))


def _rebuild(cls: type[CloudError], message: str, code: str, retryable: bool) -> CloudError:
    return cls(message, code=code, retryable=retryable)


class TransientCloudError(CloudError):
    """Throttling, a 5xx, a dropped connection: the same call may well succeed later."""

    retryable = True


class PermanentCloudError(CloudError):
    """Validation, permissions, quotas, a taken name: retrying the same call will not help."""

    retryable = False


# --- Classification ----------------------------------------------------------------------

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
    }
)
SERVER_ERROR_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceUnavailableError",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "InternalServiceError",
        "InternalServiceException",
        "RequestTimeout",
        "RequestTimeoutException",
        "IDPCommunicationError",
        "Unavailable",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "Forbidden",
        "403",
        "AllAccessDisabled",
    }
)
BAD_CREDENTIALS_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
EXPIRED_CREDENTIALS_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFound",
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NoSuchBucket",
        "NoSuchKey",
        "NotFound",
        "404",
    }
)
VALIDATION_CODES = frozenset(
    {
        "ValidationException",
        "ValidationError",
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidParameterException",
        "InvalidParameterCombination",
        "InvalidArgument",
        "InvalidRequest",
        "MalformedPolicyDocument",
        "MalformedXML",
    }
)

# SageMaker answers "not found" with a ValidationException whose message says so.
_NOT_FOUND_MESSAGE = re.compile(
    r"could not find|not found|does not exist|RecordNotFound|cannot be found", re.IGNORECASE
)
_ALREADY_EXISTS_MESSAGE = re.compile(
    r"already exist|duplicate|must be unique|already in use", re.IGNORECASE
)
_ALREADY_EXISTS_CODES = frozenset(
    {
        "ResourceInUse",
        "ResourceInUseException",
        "EntityAlreadyExists",
        "BucketAlreadyOwnedByYou",
        "ResourceAlreadyExistsException",
        "AlreadyExistsException",
        "ConflictException",
    }
)

# "... is not authorized to perform: s3:CreateBucket on resource ..."
_DENIED_ACTION = re.compile(r"perform:?\s+([a-z0-9-]+:[A-Za-z0-9*]+)")
# "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances"
_QUOTA_NAME = re.compile(r"limit '([^']{1,120})'")
# Anything that looks like an access key id or a long opaque token is cut from messages.
_SECRETISH = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b|[A-Za-z0-9/+=]{40,}")


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError (or of one of ours), else ""."""
    if isinstance(exc, CloudError):
        return exc.code
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "") or "")
    return ""


def _client_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "") or "")


def _http_status(exc: ClientError) -> int:
    try:
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    except (TypeError, ValueError):
        return 0


def is_not_found(exc: BaseException) -> bool:
    """True when the error means "that resource is not there" (a value, not a failure)."""
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        return True
    if isinstance(exc, ClientError):
        message = _client_message(exc)
        if code in VALIDATION_CODES and _NOT_FOUND_MESSAGE.search(message):
            return True
        return _http_status(exc) == 404 and not code
    return False


def is_already_exists(exc: BaseException) -> bool:
    """True when a create call failed because the resource is already there (adopt it)."""
    code = error_code(exc)
    message = _client_message(exc) if isinstance(exc, ClientError) else ""
    if code in {"ResourceInUse", "ResourceInUseException", "ConflictException"}:
        # These codes also mean "busy"; only "already exists" wording means adopt.
        return bool(_ALREADY_EXISTS_MESSAGE.search(message)) or not message
    if code in _ALREADY_EXISTS_CODES:
        return True
    return code in VALIDATION_CODES and bool(_ALREADY_EXISTS_MESSAGE.search(message))


def _clean(text: str, limit: int = 300) -> str:
    text = _SECRETISH.sub("[redacted]", " ".join(text.split()))
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".!?…":
        text += "."
    return text


# --- Translation -------------------------------------------------------------------------


def translate(exc: BaseException, *, action: str = "") -> CloudError:
    """Turn any exception from a cloud call into one of ours.

    ``action`` is an IAM action such as ``"s3:CreateBucket"``, used in the sentence when the
    cloud refuses permission and its message does not name the action itself.
    """
    if isinstance(exc, CloudError):
        return exc
    if isinstance(exc, ClientError):
        return _translate_client_error(exc, action)
    if isinstance(exc, EndpointConnectionError | BotoConnectionError | HTTPClientError):
        return TransientCloudError(
            "The cloud endpoint could not be reached; we will try again shortly.",
            code="EndpointConnectionError",
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return PermanentCloudError(
            "The portal has no usable credentials for this cloud account; ask your "
            "instructor to check the account settings.",
            code="NoCredentials",
        )
    if isinstance(exc, NoRegionError):
        return PermanentCloudError("No cloud region was given for this call.", code="NoRegion")
    if isinstance(exc, ParamValidationError):
        names = sorted(set(re.findall(r"parameter ([A-Za-z0-9_.\[\]]+)", str(exc))))
        which = f" ({', '.join(names)})" if names else ""
        return PermanentCloudError(
            f"The request to the cloud had invalid parameters{which}.", code="ParamValidation"
        )
    if isinstance(exc, BotoCoreError):
        return PermanentCloudError(
            "Something unexpected went wrong while talking to the cloud.",
            code=type(exc).__name__,
        )
    if isinstance(exc, ConnectionError | TimeoutError):
        return TransientCloudError(
            "The connection to the cloud failed; we will try again shortly.",
            code=type(exc).__name__,
        )
    return PermanentCloudError(
        "Something unexpected went wrong while talking to the cloud.", code=type(exc).__name__
    )


def _translate_client_error(exc: ClientError, action: str) -> CloudError:
    code = error_code(exc)
    message = _client_message(exc)
    status = _http_status(exc)
    bucket = str(exc.response.get("Error", {}).get("BucketName", "") or "")

    if code in THROTTLING_CODES or status == 429:
        return TransientCloudError(
            "The cloud is receiving too many requests and asked us to slow down; "
            "we will try again shortly.",
            code=code or "Throttling",
        )
    if code in SERVER_ERROR_CODES or (status >= 500 and code not in VALIDATION_CODES):
        return TransientCloudError(
            "The cloud service had a temporary problem; we will try again shortly.",
            code=code or str(status),
        )
    if code in EXPIRED_CREDENTIALS_CODES:
        return TransientCloudError(
            "The temporary cloud credentials expired; we will get new ones and try again.",
            code=code,
        )
    if code in ACCESS_DENIED_CODES:
        match = _DENIED_ACTION.search(message)
        denied = match.group(1) if match else action
        if denied:
            text = (
                f"The cloud account refused this action: its role lacks permission for {denied}."
            )
        else:
            text = "The cloud account refused this action: its role lacks the permission."
        return PermanentCloudError(text, code=code)
    if code in BAD_CREDENTIALS_CODES:
        return PermanentCloudError(
            "The cloud did not accept the portal's credentials for this account; ask your "
            "instructor to check the account settings.",
            code=code,
        )
    if code in {"ResourceLimitExceeded", "LimitExceededException", "ServiceQuotaExceeded"}:
        match = _QUOTA_NAME.search(message)
        quota = f" ({match.group(1)})" if match else ""
        return PermanentCloudError(
            f"The cloud account has reached its quota{quota}. Stop or delete resources you "
            "no longer need, or ask your instructor to request a quota increase.",
            code=code,
        )
    if code == "TooManyBuckets":
        return PermanentCloudError(
            "The cloud account has reached its limit on the number of buckets; delete "
            "buckets you no longer need.",
            code=code,
        )
    if code == "BucketAlreadyExists":
        named = f" {bucket}" if bucket else ""
        return PermanentCloudError(
            f"The bucket name{named} is already taken by another AWS account. Bucket names "
            "are shared by everyone, so pick a different name.",
            code=code,
        )
    if code == "BucketAlreadyOwnedByYou":
        return PermanentCloudError(
            "A bucket with this name already exists in this cloud account; pick another name.",
            code=code,
        )
    if code == "InvalidBucketName":
        return PermanentCloudError(
            "The bucket name breaks S3's naming rules.",
            code=code,
        )
    if code in {"IllegalLocationConstraintException", "InvalidLocationConstraint"}:
        return PermanentCloudError(
            "The bucket's region does not match the region of the request.", code=code
        )
    if code == "BucketNotEmpty":
        return TransientCloudError(
            "The bucket still holds objects; we will empty it and try again.", code=code
        )
    if code in {"NoSuchBucket"}:
        return PermanentCloudError("The bucket does not exist.", code=code)
    if code in {"NoSuchKey"}:
        return PermanentCloudError("The object does not exist in the bucket.", code=code)
    if code in NOT_FOUND_CODES:
        detail = _clean(message)
        return PermanentCloudError(
            _sentence(f"The cloud resource was not found: {detail}")
            if detail and detail not in {"Not Found", code}
            else "The cloud resource was not found.",
            code=code,
        )
    if code in {"ResourceInUse", "ResourceInUseException", "ConflictException"}:
        detail = _clean(message)
        return PermanentCloudError(
            _sentence(f"The cloud resource is in use or busy: {detail}")
            if detail
            else "The cloud resource is in use or busy.",
            code=code,
        )
    if code in VALIDATION_CODES or status == 400:
        detail = _clean(message)
        return PermanentCloudError(
            _sentence(f"The cloud rejected the request: {detail}")
            if detail
            else "The cloud rejected the request as invalid.",
            code=code or str(status),
        )
    detail = _clean(message)
    label = f" ({code})" if code else ""
    return PermanentCloudError(
        _sentence(f"The cloud refused the request{label}: {detail}")
        if detail
        else f"The cloud refused the request{label}.",
        code=code,
    )


@contextmanager
def translating(action: str = "") -> Iterator[None]:
    """Raise our errors instead of botocore's inside the block."""
    try:
        yield
    except CloudError:
        raise
    except (BotoCoreError, ClientError, ConnectionError, TimeoutError) as exc:
        raise translate(exc, action=action) from exc
