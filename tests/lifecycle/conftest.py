"""The lifecycle tests match the services' refusals by their English words."""
import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield
