"""Fixtures of the platform tests: the cases tests' world (places and people of every role)."""
from tests.cases.conftest import world  # noqa: F401
