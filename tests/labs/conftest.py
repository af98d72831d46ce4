# The lab fixtures and wait helpers live in tests/fixtures/labs.py (registered globally).
from tests.fixtures.labs import wait_for, wait_for_check, wait_for_state

__all__ = ["wait_for", "wait_for_check", "wait_for_state"]
