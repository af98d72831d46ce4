"""Shared fixtures; environment defaults live in tests/env.py (loaded first)."""

import pytest

pytest_plugins = [
    "tests.fixtures.users",
    "tests.fixtures.worker",
    "tests.fixtures.browser",
    "tests.fixtures.localcloud",
    "tests.fixtures.labs",
]


@pytest.fixture(autouse=True)
def _fresh_course_outline():
    # Tests load different courses inside rolled-back transactions, where load_course's
    # after-commit cache drop never runs: start every test without a cached outline.
    from curriculum.selectors import forget_course_outline

    forget_course_outline()
    yield
