"""Jenkins tests: python-jenkins against the REST double (double.py) on 127.0.0.1, images in
OCI layouts under tmp_path (and Docker Registry 2.8 in test_registry.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from double import JenkinsDouble  # noqa: E402
from jenkins_support import BUILT, PASSWORD, TOKEN, USER, VIEWER, VIEWER_TOKEN  # noqa: E402



@pytest.fixture
def jd():
    """A Jenkins with folder `team`, Pipeline `team/app` (builds 10-12 done, 13 running) and the
    Freestyle carrier `team/app-promotion` with processes testing and stable (manual)."""
    double = JenkinsDouble().start()
    double.add_user(USER, password=PASSWORD, token=TOKEN)
    double.add_user(VIEWER, token=VIEWER_TOKEN, permissions={"read"})
    double.add_job("team/app")
    double.add_builds("team/app", [10, 11, 12])
    double.add_build("team/app", 13, building=True)
    double.add_job("team/app-promotion", kind="freestyle", processes=["testing", "stable"],
                   manual={"stable": None})
    yield double
    double.stop()


@pytest.fixture
def jenkins_env(env, jd):
    env.setenv("JENKINS_URL", jd.url)
    env.setenv("JENKINS_USER", USER)
    env.setenv("JENKINS_API_TOKEN", TOKEN)
    return env


@pytest.fixture
def images(tmp_path):
    """images.push(tag, build_url=...) pushes a sample image into an OCI layout and records its
    provenance as the producing Jenkins build would; returns the image reference text."""
    from shipmark.core.ref import parse
    from shipmark.ops import annotate
    from shipmark.ops.demo import push_sample_image
    from shipmark.stores.ocidir import OciDirStore

    class Images:
        layout = tmp_path / "app"

        def push(self, tag, build_url=None, by=None, commit="4f1c2e9a7b3d5f60812a", branch="master", store=None,
                 repo=None):
            text = f"{repo}:{tag}" if repo else f"ocidir://{self.layout}:{tag}"
            ref = parse(text)
            target = store or OciDirStore(ref.registry)
            push_sample_image(target, ref, "app", BUILT, commit[:7])
            if build_url is not None or by is not None:
                annotate.provenance(store=target, ref=ref, now=BUILT, by=by or build_url, git_commit=commit,
                                    git_branch=branch, git_url="https://git.example.com/team/app.git",
                                    build_url=build_url)
            return text
    return Images()
