import uuid

import pytest

from labs.models import CloudAccount, CloudResource, LabSettings
from labs.services.policy import lab_settings_for
from portal.models import Cohort, Enrolment
from tests.fixtures.users import make_member


@pytest.fixture
def cohort(db):
    """A cohort of its own per test: its tag (``portal:cohort=<slug>``) tells its resources
    apart from other tests' in the session's shared localcloud."""
    return Cohort.objects.create(name="Spring cohort", slug=f"spring-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def cloud_lab_settings(cohort, localcloud) -> LabSettings:
    """The cohort's labs point at the test session's real localcloud process."""
    account = CloudAccount.objects.create(
        name="test localcloud", kind=CloudAccount.Kind.LOCALCLOUD, endpoint_url=localcloud.url
    )
    lab_settings = lab_settings_for(cohort)
    lab_settings.account = account
    lab_settings.allowed_regions = ["us-east-1", "eu-west-1"]
    lab_settings.save()
    return lab_settings


@pytest.fixture
def other_cohort(db):
    return Cohort.objects.create(name="Autumn cohort", slug="autumn")


@pytest.fixture
def other_instructor(other_cohort):
    """An instructor of another cohort: must not learn anything about ``cohort``."""
    return make_member("other-instructor", other_cohort, Enrolment.Role.INSTRUCTOR)


@pytest.fixture
def outsider_learner(other_cohort):
    return make_member("outsider-learner", other_cohort)


def make_resource(owner, lab_settings, **extra) -> CloudResource:
    values = {
        "owner": owner,
        "cohort": lab_settings.cohort,
        "account": lab_settings.account,
        "lab": "notebook",
        "kind": "notebook",
        "region": "us-east-1",
        "cloud_name": f"nb-{owner.pk}-{CloudResource.objects.count()}",
        "instance_type": "ml.t3.medium",
        "state": "ready",
        "cloud_status": "InService",
    }
    values.update(extra)
    return CloudResource.objects.create(**values)
