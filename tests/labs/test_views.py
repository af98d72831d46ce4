"""Lab pages and launches: who may do what, and how bad input is met. These tests
never need the cloud: refusals happen before anything is enqueued."""

import html
import re
import time
from html.parser import HTMLParser

import pytest
from django.test import Client

from labs.models import CloudResource, LabPreference
from labs.services.events import resource_transition
from tests.fixtures.users import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _course(course):
    pass


def _resource(owner, cohort, lab_settings, **extra):
    values = {
        "owner": owner,
        "cohort": cohort,
        "account": lab_settings.account,
        "lab": "storage",
        "kind": "bucket",
        "region": "us-east-1",
        "cloud_name": f"bucket-{owner.pk}",
    }
    values.update(extra)
    return CloudResource.objects.create(**values)


def _notebook(owner, cohort, lab_settings, **extra):
    """A notebook instance row, InService unless ``extra`` says otherwise."""
    values = {"state": "ready", "cloud_status": "InService", **extra}
    return _resource(owner, cohort, lab_settings, lab="notebook", kind="notebook", **values)


def _training_job(owner, cohort, lab_settings, **extra):
    """A training job row of Lab 3, completed unless ``extra`` says otherwise."""
    values = {"state": "completed", **extra}
    return _resource(owner, cohort, lab_settings, lab="training", kind="training_job", **values)


def test_a_lab_page_is_done_by_its_check_not_by_a_button(learner_client, lab_settings, course):
    page = learner_client.get("/labs/storage/").content.decode()
    assert "Mark complete" not in page
    assert "counts as done when <strong>Check my progress</strong> passes" in page


def test_each_lab_page_shows_the_region_and_launch_button(learner_client, lab_settings):
    for lab, button in [
        ("storage", "Create bucket"),
        ("notebook", "Create notebook instance"),
        ("training", "Start training job"),
        ("transform", "Create model"),
    ]:
        page = learner_client.get(f"/labs/{lab}/").content.decode()
        assert button in page
        assert "You are working in <strong>us-east-1</strong>" in page
        assert "Check my progress" in page


class _References(HTMLParser):
    """The ids a page defines and the ids its labels and ARIA attributes point at."""

    def __init__(self):
        super().__init__()
        self.ids, self.references = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("aria-describedby", "aria-labelledby", "aria-controls"):
            self.references += [(tag, name, ref) for ref in (attrs.get(name) or "").split()]
        if tag == "label" and attrs.get("for"):
            self.references.append((tag, "for", attrs["for"]))


def test_every_label_and_description_on_the_lab_pages_points_at_something(
    learner_client, lab_settings
):
    # A screen reader reads a field's hint through aria-describedby; a dangling id means
    # the learner hears the field without it.
    for lab in ("storage", "notebook", "training", "transform"):
        page = _References()
        page.feed(learner_client.get(f"/labs/{lab}/").content.decode())
        assert page.references, lab
        dangling = [ref for ref in page.references if ref[2] not in page.ids]
        assert not dangling, f"/labs/{lab}/: {dangling}"


def test_lab_lesson_link_leads_to_the_lab_page(learner_client, lab_settings):
    response = learner_client.get("/course/lab-storage/")
    assert response.status_code == 302 and response["Location"] == "/labs/storage/"


def test_unknown_lab_is_404(learner_client, lab_settings):
    assert learner_client.get("/labs/quantum/").status_code == 404


def test_user_without_cohort_gets_a_clear_403(client, db):
    client.force_login(make_user("loner"))
    response = client.get("/labs/storage/")
    assert response.status_code == 403


def test_region_choice_is_remembered_and_outside_the_allowlist_refused(
    learner_client, learner, lab_settings
):
    response = learner_client.post("/labs/region/", {"region": "eu-west-1", "lab": "storage"})
    assert response.status_code == 302
    assert (
        "You are working in <strong>eu-west-1</strong>"
        in learner_client.get("/labs/notebook/").content.decode()
    )
    refused = learner_client.post("/labs/region/", {"region": "ap-east-1", "lab": "storage"})
    assert refused.status_code == 400
    assert refused.content.decode().count("not open to your cohort") == 1  # said once
    assert LabPreference.objects.get(user=learner).region == "eu-west-1"
    # Nor is it said again on the next page.
    assert "not open to your cohort" not in learner_client.get("/labs/storage/").content.decode()


