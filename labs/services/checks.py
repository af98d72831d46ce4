"""Check my progress (and clean-up verification), run by a worker against the cloud:
the page cannot fake a pass, because only what the cloud reports counts."""

from django.db.models import F
from django.utils import timezone

from curriculum.services import lab_lesson_passed
from labs import drivers
from labs.cloud import sagemaker, storage
from labs.cloud.connection import client
from labs.dataset import majority_baseline
from labs.models import CloudResource, Lab, LabCheck
from labs.selectors import resource_latest
from labs.services.policy import lab_settings_for

State = CloudResource.State
Kind = CloudResource.Kind

# What "good enough" means for the training and transform labs.
METRIC_TARGETS = {"auc": (">=", 0.80), "logloss": ("<=", 0.50), "error": ("<=", 0.20)}
# Three in four test rows are 0, so always answering 0 already scores 0.739: the target
# asks for clearly better than that (the default settings score about 0.88).
ACCURACY_TARGET = 0.80
CLEANUP_RECHECK_SECONDS = 3
CLEANUP_MAX_ATTEMPTS = 60


def _latest(check: LabCheck, kind: str, states=None) -> CloudResource | None:
    return resource_latest(
        user=check.user,
        cohort=check.cohort,
        lab=check.lab,
        kind=kind,
        region=check.region,
        states=states,
    )


def _conn(check: LabCheck):
    return lab_settings_for(check.cohort).account.connection()


def _check_storage(check: LabCheck) -> tuple[bool, str]:
    bucket_row = _latest(check, Kind.BUCKET, states=CloudResource.LIVE_STATES)
    if bucket_row is None:
        return (
            False,
            f"You have no bucket in {check.region} yet. Create one with the button above.",
        )
    s3 = client(_conn(check), "s3", check.region)
    bucket = storage.bucket_describe(s3, name=bucket_row.cloud_name)
    if not bucket.exists:
        return False, f"The bucket {bucket_row.cloud_name} does not exist in the cloud."
    if bucket.region != check.region:
        return False, f"The bucket {bucket.name} is in {bucket.region}, not {check.region}."
    needed = {"data/train.csv", "data/validation.csv", "data/test.csv"}
    missing = sorted(needed - set(bucket.keys))
    if missing:
        return False, f"The bucket is there but {', '.join(missing)} is missing."
    return True, f"Your bucket {bucket.name} is in {check.region} and holds the course data."


def _check_notebook(check: LabCheck) -> tuple[bool, str]:
    row = _latest(check, Kind.NOTEBOOK)
    if row is None:
        return False, f"You have no notebook instance in {check.region} yet."
    notebook = sagemaker.notebook_describe(
        client(_conn(check), "sagemaker", check.region), name=row.cloud_name
    )
    if notebook is None:
        return False, f"The notebook instance {row.cloud_name} does not exist in the cloud."
    if notebook.status != "InService":
        return False, f"The notebook instance is {notebook.status}; it must be InService."
    return True, f"Your notebook instance {notebook.name} is InService in {check.region}."


def _metric_verdict(final_metrics: dict[str, float]) -> tuple[bool, str]:
    for name, value in final_metrics.items():
        if not name.startswith("validation"):
            continue
        short = name.split(":")[-1].split("-")[-1]
        if short in METRIC_TARGETS:
            direction, target = METRIC_TARGETS[short]
            good = value >= target if direction == ">=" else value <= target
            verdict = "reaches" if good else "does not reach"
            return good, f"{name} = {value:.4f} {verdict} the target ({direction} {target})."
    return False, "The job reported no validation metric the check knows (auc, logloss or error)."


# Rows of jobs that may still exist in the cloud (a deleted row's job is not looked for).
_NOT_DELETED = [state for state in State.values if state != State.DELETED]


