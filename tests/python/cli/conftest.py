import json

import pytest

from shipmark.__main__ import main


class Run:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """cli("list", "ocidir://...") runs main() in-process; no Jenkins variables leak in."""
    for var in ("BUILD_URL", "JOB_NAME", "BUILD_NUMBER", "GIT_COMMIT", "GIT_BRANCH", "GIT_URL", "JENKINS_URL",
                "SHIPMARK_POLICY", "SHIPMARK_BY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*argv):
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)
    return run


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
