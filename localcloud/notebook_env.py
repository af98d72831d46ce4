"""The environment of a localcloud notebook's kernels, so SDK code written for AWS works.

- AWS_ENDPOINT_URL points every boto3 client at localcloud; region and (dummy, assumed-role)
  credentials are the notebook instance's.
- An IPython startup file redirects the sagemaker SDK's hard-coded STS URL (see
  kernel_startup.py).
- A sagemaker SDK config file turns telemetry off; SAGEMAKER_VALIDATE_ROLE=false spares
  SDK 3.x a role check.
"""

from __future__ import annotations

import shutil
from pathlib import Path

_SAGEMAKER_CONFIG = """\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def write_files(directory: Path) -> dict[str, str]:
    """Write the config files into directory; return the variables that point at them."""
    startup = directory / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("kernel_startup.py"), startup / "00-localcloud.py")
    sagemaker_config = directory / "sagemaker-config.yaml"
    sagemaker_config.write_text(_SAGEMAKER_CONFIG)
    aws_config = directory / "aws-config"
    aws_config.write_text("")
    return {
        "IPYTHONDIR": str(directory / "ipython"),
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(sagemaker_config),
        "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(sagemaker_config),
        # Learners' own ~/.aws files must not leak real credentials or endpoints in.
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_config),
    }


def kernel_environment(
    endpoint_url: str, region: str, credentials: dict[str, str], directory: Path
) -> dict[str, str]:
    """Variables for a notebook server whose kernels must reach localcloud."""
    env = write_files(directory)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials.get("SessionToken", ""),
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAGEMAKER_VALIDATE_ROLE": "false",
            "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        }
    )
    return env


def shell_exports(endpoint_url: str, region: str, directory: Path) -> str:
    """`export` lines for a learner's own shell or Jupyter, outside a localcloud notebook."""
    env = kernel_environment(
        endpoint_url,
        region,
        {"AccessKeyId": "testing", "SecretAccessKey": "testing", "SessionToken": ""},
        directory,
    )
    env.pop("AWS_SESSION_TOKEN")
    return "".join(f"export {name}='{value}'\n" for name, value in sorted(env.items()))