def _check_training(check: LabCheck) -> tuple[bool, str]:
    newest = _latest(check, Kind.TRAINING_JOB, states=_NOT_DELETED)
    if newest is None:
        return False, f"You have no training job in {check.region} yet."
    sagemaker_client = client(_conn(check), "sagemaker", check.region)
    job = sagemaker.training_job_describe(sagemaker_client, name=newest.cloud_name)
    if job is not None and job.status == "Completed":
        good, sentence = _metric_verdict(job.final_metrics)
        return good, f"Training job {job.name} completed. {sentence}{_few_rounds(newest)}"
    # A newer job still running, failed or never made does not undo one that completed:
    # Lab 4 uses the newest completed job, so that is the one checked.
    newer = (
        f"Your newest training job {newest.cloud_name} is {job.status}."
        if job
        else f"Your newest training job {newest.cloud_name} does not exist in the cloud."
    )
    done = _latest(check, Kind.TRAINING_JOB, states=(State.COMPLETED,))
    earlier = done and sagemaker.training_job_describe(sagemaker_client, name=done.cloud_name)
    if not earlier or earlier.status != "Completed":
        return False, f"{newer} A training job must be Completed."
    good, sentence = _metric_verdict(earlier.final_metrics)
    # The verdict first: it is about the earlier job, which Lab 4 uses.
    return good, (
        f"Your earlier job {earlier.name} completed. {sentence}{_few_rounds(done)} "
        f"{newer} Lab 4 uses the completed one."
    )


# Below this many rounds a model's predictions stay near the base rate.
FEW_ROUNDS = 10


