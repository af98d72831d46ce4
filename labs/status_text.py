"""Plain sentences for the statuses the cloud reports, shown beside them verbatim."""

SENTENCES = {
    # Training jobs (SecondaryStatus first, then TrainingJobStatus). SageMaker bills a
    # job from TrainingStartTime, before the data is downloaded, until the model is saved.
    "Starting": "Starting — SageMaker is finding an instance for the job. Not billed yet.",
    "Downloading": "Downloading — pulling the algorithm image and your data. Billed from here.",
    "Training": "Training — XGBoost grows one tree per round. Billed.",
    "Uploading": "Uploading — saving model.tar.gz to your bucket. Billed until it is saved.",
    "MaxRuntimeExceeded": "Stopped because it ran longer than its maximum run time.",
    "Interrupted": "Interrupted by the cloud; you can start it again.",
    "InProgress": "In progress — the cloud is working on it.",
    "Completed": "Completed — finished successfully.",
    "Failed": "Failed — see the reason below.",
    "Stopping": "Stopping — winding down; billing ends when it stops.",
    "Stopped": "Stopped — not running and not billed.",
    # Notebook instances.
    "Pending": "Pending — starting the instance and JupyterLab (about 5 minutes on AWS).",
    "InService": "InService — JupyterLab is running and billed by the second. Stop it when done.",
    "Deleting": "Deleting — removing the instance and its storage.",
    "Updating": "Updating — applying a change to the instance.",
}

# Where a kind's status means something else than a training job's.
KIND_SENTENCES = {
    ("notebook", "Stopped"): (
        "Stopped — the instance is off and not billed; its storage volume keeps your files "
        "and costs a little until you delete it."
    ),
}

# Between a click and the cloud's first answer to it, the cloud status still describes
# the resource as it was before the click: say what was asked instead.
ON_ITS_WAY = "your request is on its way to the cloud."


def _asked(state: str, cloud_status: str) -> str:
    if not cloud_status:
        return ""
    if state == "stopping" and cloud_status not in ("Stopping", "Stopped"):
        return f"Stopping — {ON_ITS_WAY}"
    if state == "deleting" and cloud_status != "Deleting":
        # A running notebook or job is stopped first, then deleted.
        if cloud_status == "Stopping":
            return "Deleting — stopping it first; it is deleted once stopped."
        if cloud_status == "Stopped":
            return "Deleting — it is stopped; deleting it comes next."
        return f"Deleting — {ON_ITS_WAY}"
    if state == "provisioning" and cloud_status == "Stopped":  # Started again.
        return f"Starting — {ON_ITS_WAY}"
    return ""


def status_sentence(*, kind: str, state: str, cloud_status: str, secondary_status: str) -> str:
    if state == "deleted":  # Its last cloud status describes what it was, not what it is.
        return "Deleted — gone from the cloud; nothing more is billed."
    status = secondary_status or cloud_status
    return (
        _asked(state, cloud_status)
        or KIND_SENTENCES.get((kind, status))
        or SENTENCES.get(status, "")
    )
