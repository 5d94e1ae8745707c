import pytest

from tensorjit.passes import pipeline


@pytest.fixture(autouse=True)
def verify_after_every_phase(monkeypatch):
    """Every graph optimized in these tests is checked after every phase."""
    monkeypatch.setattr(pipeline, "_VERIFY_AFTER_EACH_PHASE", True)