@pytest.mark.parametrize("region", ["", "x" * 31, "eu-west-1\x00"])
def test_a_malformed_region_is_refused_with_a_sentence(learner_client, lab_settings, region):
    refused = learner_client.post("/labs/region/", {"region": region, "lab": "training"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "Choose a region from the list." in page and 'href="/labs/training/"' in page


@pytest.mark.parametrize("body", [{}, {"purpose": "everything"}])
def test_a_check_without_a_known_purpose_is_refused_and_records_nothing(
    learner_client, lab_settings, body
):
    from labs.models import LabCheck

    refused = learner_client.post("/labs/storage/check/", body)
    assert refused.status_code == 400
    assert "Choose Check my progress or Clean up this lab." in refused.content.decode()
    assert not LabCheck.objects.exists()


def test_resources_in_other_regions_are_pointed_out(learner_client, learner, cohort, lab_settings):
    _resource(learner, cohort, lab_settings, region="eu-west-1", state="ready")
    _resource(
        learner,
        cohort,
        lab_settings,
        region="eu-west-1",
        state="ready",
        cloud_name="nb",
        lab="notebook",
        kind="notebook",
    )
    page = learner_client.get("/labs/storage/").content.decode()
    # Each lab page counts its own: switching region there shows what it counted.
    assert "1 resource in eu-west-1" in page and "switch region to see it" in page
    # Clean-up asks before it deletes what this page does not show.
    assert (
        'hx-confirm="Delete everything this lab created, in every region: also 1 in '
        'eu-west-1, which this page does not show?"'
    ) in page
    training = learner_client.get("/labs/training/").content.decode()
    assert "in eu-west-1</strong>" not in training


def test_resources_in_a_region_taken_off_the_list_can_still_be_deleted(
    learner_client, learner, cohort, lab_settings
):
    notebook = _resource(
        learner, cohort, lab_settings, region="eu-west-1", state="stopped",
        cloud_name="nb-left", lab="notebook", kind="notebook", instance_type="ml.t3.medium",
    )  # fmt: skip
    lab_settings.allowed_regions = ["us-east-1"]
    lab_settings.save()
    page = learner_client.get("/labs/notebook/").content.decode()
    assert "Left in regions your cohort no longer offers" in page
    assert "1 resource in eu-west-1</strong>, a region your cohort no longer offers" in page
    assert f'id="resource-{notebook.pk}"' in page
    # Starting it again would bill in a region the cohort no longer allows.
    start = learner_client.post(f"/labs/resources/{notebook.pk}/start/")
    assert start.status_code == 409
    assert "Your cohort no longer offers eu-west-1" in start.content.decode()
    notebook.refresh_from_db()
    assert notebook.state == "stopped"
    delete = learner_client.post(f"/labs/resources/{notebook.pk}/delete/")
    assert delete.status_code == 302
    notebook.refresh_from_db()
    assert notebook.state == "deleting"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("Bad_Name", "lowercase"),
        ("ab", "3"),
        ("my..bucket", "dots"),
        ("192.168.1.1", "IP"),
        ("-leading", "begin and end"),
    ],
)
def test_bucket_names_breaking_s3_rules_are_refused(learner_client, lab_settings, name, reason):
    response = learner_client.post(
        "/labs/storage/launch/", {"bucket_name": name}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert reason.lower() in response.content.decode().lower()
    assert not CloudResource.objects.exists()


def test_a_bucket_name_used_in_another_region_is_refused_without_saying_whose(
    learner_client, learner, other_learner, cohort, lab_settings
):
    # S3 bucket names are unique across regions; the cohort shares one cloud account.
    _resource(other_learner, cohort, lab_settings, region="us-east-1", cloud_name="shared-name")
    _resource(learner, cohort, lab_settings, region="us-east-1", cloud_name="mine-east")
    learner_client.post("/labs/region/", {"region": "eu-west-1", "lab": "storage"})

    theirs = learner_client.post(
        "/labs/storage/launch/", {"bucket_name": "shared-name"}, HTTP_HX_REQUEST="true"
    )
    assert theirs.status_code == 422
    message = theirs.content.decode()
    assert "already used in your cohort" in message and "us-east-1" not in message
    assert other_learner.username not in message

    mine = learner_client.post(
        "/labs/storage/launch/", {"bucket_name": "mine-east"}, HTTP_HX_REQUEST="true"
    )
    assert mine.status_code == 422
    assert "You already have a bucket named mine-east in us-east-1" in mine.content.decode()
    assert CloudResource.objects.filter(region="eu-west-1").count() == 0

    # Once deleted, the name is free again in another region.
    CloudResource.objects.filter(cloud_name="mine-east").update(state="deleted")
    again = learner_client.post(
        "/labs/storage/launch/", {"bucket_name": "mine-east"}, HTTP_HX_REQUEST="true"
    )
    assert again.status_code == 200
    assert CloudResource.objects.filter(region="eu-west-1", cloud_name="mine-east").exists()

    # A launch the cloud never answered made no bucket: it does not hold the name.
    CloudResource.objects.filter(region="eu-west-1").update(state="deleted")
    CloudResource.objects.filter(cloud_name="shared-name").update(state="failed")
    free = learner_client.post(
        "/labs/storage/launch/", {"bucket_name": "shared-name"}, HTTP_HX_REQUEST="true"
    )
    assert free.status_code == 200


def test_double_clicked_launch_makes_one_resource(learner_client, lab_settings):
    for _ in range(3):
        response = learner_client.post("/labs/notebook/launch/", {"instance_type": "ml.t3.medium"})
        assert response.status_code == 302
    assert CloudResource.objects.filter(kind="notebook").count() == 1


def test_a_late_second_click_finds_the_resource_its_form_made(learner_client, lab_settings):
    page = learner_client.get("/labs/notebook/").content.decode()
    key = re.search(r'name="launch_key" value="([^"]+)"', page).group(1)
    form = {"instance_type": "ml.t3.medium", "launch_key": key}
    assert learner_client.post("/labs/notebook/launch/", form).status_code == 302
    # The first click's notebook is already gone when the second click is served.
    CloudResource.objects.update(state="deleted")
    assert learner_client.post("/labs/notebook/launch/", form).status_code == 302
    assert CloudResource.objects.count() == 1
    # The page reloaded after a launch has a new key: launching again makes a new one.
    page = learner_client.get("/labs/notebook/").content.decode()
    new_key = re.search(r'name="launch_key" value="([^"]+)"', page).group(1)
    assert new_key != key
    form["launch_key"] = new_key
    assert learner_client.post("/labs/notebook/launch/", form).status_code == 302
    assert CloudResource.objects.count() == 2


def test_a_launch_from_another_form_while_one_is_held_is_refused_not_swapped(
    learner_client, lab_settings
):
    first = {"instance_type": "ml.t3.medium", "launch_key": "tab-one"}
    assert learner_client.post("/labs/notebook/launch/", first).status_code == 302
    # A second tab asks for another type: it is told, not handed the first notebook.
    second = {"instance_type": "ml.m5.xlarge", "launch_key": "tab-two"}
    response = learner_client.post("/labs/notebook/launch/", second)
    assert response.status_code == 400
    text = response.content.decode()
    assert "You already have the notebook instance" in text and "delete it when" in text
    answer = learner_client.post("/labs/notebook/launch/", second, HTTP_HX_REQUEST="true")
    assert answer.status_code == 422 and "keeps one at a time" in answer.content.decode()
    assert CloudResource.objects.get().instance_type == "ml.t3.medium"


def test_an_htmx_launch_answers_with_the_cards_and_a_fresh_form_key(learner_client, lab_settings):
    page = learner_client.get("/labs/notebook/").content.decode()
    key = re.search(r'name="launch_key" value="([^"]+)"', page).group(1)
    form = {"instance_type": "ml.t3.medium", "launch_key": key}
    answer = learner_client.post("/labs/notebook/launch/", form, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    # The answer replaces the page's list of cards; nothing reloads.
    assert answer["HX-Retarget"] == "#resources" and answer["HX-Reswap"] == "outerHTML"
    body = answer.content.decode()
    notebook = CloudResource.objects.get()
    assert body.startswith('<div id="resources"')
    assert f'id="resource-{notebook.pk}"' in body and "Requested" in body
    assert body.count('id="announcer"') == 1 and notebook.cloud_name in body
    # The form gets a new one-time key (out of band): its next launch is a new one.
    new_key = re.search(
        r'<input type="hidden" id="launch-key" name="launch_key" value="([^"]+)" '
        r'hx-swap-oob="true">',
        body,
    ).group(1)
    assert new_key != key
    # A late second click of the first form still finds the first notebook.
    again = learner_client.post("/labs/notebook/launch/", form, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and f'id="resource-{notebook.pk}"' in again.content.decode()
    notebook.state = "deleted"
    notebook.save()
    form["launch_key"] = new_key
    learner_client.post("/labs/notebook/launch/", form, HTTP_HX_REQUEST="true")
    assert CloudResource.objects.count() == 2


def test_a_lab_page_with_several_cards_has_one_live_region_for_announcements(
    learner_client, learner, cohort, lab_settings
):
    for n, state in enumerate(["completed", "failed", "requested"]):
        _training_job(learner, cohort, lab_settings, cloud_name=f"job-{n}", state=state)
    page = learner_client.get("/labs/training/").content.decode()
    assert page.count('class="resource state-') == 3
    assert page.count('id="announcer"') == 1


def test_a_one_round_job_states_its_metric_and_its_log_reads_plainly(
    learner_client, learner, cohort, lab_settings
):
    _training_job(learner, cohort, lab_settings, cloud_name="job-one-round",
              metrics={"validation:auc": [[0, 0.8123]]},
              log_tail=["[0]#011train-auc:0.80#011validation-auc:0.8123"])  # fmt: skip
    page = learner_client.get("/labs/training/").content.decode()
    assert "validation:auc after round 1: <strong>0.8123</strong>" in page
    assert "<svg" not in page.split("job-one-round")[1]
    # The log shows tabs where CloudWatch wrote "#011".
    assert "[0]\ttrain-auc:0.80\tvalidation-auc:0.8123" in page


def test_a_late_second_transform_click_makes_no_second_model(
    learner_client, learner, lab_settings
):
    bucket = _resource(learner, lab_settings.cohort, lab_settings, cloud_name="b", state="ready")
    CloudResource.objects.create(
        owner=learner, cohort=lab_settings.cohort, account=lab_settings.account,
        lab="training", kind="training_job", region="us-east-1", state="completed",
        cloud_name="done-job", params={"bucket": "b"}, details={"model_artifact": "s3://b/m"},
        parent=bucket,
    )  # fmt: skip
    form = {"instance_type": "ml.m5.large", "launch_key": "transform-form-1"}
    assert learner_client.post("/labs/transform/launch/", form).status_code == 302
    CloudResource.objects.filter(lab="transform").update(state="deleted")
    assert learner_client.post("/labs/transform/launch/", form).status_code == 302
    assert CloudResource.objects.filter(lab="transform", kind="model").count() == 1
    assert CloudResource.objects.filter(lab="transform", kind="transform_job").count() == 1


def test_instance_type_outside_the_allowlist_is_refused(learner_client, lab_settings):
    response = learner_client.post("/labs/notebook/launch/", {"instance_type": "ml.p4d.24xlarge"})
    assert response.status_code == 400
    assert "not allowed in your cohort" in response.content.decode()
    assert not CloudResource.objects.exists()


def test_gpu_types_need_the_cohort_opt_in(learner_client, lab_settings):
    response = learner_client.post("/labs/notebook/launch/", {"instance_type": "ml.g4dn.xlarge"})
    assert response.status_code == 400
    assert "GPU" in response.content.decode()
    lab_settings.gpu_allowed = True
    lab_settings.save()
    response = learner_client.post("/labs/notebook/launch/", {"instance_type": "ml.g4dn.xlarge"})
    assert response.status_code == 302


def test_concurrent_resource_limit(learner_client, learner, cohort, lab_settings):
    lab_settings.max_active_per_learner = 1
    lab_settings.save()
    _resource(
        learner,
        cohort,
        lab_settings,
        lab="notebook",
        kind="notebook",
        state="ready",
        cloud_name="nb-old",
        region="eu-west-1",
    )
    response = learner_client.post("/labs/notebook/launch/", {"instance_type": "ml.t3.medium"})
    assert response.status_code == 400
    assert "the most your cohort allows (1)" in response.content.decode()


def _training_data(**changes):
    data = {
        "instance_type": "ml.m5.large",
        "num_round": "50",
        "max_depth": "5",
        "eta": "0.2",
        "subsample": "0.8",
        "eval_metric": "auc",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_round", "0", "greater than or equal to 1"),
        ("eta", "abc", "number"),
        ("max_depth", "99", "less than or equal to 12"),
        ("eval_metric", "rmse", "valid choice"),
    ],
)
def test_malformed_hyperparameters_are_refused(
    learner_client, lab_settings, field, value, message
):
    response = learner_client.post("/labs/training/launch/", _training_data(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CloudResource.objects.exists()


def test_training_without_a_bucket_says_to_do_lab_1(learner_client, lab_settings):
    response = learner_client.post("/labs/training/launch/", _training_data())
    assert response.status_code == 400
    assert "Do Lab 1 in this region first" in response.content.decode()


@pytest.mark.parametrize(
    "state, said",
    [
        ("deleted", "your bucket gone-bucket in us-east-1 has been deleted"),
        ("provisioning", "your bucket gone-bucket is not ready yet"),
    ],
)
def test_training_refused_for_want_of_a_bucket_says_what_became_of_it(
    learner_client, learner, cohort, lab_settings, state, said
):
    # The lab time deletes buckets too: "you have no bucket" would puzzle a learner who made one.
    _resource(learner, cohort, lab_settings, cloud_name="gone-bucket", state=state)

    response = learner_client.post("/labs/training/launch/", _training_data())

    assert response.status_code == 400
    assert said in html.unescape(response.content.decode())
    assert CloudResource.objects.filter(kind="training_job").count() == 0


def test_burstable_types_are_offered_for_notebooks_only(
    learner_client, learner, cohort, lab_settings
):
    assert "ml.t3.medium" in lab_settings.allowed_instance_types
    assert 'value="ml.t3.medium"' in learner_client.get("/labs/notebook/").content.decode()
    for lab in ("training", "transform"):
        page = learner_client.get(f"/labs/{lab}/").content.decode()
        assert 'value="ml.t3.medium"' not in page and 'value="ml.m5.large"' in page
    _resource(learner, cohort, lab_settings, state="ready")  # the data bucket of Lab 1
    response = learner_client.post(
        "/labs/training/launch/", _training_data(instance_type="ml.t3.medium")
    )
    assert response.status_code == 400
    assert "for notebook instances only" in response.content.decode()
    assert not CloudResource.objects.filter(kind="training_job").exists()


def test_a_refused_type_is_said_even_while_a_job_is_running(
    learner_client, learner, cohort, lab_settings
):
    bucket = _resource(learner, cohort, lab_settings, state="ready")
    running = _resource(
        learner,
        cohort,
        lab_settings,
        lab="training",
        kind="training_job",
        cloud_name="job-1",
        state="running",
        parent=bucket,
        instance_type="ml.m5.large",
    )
    refused = learner_client.post(
        "/labs/training/launch/",
        _training_data(instance_type="ml.g5.xlarge"),
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 422
    assert "GPU" in refused.content.decode()
    # An allowed second click still answers with the running job, not a second one.
    again = learner_client.post("/labs/training/launch/", _training_data(), HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and f'id="resource-{running.pk}"' in again.content.decode()
    assert CloudResource.objects.filter(kind="training_job").count() == 1


def test_other_learners_resources_are_404(learner_client, other_learner, cohort, lab_settings):
    theirs = _resource(other_learner, cohort, lab_settings, state="ready")
    assert learner_client.get(f"/labs/resources/{theirs.pk}/status/").status_code == 404
    assert learner_client.post(f"/labs/resources/{theirs.pk}/delete/").status_code == 404
    assert learner_client.get("/labs/resources/999999/status/").status_code == 404
    assert CloudResource.objects.get(pk=theirs.pk).state == "ready"


def test_post_without_csrf_is_refused(learner, lab_settings):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(learner)
    response = strict.post("/labs/notebook/launch/", {"instance_type": "ml.t3.medium"})
    assert response.status_code == 403
    assert not CloudResource.objects.exists()


def test_status_poll_answers_304_when_unchanged_and_286_when_resting(
    learner_client, learner, cohort, lab_settings
):
    resource = _resource(learner, cohort, lab_settings, state="provisioning")
    url = f"/labs/resources/{resource.pk}/status/"
    first = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    assert learner_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert learner_client.get(f"{url}?v={resource.version}").status_code == 304
    CloudResource.objects.filter(pk=resource.pk).update(
        state="ready", version=resource.version + 1
    )
    final = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert final.status_code == 286
    assert "Ready" in final.content.decode()


def test_anonymous_lab_requests_go_to_login(client, db):
    assert client.get("/labs/storage/").status_code == 302
    assert client.post("/labs/storage/launch/", {"bucket_name": "x"}).status_code == 302


def test_an_unchanged_status_poll_costs_at_most_one_query(
    learner_client, learner, other_learner, cohort, lab_settings, django_assert_num_queries
):
    resource = _resource(learner, cohort, lab_settings, state="provisioning")
    url = f"/labs/resources/{resource.pk}/status/?v={resource.version}"
    learner_client.get(url)  # warms the session cache, as the page load before it does
    with django_assert_num_queries(1):
        assert learner_client.get(url, HTTP_HX_REQUEST="true").status_code == 304
    # After a change the version is cached too, and an unchanged poll needs no query.
    resource = resource_transition(resource, state="running", message="Training.")
    url = f"/labs/resources/{resource.pk}/status/?v={resource.version}"
    with django_assert_num_queries(0):
        assert learner_client.get(url, HTTP_HX_REQUEST="true").status_code == 304
    # The cached answer is the owner's only: anyone else still gets a 404.
    someone_else = Client()
    someone_else.force_login(other_learner)
    assert someone_else.get(url).status_code == 404
    # A stale poll gets the new card.
    stale = f"/labs/resources/{resource.pk}/status/?v={resource.version - 1}"
    assert "Running" in learner_client.get(stale).content.decode()


def test_a_cards_poll_token_names_its_owner_and_nothing_else(
    learner, other_learner, cohort, lab_settings, django_assert_num_queries
):
    from urllib.parse import quote

    from labs.poll_tokens import poll_token

    mine = _resource(learner, cohort, lab_settings, state="provisioning")
    theirs = _resource(other_learner, cohort, lab_settings, state="provisioning")
    resource_transition(mine, message="Cached.")  # the version is in the cache now
    mine.refresh_from_db()
    token = poll_token(resource_id=mine.pk, owner_id=learner.pk)
    anonymous = Client()
    url = f"/labs/resources/{mine.pk}/status/?v={mine.version}&t={token}"
    with django_assert_num_queries(0):
        assert anonymous.get(url).status_code == 304
    # As the card writes it: percent-encoded.
    encoded = f"/labs/resources/{mine.pk}/status/?v={mine.version}&t={quote(token, safe='')}"
    assert anonymous.get(encoded).status_code == 304
    stale = f"/labs/resources/{mine.pk}/status/?v=0&t={token}"
    # The card itself needs the owner's session: the token outlives a logout.
    assert anonymous.get(stale).status_code == 302
    # Polling after a logout sends the whole page to the login form, and back.
    ended = anonymous.get(
        stale, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/labs/storage/"
    )
    assert ended.status_code == 204
    assert ended["HX-Redirect"] == "/login/?next=/labs/storage/"
    assert "Provisioning" not in ended.content.decode()
    owner = Client()
    owner.force_login(learner)
    assert "Provisioning" in owner.get(stale).content.decode()
    intruder = Client()
    intruder.force_login(other_learner)
    assert intruder.get(stale).status_code == 302
    # The token opens only its own resource; a forged one opens nothing.
    other = f"/labs/resources/{theirs.pk}/status/?v=0&t={token}"
    assert anonymous.get(other).status_code == 302
    forged = f"/labs/resources/{mine.pk}/status/?v=0&t={token[:-2]}xx"
    assert anonymous.get(forged).status_code == 302


def test_a_poll_token_seen_before_still_expires(monkeypatch):
    from labs import poll_tokens

    token = poll_tokens.poll_token(resource_id=7, owner_id=3)
    assert poll_tokens.owner_from_token(token, resource_id=7) == 3  # now remembered
    assert poll_tokens.owner_from_token(token, resource_id=8) is None
    later = time.time() + poll_tokens.MAX_AGE_SECONDS + 1
    monkeypatch.setattr(poll_tokens.time, "time", lambda: later)
    assert poll_tokens.owner_from_token(token, resource_id=7) is None


def _trained(learner, cohort, lab_settings, bucket, name):
    return _training_job(
        learner, cohort, lab_settings, cloud_name=name,
        parent=bucket, params={"bucket": bucket.cloud_name},
        details={"model_artifact": f"s3://{bucket.cloud_name}/output/{name}/model.tar.gz"},
    )  # fmt: skip


def test_batch_transform_uses_the_model_of_the_newest_training_job(
    learner_client, learner, cohort, lab_settings
):
    bucket = _resource(learner, cohort, lab_settings, state="ready")
    first = _trained(learner, cohort, lab_settings, bucket, "job-1")
    old_model = _resource(
        learner, cohort, lab_settings, lab="transform", kind="model", cloud_name="model-1",
        state="ready", parent=first, params={"training_job": "job-1"},
    )  # fmt: skip
    _trained(learner, cohort, lab_settings, bucket, "job-2")  # the learner retrained

    answer = learner_client.post("/labs/transform/launch/", {"instance_type": "ml.m5.large"})
    assert answer.status_code == 302
    old_model.refresh_from_db()
    assert old_model.state == "deleting"
    new_model = CloudResource.objects.get(kind="model", state="requested")
    assert new_model.params["training_job"] == "job-2"
    assert CloudResource.objects.get(kind="transform_job").parent == new_model


def test_batch_transform_without_the_bucket_says_what_to_redo(
    learner_client, learner, cohort, lab_settings
):
    bucket = _resource(learner, cohort, lab_settings, state="ready")
    _trained(learner, cohort, lab_settings, bucket, "job-1")
    bucket.state = "deleted"
    bucket.save()
    answer = learner_client.post("/labs/transform/launch/", {"instance_type": "ml.m5.large"})
    assert answer.status_code == 400
    assert "no longer there. Do Lab 1 again" in answer.content.decode()
    assert not CloudResource.objects.filter(kind__in=("model", "transform_job")).exists()


def test_after_a_delete_the_page_proposes_a_name_that_launches(
    learner_client, learner, cohort, lab_settings
):
    first = learner_client.get("/labs/storage/").context["proposed_bucket"]
    assert learner_client.post("/labs/storage/launch/", {"bucket_name": first}).status_code == 302
    CloudResource.objects.filter(cloud_name=first).update(state="deleted")  # cleaned up

    second = learner_client.get("/labs/storage/").context["proposed_bucket"]
    assert second != first and second.startswith(first.rsplit("-", 1)[0])
    assert learner_client.post("/labs/storage/launch/", {"bucket_name": second}).status_code == 302
    assert CloudResource.objects.filter(cloud_name=second, state="requested").exists()


def test_a_lab_taken_out_of_the_course_still_shows_what_it_launched(
    learner_client, learner, cohort, lab_settings
):
    from curriculum.models import Lesson

    notebook = _notebook(learner, cohort, lab_settings, cloud_name="nb-kept")
    Lesson.objects.filter(lab="notebook").update(is_published=False)

    answer = learner_client.get("/labs/notebook/")

    page = answer.content.decode()
    assert answer.status_code == 200
    assert "not part of the course at the moment" in page
    assert f'id="stop-{notebook.pk}"' in page  # It still bills: it can still be stopped.


def test_a_held_resource_is_said_above_the_form_before_the_click(
    learner_client, learner, cohort, lab_settings
):
    _resource(learner, cohort, lab_settings, state="ready", cloud_name="my-bucket")

    page = learner_client.get("/labs/storage/").content.decode()

    assert "You have the S3 bucket my-bucket here, and this lab keeps one" in page
    assert "Delete it first if you want another one." in page
    assert "You have the" not in learner_client.get("/labs/training/").content.decode()


def test_a_refused_action_answers_with_the_card_as_it_is_now(
    learner_client, learner, cohort, lab_settings
):
    # Deleted in another tab; this tab still shows it Ready and clicks Stop.
    notebook = _notebook(
        learner,
        cohort,
        lab_settings,
        state="deleting",
        cloud_name="nb-gone",
        cloud_status="Deleting",
    )

    answer = learner_client.post(f"/labs/resources/{notebook.pk}/stop/", HTTP_HX_REQUEST="true")

    assert answer.status_code == 422  # Swapped into the card, in place of the old one.
    card = html.unescape(answer.content.decode())
    assert f'id="resource-{notebook.pk}"' in card
    assert "badge-deleting" in card
    assert "You can't stop a notebook instance that is deleting." in card


def test_clean_up_answers_with_the_cards_being_deleted(
    learner_client, learner, cohort, lab_settings
):
    bucket = _resource(learner, cohort, lab_settings, state="ready", cloud_status="Available")

    answer = learner_client.post(
        "/labs/storage/check/", {"purpose": "cleanup"}, HTTP_HX_REQUEST="true"
    )

    page = answer.content.decode()
    assert answer.status_code == 200
    assert "Cleaning up and checking that nothing is left" in page
    # The cards are swapped too, so they poll until the cloud says they are gone.
    assert 'id="resources" class="resources" hx-swap-oob="true"' in page
    assert f'id="resource-{bucket.pk}"' in page and "badge-deleting" in page
    assert f"/labs/resources/{bucket.pk}/status/" in page
    # The note that the lab holds a bucket here goes, since the bucket is going.
    assert '<p id="launch-note" class="notice" role="note" hx-swap-oob="true" hidden>' in page


def test_a_finished_job_left_in_a_removed_region_can_still_be_deleted(
    learner_client, learner, cohort, lab_settings
):
    # The instructor's region alert counts it until it is gone: the learner must reach it.
    job = _training_job(learner, cohort, lab_settings, region="eu-west-1", cloud_name="job-left")
    lab_settings.allowed_regions = ["us-east-1"]
    lab_settings.save()

    page = learner_client.get("/labs/training/").content.decode()

    assert "1 resource in eu-west-1</strong>, a region your cohort no longer offers" in page
    assert f'id="resource-{job.pk}"' in page and f'id="delete-{job.pk}"' in page


def test_asking_for_a_jupyterlab_link_again_never_shows_the_expired_one(
    learner_client, learner, cohort, lab_settings
):
    notebook = _notebook(
        learner,
        cohort,
        lab_settings,
        cloud_name="nb-open",
        details={"open_url": "http://old-link/expired", "open_url_at": "2026-01-01T00:00:00"},
    )

    answer = learner_client.post(f"/labs/resources/{notebook.pk}/open/", HTTP_HX_REQUEST="true")

    card = answer.content.decode()
    assert "old-link" not in card
    assert "open=1" in card  # The card polls until the worker has made the new link.
    notebook.refresh_from_db()
    assert "open_url" not in notebook.details


def test_waiting_for_a_jupyterlab_link_ends_when_the_worker_could_not_make_one(
    learner_client, learner, cohort, lab_settings
):
    notebook = _notebook(learner, cohort, lab_settings, cloud_name="nb-nolink")
    url = f"/labs/resources/{notebook.pk}/status/?open=1"
    assert learner_client.get(url, HTTP_HX_REQUEST="true").status_code == 200  # Still waiting.

    CloudResource.objects.filter(pk=notebook.pk).update(
        failure_reason="AccessDenied: not allowed", version=notebook.version + 1
    )
    answer = learner_client.get(url, HTTP_HX_REQUEST="true")

    assert answer.status_code == 286  # Stops polling, and says why.
    assert "Why: AccessDenied: not allowed" in answer.content.decode()


def test_a_jupyterlab_link_whose_retries_ran_out_ends_the_wait_with_the_reason(
    learner_client, learner, cohort, lab_settings
):
    from labs import tasks
    from labs.cloud.errors import TransientCloudError

    notebook = _notebook(learner, cohort, lab_settings, cloud_name="nb-throttled")
    learner_client.post(f"/labs/resources/{notebook.pk}/open/", HTTP_HX_REQUEST="true")
    url = f"/labs/resources/{notebook.pk}/status/?open=1"
    assert learner_client.get(url, HTTP_HX_REQUEST="true").status_code == 200  # Waiting.

    # What Celery calls once the task's last retry has failed.
    error = TransientCloudError("The cloud is busy (Throttling); we gave up after retrying.")
    tasks.notebook_open_url_task.on_failure(error, "task-id", (notebook.pk,), {}, None)

    answer = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert answer.status_code == 286  # Stops polling, and says why.
    assert "Why: The cloud is busy (Throttling)" in html.unescape(answer.content.decode())
    assert notebook.events.filter(message__startswith="Could not make a JupyterLab link").exists()


def test_a_lab_page_says_what_was_deleted_lately_and_who_asked(
    learner_client, learner, cohort, lab_settings
):
    notebook = _notebook(learner, cohort, lab_settings, cloud_name="nb-torn-down")
    resource_transition(
        notebook,
        state="deleting",
        message="Your instructor Quinn is tearing down your lab resources.",
    )
    resource_transition(notebook, state="deleted", message="Deleted.")

    page = learner_client.get("/labs/notebook/").content.decode()

    assert "Deleted in the last day (1)" in page
    assert "nb-torn-down</code> in us-east-1" in page
    assert "Your instructor Quinn is tearing down your lab resources." in page
    assert "Deleted in the last day" not in learner_client.get("/labs/storage/").content.decode()


def test_a_launch_answer_puts_the_note_above_the_form_at_once(learner_client, lab_settings):
    answer = learner_client.post(
        "/labs/storage/launch/", {"bucket_name": "my-first-bucket"}, HTTP_HX_REQUEST="true"
    )

    text = answer.content.decode()
    assert answer.status_code == 200
    assert 'id="launch-note"' in text and 'hx-swap-oob="true"' in text
    assert "You have the S3 bucket my-first-bucket here" in text


def test_the_notebook_menu_offers_only_types_sagemaker_has_for_notebooks(
    learner_client, lab_settings
):
    # ml.m5.large runs jobs, but SageMaker has no such notebook instance type.
    page = learner_client.get("/labs/notebook/").content.decode()
    assert 'value="ml.m5.large"' not in page and 'value="ml.t3.medium"' in page
    assert 'value="ml.m5.large"' in learner_client.get("/labs/training/").content.decode()

    refused = learner_client.post("/labs/notebook/launch/", {"instance_type": "ml.m5.large"})

    assert refused.status_code == 400
    assert "SageMaker does not offer ml.m5.large for a notebook instance" in (
        refused.content.decode()
    )
    assert not CloudResource.objects.exists()


def test_lab_1_offers_the_data_set_for_learners_who_upload_it_themselves(learner_client):
    page = learner_client.get("/labs/storage/").content.decode()
    assert 'href="/labs/data/train.csv" download' in page

    answer = learner_client.get("/labs/data/train.csv")

    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="train.csv"'
    first_row = b"".join(answer.streaming_content).splitlines()[0].decode()
    assert first_row.split(",")[0] in ("0", "1") and len(first_row.split(",")) == 13


@pytest.mark.parametrize("name", ["README.md", "..%2Fsettings.py", "train.csv.bak", "nope.csv"])
def test_only_the_data_set_files_can_be_downloaded(learner_client, name):
    assert learner_client.get(f"/labs/data/{name}").status_code == 404


def test_the_data_set_is_for_logged_in_users_only(client):
    answer = client.get("/labs/data/train.csv")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


def test_a_cards_last_answer_updates_the_note_above_the_form(
    learner_client, learner, cohort, lab_settings
):
    # The note said "wait until it has finished" while the job ran; now it has.
    job = _training_job(
        learner, cohort, lab_settings, cloud_name="job-done", cloud_status="Completed"
    )

    answer = learner_client.get(f"/labs/resources/{job.pk}/status/", HTTP_HX_REQUEST="true")

    assert answer.status_code == 286
    note = re.search(r'<p id="launch-note"[^>]*>', answer.content.decode())
    assert note and 'hx-swap-oob="true"' in note[0] and "hidden" in note[0]


def test_the_instance_menu_prices_the_region_the_learner_works_in(
    learner_client, learner, lab_settings
):
    from labs.cloud import pricing

    learner_client.post("/labs/region/", {"region": "eu-central-1", "lab": "training"})
    page = learner_client.get("/labs/training/").content.decode()

    assert "Estimated on-demand prices in eu-central-1" in page
    here = pricing.format_usd(pricing.hourly_price("ml.m5.large", "eu-central-1"))
    virginia = pricing.format_usd(pricing.hourly_price("ml.m5.large", "us-east-1"))
    assert here != virginia
    option = re.search(r'<option value="ml.m5.large"[^>]*>[^<]*</option>', page)[0]
    assert here in option and virginia not in option


def test_an_old_check_answer_says_it_may_no_longer_hold(
    learner_client, learner, cohort, lab_settings
):
    from datetime import timedelta

    from django.utils import timezone

    from labs.models import LabCheck

    checked = timezone.now() - timedelta(minutes=5)
    LabCheck.objects.create(
        user=learner, cohort=cohort, lab="storage", region="us-east-1", state="not_yet",
        message="You have no bucket in us-east-1 yet.", checked_at=checked,
    )  # fmt: skip
    page = learner_client.get("/labs/storage/").content.decode()
    assert "check-stale" not in page  # Nothing changed since: the answer holds.

    _resource(learner, cohort, lab_settings, state="ready", cloud_status="Available")
    page = learner_client.get("/labs/storage/").content.decode()
    assert "Your resources have changed since: check again" in page

    learner_client.post("/labs/region/", {"region": "eu-west-1", "lab": "storage"})
    page = learner_client.get("/labs/storage/").content.decode()
    assert "That answer is for us-east-1; you now work in eu-west-1." in page


def test_lab_4_names_the_training_job_whose_model_it_will_use(
    learner_client, learner, cohort, lab_settings
):
    def form_hint():
        page = learner_client.get("/labs/transform/").content.decode()
        return re.search(r'<p class="hint">(Creates a model|You have no)[^\n]*', page).group(0)

    assert "no completed training job in us-east-1" in form_hint()
    model = {"model_artifact": "s3://bucket/model.tar.gz"}
    _training_job(learner, cohort, lab_settings, cloud_name="job-1", details=model)
    newest = _training_job(learner, cohort, lab_settings, cloud_name="job-2", details=model)
    _training_job(learner, cohort, lab_settings, cloud_name="job-3", state="failed")
    _training_job(
        learner, cohort, lab_settings, cloud_name="job-4", region="eu-west-1", details=model
    )
    assert f"<strong>{newest.cloud_name}</strong>" in form_hint()
