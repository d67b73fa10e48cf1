"""Constants shared by the ops tests (conftest modules are not importable by name)."""

from datetime import datetime, timezone

from shipmark.core.policy import Policy

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
POLICY = Policy.from_dict({"channels": {
    "testing": {"require": ["unit"]},
    "stable": {"require": ["acceptance"], "after": "testing"},
}}, "shipmark.yaml")
