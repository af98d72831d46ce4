"""The HTTP front door: answers what localcloud handles itself, passes the rest to moto."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from localcloud import moto_patches, validation
from localcloud.errors import AwsError
from localcloud.operations import SageMakerOperations, simulate_principal_policy

logger = logging.getLogger("localcloud.gateway")

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/")
_REGIONAL_JSON_SERVICES = {"sagemaker", "logs"}

StartResponse = Callable[..., Any]


def _scope(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key, region, service) of a SigV4-signed request."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = (query.get("X-Amz-Credential") or [""])[0]
        parts = credential.split("/")
        if len(parts) >= 4:
            return parts[0], parts[2], parts[3]
        return None
    return match.group(1), match.group(2), match.group(3)


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    # moto reads the body again.
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _json_response(start_response: StartResponse, status: int, payload: dict[str, Any]) -> list:
    body = json.dumps(payload, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [body]


def _json_error(start_response: StartResponse, error: AwsError) -> list:
    return _json_response(
        start_response, error.status, {"__type": error.code, "message": error.message}
    )


def _xml_response(start_response: StartResponse, status: int, body: str) -> list:
    data = body.encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _xml_error(start_response: StartResponse, error: AwsError) -> list:
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return _xml_response(start_response, error.status, body)


def _s3_error(start_response: StartResponse, error: AwsError) -> list:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return _xml_response(start_response, error.status, body)


class Gateway:
    def __init__(
        self,
        moto_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        sagemaker: SageMakerOperations,
        on_s3_change: Callable[[], None],
    ) -> None:
        self.moto_app = moto_app
        self.sagemaker = sagemaker
        self.on_s3_change = on_s3_change
        self._s3_regions = validation.known_regions("s3")
        self._regions = {
            service: moto_patches.known_regions(service) for service in _REGIONAL_JSON_SERVICES
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        scope = _scope(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        if scope is not None:
            access_key, region, service = scope
            if service in _REGIONAL_JSON_SERVICES and region not in self._regions[service]:
                # moto has no backend for the region and would crash with a 500.
                return _json_error(
                    start_response,
                    AwsError(
                        "InvalidSignatureException",
                        f"Credential should be scoped to a valid region, not '{region}'.",
                    ),
                )
            if service == "s3" and region not in self._s3_regions:
                return _s3_error(
                    start_response,
                    AwsError(
                        "AuthorizationHeaderMalformed",
                        f"The authorization header is malformed; the region '{region}' is "
                        "wrong; expecting 'us-east-1'",
                    ),
                )
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if service == "sagemaker" and target.startswith("SageMaker."):
                answered = self._sagemaker(environ, start_response, access_key, region, target)
                if answered is not None:
                    return answered
            elif service == "iam" and method == "POST":
                answered = self._iam(environ, start_response, access_key)
                if answered is not None:
                    return answered
            elif service == "s3" and method not in ("GET", "HEAD"):
                return self._then(self.moto_app(environ, start_response), self.on_s3_change)
        return self.moto_app(environ, start_response)

    @staticmethod
    def _then(response: Iterable[bytes], callback: Callable[[], None]) -> Iterable[bytes]:
        try:
            yield from response
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()
            callback()

    def _sagemaker(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        access_key: str,
        region: str,
        target: str,
    ) -> list | None:
        operation = target.split(".", 1)[1]
        body = _read_body(environ)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return None
        account = moto_patches.account_for_access_key(access_key)
        try:
            answer = self.sagemaker.handle(operation, account, region, params)
        except AwsError as error:
            return _json_error(start_response, error)
        if answer is None:
            return None
        return _json_response(start_response, 200, answer)

    def _iam(
        self, environ: dict[str, Any], start_response: StartResponse, access_key: str
    ) -> list | None:
        body = _read_body(environ)
        params = parse_qs(body.decode("utf-8", errors="replace"))
        if (params.get("Action") or [""])[0] != "SimulatePrincipalPolicy":
            return None
        account = moto_patches.account_for_access_key(access_key)
        try:
            results = simulate_principal_policy(account, params)
        except AwsError as error:
            return _xml_error(start_response, error)
        members = "".join(
            "<member>"
            + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in result.items())
            + "<MatchedStatements/><MissingContextValues/></member>"
            for result in results
        )
        body_xml = (
            '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
            f"<EvaluationResults>{members}</EvaluationResults>"
            "</SimulatePrincipalPolicyResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</SimulatePrincipalPolicyResponse>"
        )
        return _xml_response(start_response, 200, body_xml)
