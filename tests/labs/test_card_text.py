"""What a resource card says: the sentence beside the cloud status, the cost, the time
limit and the rounds. Read by a learner who has never seen the cloud console."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from labs.cloud.sagemaker import TrainingJob, Transition
from labs.drivers import TrainingJobDriver
from labs.models import CloudResource
from labs.status_text import status_sentence
from labs.templatetags.labs_tags import expiry_note, money


def _sentence(kind="notebook", state="ready", cloud="InService", secondary=""):
    return status_sentence(kind=kind, state=state, cloud_status=cloud, secondary_status=secondary)


def test_between_a_click_and_the_clouds_answer_the_card_says_what_was_asked():
    # The cloud still says InService: the sentence must not invite a Stop again.
    assert _sentence(state="stopping") == "Stopping — your request is on its way to the cloud."
    assert _sentence(state="deleting").startswith("Deleting — your request")
    # Deleting a running notebook stops it first: the cloud is already at work.
    assert _sentence(state="deleting", cloud="Stopping").startswith("Deleting — stopping it")
    assert _sentence(state="deleting", cloud="Stopped").startswith("Deleting — it is stopped")
    assert _sentence(state="provisioning", cloud="Stopped").startswith("Starting — your request")
    # Once the cloud answers, its own status is explained.
    assert _sentence(state="stopping", cloud="Stopping").startswith("Stopping — winding down")
    assert _sentence(state="ready").startswith("InService — JupyterLab is running")


def test_a_stopped_notebook_is_not_called_free():
    assert "storage volume" in _sentence(state="stopped", cloud="Stopped")
    assert "not billed" in _sentence(kind="training_job", state="stopped", cloud="Stopped")


def test_training_is_billed_from_the_download_on():
    running = {"kind": "training_job", "state": "running", "cloud": "InProgress"}
    assert "Not billed yet" in _sentence(**running, secondary="Starting")
    assert "Billed from here" in _sentence(**running, secondary="Downloading")
    assert "Billed until it is saved" in _sentence(**running, secondary="Uploading")


def test_a_cost_too_small_to_show_in_cents_is_not_shown_as_nothing():
    one_second = CloudResource(hourly_usd=Decimal("0.115"), estimated_cost_usd=Decimal("0"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    one_second.billing_started_at = start
    assert money(one_second.accrued_cost(now=start + timedelta(seconds=1))) == "<$0.01"
    assert money(Decimal("0")) == "$0.00"


def test_the_card_says_when_the_lab_time_ends():
    expires = datetime(2026, 1, 1, 15, 30, tzinfo=UTC)

    def note(kind, state):
        return expiry_note(CloudResource(kind=kind, state=state, expires_at=expires))

    stopped_first = "stopped at Jan 1, 15:30 UTC, then deleted 30 minutes later"
    assert note("notebook", "ready") == f"{stopped_first} with its files"
    assert note("notebook", "submitting") == f"{stopped_first} with its files"
    assert note("notebook", "stopped") == "deleted at Jan 1, 15:30 UTC with its files"
    assert note("training_job", "running") == stopped_first
    assert note("training_job", "completed") == "deleted at Jan 1, 15:30 UTC"
    assert note("bucket", "ready") == "deleted at Jan 1, 15:30 UTC with the data in it"
    assert note("bucket", "deleting") == ""


@pytest.mark.parametrize(
    ("status", "secondary", "done"),
    [
        ("InProgress", "Uploading", 500),
        ("Completed", "Completed", 500),
        # Stopped at round 152, it saves what it has: the rounds stay as counted.
        ("Stopping", "Uploading", 152),
    ],
)
def test_every_round_is_done_once_the_model_is_being_saved(status, secondary, done):
    started = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    job = TrainingJob(
        name="job",
        status=status,
        secondary_status=secondary,
        transitions=(Transition("Downloading", started, None, ""),),
        failure_reason="",
        final_metrics={},
        model_artifact="",
        instance_type="ml.m5.large",
        started_at=started,
        ended_at=None,
        billable_seconds=None,
    )
    resource = CloudResource(
        kind="training_job",
        state="running",
        params={"hyperparameters": {"num_round": "500"}},
        progress_done=152,
    )

    seen = TrainingJobDriver()._observe(resource, job)

    assert (seen.progress_done or resource.progress_done, seen.progress_total) == (done, 500)
    # Billed from TrainingStartTime: the download is on the instance's clock.
    assert seen.billing_started_at == started


def test_a_deleted_card_does_not_describe_what_it_was():
    assert _sentence(kind="training_job", state="deleted", cloud="Completed").startswith(
        "Deleted — gone from the cloud"
    )
    ended_job = CloudResource(kind="training_job", state="completed")
    stopped_notebook = CloudResource(kind="notebook", state="stopped")
    assert ended_job.runs_no_more and not stopped_notebook.runs_no_more
