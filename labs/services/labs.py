"""What each lab's buttons do: prerequisites, parameters and launches."""

import contextlib

from django.db import transaction

from labs.models import CloudResource, Lab, LabCheck, LabPreference, LabSettings
from labs.selectors import resource_latest, training_job_for_transform
from labs.services.policy import LaunchRefusedError, check_region, check_target
from labs.services.queueing import enqueue_after_commit
from labs.services.resources import (
    resource_delete_when_settled,
    resource_launch,
    resource_request_action,
)

Kind = CloudResource.Kind
State = CloudResource.State


def learner_set_region(*, learner, lab_settings: LabSettings, region: str) -> str:
    check_region(lab_settings, region)
    LabPreference.objects.update_or_create(
        user=learner, cohort=lab_settings.cohort, defaults={"region": region}
    )
    return region


def _check_bucket_name_is_free(learner, lab_settings: LabSettings, region: str, name: str):
    """S3 bucket names are unique across every region, while our rows are unique per
    region: refuse a name the cohort's account already uses in another region before the
    cloud does, and without saying whose it is when it is not the learner's."""
    check_region(lab_settings, region)  # A refused region is the first thing to say.
    rows = (
        CloudResource.objects.filter(
            account=lab_settings.account, kind=Kind.BUCKET, cloud_name=name
        )
        .exclude(region=region)
        .exclude(state=State.DELETED)
        # A failed launch the cloud never answered made no bucket.
        .exclude(state=State.FAILED, cloud_status="")
        .values_list("owner_id", "region")
    )
    regions_by_owner = dict(rows)
    if not regions_by_owner:
        return
    if learner.pk in regions_by_owner:
        elsewhere = regions_by_owner[learner.pk]
        raise LaunchRefusedError(
            f"You already have a bucket named {name} in {elsewhere}. Bucket names are "
            f"unique across all regions: switch to {elsewhere}, or pick another name."
        )
    raise LaunchRefusedError(
        f"The bucket name {name} is already used in your cohort's cloud account. Bucket "
        "names are unique across all regions, so pick another name."
    )


def lab_launch_bucket(
    *, learner, lab_settings: LabSettings, region: str, bucket_name: str, launch_key: str = ""
):
    _check_bucket_name_is_free(learner, lab_settings, region, bucket_name)
    bucket = resource_launch(
        learner=learner,
        lab_settings=lab_settings,
        lab=Lab.STORAGE,
        kind=Kind.BUCKET,
        region=region,
        cloud_name=bucket_name,
        params={"upload_dataset": True},
        launch_key=launch_key,
    )
    # A launch without a form key is answered with the learner's live bucket, if any.
    if bucket.cloud_name != bucket_name:
        raise LaunchRefusedError(
            f"You already have the bucket {bucket.cloud_name} in {region}. "
            "Delete it first if you want one with another name."
        )
    return bucket


def lab_launch_notebook(
    *, learner, lab_settings: LabSettings, region: str, instance_type: str, launch_key: str = ""
):
    return resource_launch(
        learner=learner,
        lab_settings=lab_settings,
        lab=Lab.NOTEBOOK,
        kind=Kind.NOTEBOOK,
        region=region,
        instance_type=instance_type,
        launch_key=launch_key,
    )


def _data_bucket(learner, lab_settings, region) -> CloudResource:
    bucket = resource_latest(
        user=learner,
        cohort=lab_settings.cohort,
        lab=Lab.STORAGE,
        kind=Kind.BUCKET,
        region=region,
        states=(State.READY,),
    )
    if bucket is None:
        raise LaunchRefusedError(_why_no_data_bucket(learner, lab_settings, region))
    return bucket


def _why_no_data_bucket(learner, lab_settings, region) -> str:
    """Said when training is refused for want of a ready bucket: what became of the
    learner's bucket here, if they had one (the lab time deletes buckets too)."""
    newest = resource_latest(
        user=learner, cohort=lab_settings.cohort, lab=Lab.STORAGE, kind=Kind.BUCKET, region=region
    )
    reads = "Training reads the course data from your bucket"
    if newest is None or newest.state == State.FAILED:
        return (
            f"{reads}, and you have no ready bucket in {region}. Do Lab 1 in this region "
            "first (or switch to the region you used)."
        )
    if newest.state in (State.DELETING, State.DELETED):
        return (
            f"{reads}, and your bucket {newest.cloud_name} in {region} has been deleted "
            "(Lab 1's page says who asked). Do Lab 1 again in this region, then come back."
        )
    return (
        f"{reads}, and your bucket {newest.cloud_name} is not ready yet: its card on Lab 1's "
        "page says Ready once the course data is in. Try again then."
    )


