"""Runs at the start of every kernel of a localcloud notebook (an IPython startup file).

The sagemaker SDK creates its STS client with an explicit regional AWS URL
(`Session().default_bucket()`, `get_execution_role()`), which overrides AWS_ENDPOINT_URL.
This sends any client that names a real AWS endpoint to localcloud instead, so the classic
first cells of a SageMaker notebook work unchanged. Standard library and botocore only:
this file is copied into the kernel's IPython profile and never imported by localcloud.
"""

import os


def _send_aws_endpoints_to_localcloud():
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return
    try:
        import botocore.session
    except ImportError:
        return
    original = botocore.session.Session.create_client
    if getattr(original, "_localcloud", False):
        return

    def create_client(self, service_name, *args, **kwargs):
        url = kwargs.get("endpoint_url") or ""
        if ".amazonaws.com" in url or ".api.aws" in url:
            kwargs["endpoint_url"] = endpoint
        return original(self, service_name, *args, **kwargs)

    create_client._localcloud = True
    botocore.session.Session.create_client = create_client


_send_aws_endpoints_to_localcloud()
del _send_aws_endpoints_to_localcloud
