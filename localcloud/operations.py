"""What localcloud answers itself before (or instead of) moto.

SageMaker: server-side request validation that moto skips, the image check, and the
operations moto does not implement. IAM: SimulatePrincipalPolicy.
"""

from __future__ import annotations

from typing import Any

from localcloud import images, moto_patches, validation
from localcloud.agent import Agent
from localcloud.errors import AwsError, validation_error

_VALIDATED = {
    "CreateTrainingJob",
    "CreateTransformJob",
    "CreateModel",
    "CreateNotebookInstance",
    "StopTrainingJob",
    "StopTransformJob",
    "CreatePresignedNotebookInstanceUrl",
}


class SageMakerOperations:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def handle(
        self, operation: str, account: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The response for operations answered here; None lets moto answer."""
        if operation in _VALIDATED:
            message = validation.request_errors("sagemaker", operation, params)
            if message:
                raise validation_error(message)
        if operation == "CreateTrainingJob":
            self._check_training_image(region, params)
        elif operation == "CreateModel":
            self._check_model_image(region, params)
        elif operation == "StopTrainingJob":
            self.agent.stop_training_job(account, region, params["TrainingJobName"])
            return {}
        elif operation == "StopTransformJob":
            self.agent.stop_transform_job(account, region, params["TransformJobName"])
            return {}
        elif operation == "CreatePresignedNotebookInstanceUrl":
            url = self.agent.presigned_notebook_url(
                account, region, params["NotebookInstanceName"]
            )
            return {"AuthorizedUrl": url}
        return None

    def _check_training_image(self, region: str, params: dict[str, Any]) -> None:
        spec = params.get("AlgorithmSpecification") or {}
        image = spec.get("TrainingImage")
        if not image:
            raise validation_error(
                "localcloud runs the built-in XGBoost algorithm only: give "
                "AlgorithmSpecification.TrainingImage (AlgorithmName is not supported)."
            )
        message = images.check_xgboost_image(image, region, "TrainingImage")
        if message:
            raise validation_error(message)

    def _check_model_image(self, region: str, params: dict[str, Any]) -> None:
        containers = [params.get("PrimaryContainer") or {}, *(params.get("Containers") or [])]
        for container in containers:
            image = container.get("Image")
            if image:
                message = images.check_xgboost_image(image, region, "Image")
                if message:
                    raise validation_error(message)


def simulate_principal_policy(account: str, params: dict[str, list[str]]) -> list[dict[str, str]]:
    """EvaluationResults for iam:SimulatePrincipalPolicy.

    localcloud enforces no IAM policy, so every action is allowed for a principal that
    exists; AWS's answer for a missing principal is NoSuchEntity.
    """
    source = (params.get("PolicySourceArn") or [""])[0]
    if not moto_patches.iam_principal_exists(account, source):
        raise AwsError("NoSuchEntity", f"The principal {source} cannot be found.", status=404)
    actions = _members(params, "ActionNames")
    if not actions:
        raise AwsError("ValidationError", "ActionNames is required.")
    resources = _members(params, "ResourceArns") or ["*"]
    return [
        {"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": "allowed"}
        for action in actions
        for resource in resources
    ]


def _members(params: dict[str, list[str]], name: str) -> list[str]:
    found = []
    index = 1
    while f"{name}.member.{index}" in params:
        found.append(params[f"{name}.member.{index}"][0])
        index += 1
    return found