def lab_launch_training(
    *,
    learner,
    lab_settings: LabSettings,
    region: str,
    instance_type: str,
    hyperparameters: dict,
    launch_key: str = "",
):
    bucket = _data_bucket(learner, lab_settings, region)
    return resource_launch(
        learner=learner,
        lab_settings=lab_settings,
        lab=Lab.TRAINING,
        kind=Kind.TRAINING_JOB,
        region=region,
        instance_type=instance_type,
        parent=bucket,
        params={"hyperparameters": hyperparameters, "bucket": bucket.cloud_name},
        launch_key=launch_key,
    )


def _retire_model_of_an_older_job(learner, lab_settings: LabSettings, region: str, job):
    """A learner who retrained wants their newest job's model: the model they hold from an
    older job is deleted (models cost nothing), so that a new one is made."""
    model = resource_latest(
        user=learner,
        cohort=lab_settings.cohort,
        lab=Lab.TRANSFORM,
        kind=Kind.MODEL,
        region=region,
        states=CloudResource.LIVE_STATES,
    )
    if (
        model is not None
        and model.params.get("training_job") != job.cloud_name
        and "delete" in model.available_actions
    ):
        # A double click of the form finds it already being deleted: just as good.
        with contextlib.suppress(LaunchRefusedError):
            resource_request_action(
                resource=model,
                action="delete",
                message=f"Replaced by a model of your newer training job {job.cloud_name}.",
            )


@transaction.atomic
def lab_launch_transform(
    *, learner, lab_settings: LabSettings, region: str, instance_type: str, launch_key: str = ""
):
    job = training_job_for_transform(user=learner, cohort=lab_settings.cohort, region=region)
    if job is None:
        raise LaunchRefusedError(
            f"Batch transform needs a model, and you have no completed training job in {region}. "
            "Finish Lab 3 in this region first."
        )
    # Checked before the model row is made, so a refused type leaves nothing behind.
    check_target(lab_settings, kind=Kind.TRANSFORM_JOB, region=region, instance_type=instance_type)
    bucket = job.params.get("bucket", "")
    # The job's parent is the bucket it trained from (lab_launch_training).
    if job.parent is None or job.parent.state != State.READY:
        raise LaunchRefusedError(
            f"Batch transform reads the test data and the model from your bucket {bucket}, "
            "which is no longer there. Do Lab 1 again, retrain in Lab 3, then come back."
        )
    _retire_model_of_an_older_job(learner, lab_settings, region, job)
    model = resource_launch(
        learner=learner,
        lab_settings=lab_settings,
        lab=Lab.TRANSFORM,
        kind=Kind.MODEL,
        region=region,
        parent=job,
        params={"model_artifact": job.details["model_artifact"], "training_job": job.cloud_name},
        launch_key=launch_key,  # Keys are per kind: the model and the job share the form's.
    )
    return resource_launch(
        learner=learner,
        lab_settings=lab_settings,
        lab=Lab.TRANSFORM,
        kind=Kind.TRANSFORM_JOB,
        region=region,
        instance_type=instance_type,
        parent=model,
        params={"bucket": bucket},
        launch_key=launch_key,
    )


def lab_check_request(*, learner, lab_settings: LabSettings, lab: str, region: str, purpose: str):
    from labs.tasks import lab_check_task

    with transaction.atomic():
        check = LabCheck.objects.create(
            user=learner, cohort=lab_settings.cohort, lab=lab, region=region, purpose=purpose
        )
        enqueue_after_commit(lab_check_task, check.pk)
    return check


def lab_cleanup(*, learner, lab_settings: LabSettings, lab: str, region: str) -> LabCheck:
    """Delete everything this lab made, in every region, then verify by listing."""
    live = CloudResource.objects.filter(
        owner=learner, cohort=lab_settings.cohort, lab=lab
    ).exclude(state__in=(State.DELETED, State.DELETING))
    for resource in live:
        resource_delete_when_settled(resource)
    return lab_check_request(
        learner=learner,
        lab_settings=lab_settings,
        lab=lab,
        region=region,
        purpose=LabCheck.Purpose.CLEANUP,
    )
