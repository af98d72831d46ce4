"""Plain sentences for the statuses the cloud reports, shown beside them verbatim."""

SENTENCES = {
    # Training jobs (SecondaryStatus first, then TrainingJobStatus).
    "Starting": "Starting — SageMaker is finding an instance for the job. Not billed yet.",
    "Downloading": "Downloading — pulling the algorithm image and your data, not billed.",
    "Training": "Training — XGBoost grows one tree per round. This is the billed part.",
    "Uploading": "Uploading — saving model.tar.gz to your bucket.",
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


def status_sentence(status: str) -> str:
    return SENTENCES.get(status, "")
