import json
from datetime import datetime, timedelta, timezone

import pytest

from shipmark.__main__ import main
from shipmark.ops.demo import push_sample_image

POLICY = """\
channels:
  testing: {require: [unit]}
  stable:  {require: [acceptance], after: testing, branches: [master]}
"""


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def sm(capsys, monkeypatch, tmp_path):
    """sm("status", ref) runs shipmark in-process with a policy file in the working directory."""
    for var in ("BUILD_URL", "GIT_BRANCH", "GIT_COMMIT", "JENKINS_URL", "SHIPMARK_POLICY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shipmark.yaml").write_text(POLICY)

    def run(*argv):
        code = main([str(a) for a in argv])
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)
    return run


@pytest.fixture
def push(store):
    """push(n) pushes build n of a sample service into the case's repository; returns the ref text."""
    def make(n, repo=None):
        repo = repo or store.repo
        ref = repo.with_tag(f"1.{n}.0-b{n}.20261101.abc{n:04d}")
        when = datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(hours=n)
        push_sample_image(store.store, ref, "svc", when)
        return str(ref)
    return make