def _rounds(job: CloudResource | None) -> int | None:
    try:
        return int(job.params["hyperparameters"]["num_round"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _trained_for(rounds: int) -> str:
    return (
        f"was trained for {rounds} round{'s' if rounds != 1 else ''}. With that few rounds "
        "every prediction stays close to the average, so most fall on the same side of 0.5"
    )


def _few_rounds(job: CloudResource) -> str:
    rounds = _rounds(job)
    if rounds is None or rounds >= FEW_ROUNDS:
        return ""
    return (
        f" Before Lab 4: this model {_trained_for(rounds)}, and its accuracy may miss "
        "Lab 4's target. If it does, train again with more rounds (try 50)."
    )


def _check_transform(check: LabCheck) -> tuple[bool, str]:
    row = _latest(check, Kind.TRANSFORM_JOB)
    if row is None:
        return False, f"You have no batch transform in {check.region} yet."
    row.account = lab_settings_for(check.cohort).account
    seen = drivers.for_kind(Kind.TRANSFORM_JOB).describe(row)
    if seen is None or seen.cloud_status != "Completed":
        status = seen.cloud_status if seen else "missing"
        return False, f"The transform job is {status}; it must be Completed."
    score = drivers.TransformJobDriver()._score(row)
    if score.get("accuracy") in ("", None):
        return False, score.get("score_problem", "No predictions were found.")
    accuracy = score["accuracy"]
    if accuracy < ACCURACY_TARGET:
        return False, (
            f"Accuracy {accuracy:.3f} is below the target {ACCURACY_TARGET:.2f}. A model that "
            f"always answers 0 already scores {majority_baseline():.3f} on this test set."
            + _why_low_accuracy(row)
        )
    return True, f"Predictions are in your bucket and {accuracy:.1%} of them are right."


def _why_low_accuracy(transform: CloudResource) -> str:
    """Where the model came from, and what to change in Lab 3."""
    model = transform.parent
    job = model.parent if model else None
    if job is None:
        return ""
    rounds = _rounds(job)
    if rounds is not None and rounds < FEW_ROUNDS:
        return (
            f" The model comes from your training job {job.cloud_name}, which "
            f"{_trained_for(rounds)}. Train again in Lab 3 with more rounds (try 50), then "
            "run the transform again."
        )
    return (
        f" The model comes from your training job {job.cloud_name}. Train again in Lab 3 "
        "with other settings (for example a smaller learning rate or another tree depth), "
        "then run the transform again."
    )


PROGRESS_CHECKS = {
    Lab.STORAGE: _check_storage,
    Lab.NOTEBOOK: _check_notebook,
    Lab.TRAINING: _check_training,
    Lab.TRANSFORM: _check_transform,
}


def _verify_nothing_left(check: LabCheck) -> tuple[bool | None, str]:
    """None while deletions are still under way; then a verdict from listing the cloud.
    Launches the cloud never made are not looked for: their names may be someone else's."""
    rows = [
        row
        for row in CloudResource.objects.filter(
            owner=check.user, cohort=check.cohort, lab=check.lab
        )
        if not row.never_made
    ]
    if any(
        row.state not in (State.DELETED, State.FAILED, State.STOPPED, State.COMPLETED)
        for row in rows
    ):
        return None, ""
    conn = _conn(check)
    leftovers = []
    for region in sorted({row.region for row in rows}):
        sm = client(conn, "sagemaker", region)
        names = {row.cloud_name for row in rows if row.region == region}
        running = {s.name for s in sagemaker.notebook_list(sm) if s.status != "Deleting"}
        running |= {s.name for s in sagemaker.training_job_list(sm, status_equals="InProgress")}
        running |= {s.name for s in sagemaker.transform_job_list(sm, status_equals="InProgress")}
        s3 = client(conn, "s3", region)
        for row in rows:
            if row.region != region:
                continue
            bucket_left = (
                row.kind == Kind.BUCKET and storage.bucket_describe(s3, name=row.cloud_name).exists
            )
            model_left = row.kind == Kind.MODEL and sagemaker.model_exists(sm, name=row.cloud_name)
            if bucket_left or model_left:
                running.add(row.cloud_name)
        leftovers += sorted(names & running)
    regions = ", ".join(sorted({row.region for row in rows})) or check.region
    if leftovers:
        return False, f"Still in the cloud: {', '.join(leftovers)}. Try again in a minute."
    return True, f"Nothing from this lab is left in the cloud (checked {regions})."


def _passed_before(check: LabCheck) -> bool:
    return LabCheck.objects.filter(
        user=check.user,
        cohort=check.cohort,
        lab=check.lab,
        purpose=LabCheck.Purpose.PROGRESS,
        state=LabCheck.State.PASSED,
    ).exists()


def lab_check_run(*, check_id: int) -> LabCheck | None:
    from labs.tasks import lab_check_task

    check = LabCheck.objects.select_related("user", "cohort").filter(pk=check_id).first()
    if check is None or check.state != LabCheck.State.PENDING:
        return check
    # Claim this attempt: of two deliveries running at once, only one does the work.
    claimed = LabCheck.objects.filter(
        pk=check.pk, state=LabCheck.State.PENDING, attempts=check.attempts
    ).update(attempts=F("attempts") + 1)
    if not claimed:
        return check
    if check.purpose == LabCheck.Purpose.CLEANUP:
        passed, message = _verify_nothing_left(check)
        if passed is None:
            if check.attempts + 1 < CLEANUP_MAX_ATTEMPTS:
                lab_check_task.apply_async((check.pk,), countdown=CLEANUP_RECHECK_SECONDS)
                return check
            passed, message = False, "Some resources are still being deleted; check again soon."
    else:
        passed, message = PROGRESS_CHECKS[check.lab](check)
        if not passed and _passed_before(check):
            # The page says "Done" beside this answer: say that both are true.
            message += " Your lab stays done: an earlier check passed."
    state = LabCheck.State.PASSED if passed else LabCheck.State.NOT_YET
    LabCheck.objects.filter(pk=check.pk, state=LabCheck.State.PENDING).update(
        state=state, message=message, checked_at=timezone.now(), version=F("version") + 1
    )
    if passed and check.purpose == LabCheck.Purpose.PROGRESS:
        lab_lesson_passed(user=check.user, lab=check.lab)
    check.refresh_from_db()
    return check
