"""Tasks travel through Redis to a separate worker process that shares the database."""

import pytest

from portal.services import demo_setup
from portal.tasks import cohort_size_task


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_in_a_real_worker_and_reads_the_database(celery_worker):
    # given a cohort committed to the test database
    cohort = demo_setup()
    # when a task is sent through Redis
    result = cohort_size_task.delay(cohort.id)
    # then the worker process answers with what it read from the same database
    assert result.get(timeout=30) == 3


@pytest.mark.django_db(transaction=True)
def test_a_task_for_a_missing_row_returns_nothing(celery_worker):
    assert cohort_size_task.delay(987654).get(timeout=30) is None
