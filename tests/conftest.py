"""Shared fixtures; environment defaults live in tests/env.py (loaded first)."""

pytest_plugins = [
    "tests.fixtures.users",
    "tests.fixtures.worker",
    "tests.fixtures.browser",
    "tests.fixtures.localcloud",
    "tests.fixtures.labs",
]
