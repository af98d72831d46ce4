"""The cloud boundary: the only package in the portal that imports boto3, botocore or
sagemaker.

- `connection`: `CloudConnection` (localcloud endpoint, assumed role, or the server's own
  credentials) and `client()`, a cache of boto3 clients with explicit regions and
  standard retries.
- `errors`: `CloudError` with `.message` (a sentence for the learner), `.code` and
  `.retryable`; `TransientCloudError` (retry) and `PermanentCloudError` (do not);
  `translate()` from botocore's exceptions.
- `storage` (S3) and `sagemaker` (notebook instances, training jobs, models, batch
  transform): functions that take a client first and keyword arguments after, return
  frozen dataclasses, adopt on "already exists" and return None for "not found".
- `regions`, `naming`, `pricing`: plain tables and rules, no network and no boto3 import,
  safe to use in the web process.
- `images`: the built-in XGBoost image URI per region, from the sagemaker SDK.

Nothing here imports Django: functions take plain arguments, so they are easy to test
against a real endpoint.
"""
