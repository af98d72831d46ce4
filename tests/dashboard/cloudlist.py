"""List what localcloud holds for a cohort with plain boto3 (not the code under test)."""

RUNNING_JOBS = {"InProgress", "Stopping"}


def _tags(sm, arn):
    return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}


def cohort_live_items(localcloud, regions, slug) -> list[tuple[str, str, str, str]]:
    """(region, kind, name, status) of everything tagged portal:cohort=<slug> that still
    exists, in the given regions (buckets: any region); finished jobs are history."""
    found = []
    s3 = localcloud.client("s3", "us-east-1")
    for bucket in s3.list_buckets().get("Buckets", []):
        try:
            tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
        except s3.exceptions.ClientError:
            continue
        if {"Key": "portal:cohort", "Value": slug} in tags:
            found.append(("s3", "bucket", bucket["Name"], "Available"))
    for region in regions:
        sm = localcloud.client("sagemaker", region)
        candidates = [
            (
                "notebook",
                n["NotebookInstanceName"],
                n["NotebookInstanceStatus"],
                n["NotebookInstanceArn"],
            )
            for n in sm.list_notebook_instances()["NotebookInstances"]
        ]
        candidates += [
            ("training_job", j["TrainingJobName"], j["TrainingJobStatus"], j["TrainingJobArn"])
            for j in sm.list_training_jobs()["TrainingJobSummaries"]
            if j["TrainingJobStatus"] in RUNNING_JOBS
        ]
        candidates += [
            ("transform_job", j["TransformJobName"], j["TransformJobStatus"], j["TransformJobArn"])
            for j in sm.list_transform_jobs()["TransformJobSummaries"]
            if j["TransformJobStatus"] in RUNNING_JOBS
        ]
        candidates += [
            ("model", m["ModelName"], "", m["ModelArn"]) for m in sm.list_models()["Models"]
        ]
        for kind, name, status, arn in candidates:
            if _tags(sm, arn).get("portal:cohort") == slug:
                found.append((region, kind, name, status))
    return found
