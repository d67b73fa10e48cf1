from datetime import datetime, timedelta, timezone

import pytest

from shipmark.ops.demo import push_sample_image

POLICY = """\
channels:
  testing: {require: [unit]}
  stable:  {require: [acceptance], after: testing, branches: [master]}
"""


@pytest.fixture
def sm(cli, tmp_path):
    """sm("status", ref) runs shipmark in-process with a policy file in the working directory."""
    (tmp_path / "shipmark.yaml").write_text(POLICY)
    return cli


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
