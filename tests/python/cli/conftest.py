import pytest


@pytest.fixture
def layout(tmp_path, cli):
    """An OCI layout with one image (1.0.1) and a policy file."""
    from datetime import datetime, timezone

    from shipmark.core.ref import parse
    from shipmark.ops.demo import push_sample_image
    from shipmark.stores.ocidir import OciDirStore

    ref = parse(f"ocidir://{tmp_path}/app:1.0.1-b1.20261101.abcdef1")
    push_sample_image(OciDirStore(ref.registry), ref, "app", datetime(2026, 11, 1, tzinfo=timezone.utc))
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {require: [unit]}\n")
    return ref
