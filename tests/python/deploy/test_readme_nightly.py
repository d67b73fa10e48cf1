"""The README's nightly shell block, run exactly as written (bash, `shipmark` on PATH) against
Docker Registry 2.8: three services, one of which has nothing in `stable`; then a night whose
apply fails and rolls back."""

import os
import re
import stat
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from deploy_history import NOW, POLICY, POLICY_YAML, push_image  # noqa: E402

from shipmark.core.ref import parse_repo  # noqa: E402
from shipmark.ops import annotate, channel  # noqa: E402
from shipmark.stores import open_store  # noqa: E402

README = Path(__file__).resolve().parents[3] / "README.md"
APPLY = """#!/usr/bin/env bash
# Stands in for `docker compose up`: keeps what it applied, fails when told to.
set -euo pipefail
cp "$1/docker-compose.yml" "applied-$(date +%s%N).yml"
if [ -e fail-next ]; then rm fail-next; exit 1; fi
"""


def nightly_block() -> str:
    text = README.read_text()
    marker = text.index("<!-- nightly-block:")
    block = re.search(r"```sh\n(.*?)```", text[marker:], re.S)
    return block.group(1)


def good_build(store, repo, n, stable=True):
    when = NOW - timedelta(days=5 - n)
    ref = push_image(store, repo, repo.repository.rsplit("/", 1)[-1], f"1.{n}.0", n, when)
    annotate.provenance(store=store, ref=ref, now=when, by="ci", git_branch="master", git_commit="abc1234")
    annotate.mark(store=store, ref=ref, now=when, by="ci", suite="unit", result="passed")
    channel.promote(store=store, ref=ref, channel="testing", policy=POLICY, now=when, by="ci")
    annotate.mark(store=store, ref=ref, now=when, by="qa", suite="acceptance", result="passed")
    if stable:
        channel.promote(store=store, ref=ref, channel="stable", policy=POLICY, now=when, by="alice")
    return ref


@pytest.fixture
def night(registry2, tmp_path):
    base = f"{registry2.host}/nightly-{uuid.uuid4().hex[:8]}"
    repos = {name: parse_repo(f"{base}/{name}") for name in ("api", "web", "worker")}
    store = open_store(repos["api"])
    for name, repo in repos.items():
        good_build(store, repo, 1, stable=name != "worker")   # worker: eligible, never promoted
    (tmp_path / "deploy").mkdir()
    (tmp_path / "shipmark.yaml").write_text(POLICY_YAML)
    (tmp_path / "deploy" / "services.yaml").write_text(
        "target: prod\npolicy: ../shipmark.yaml\nservices:\n"
        + "".join(f"  - name: {n}\n    repo: {r.name}\n" for n, r in sorted(repos.items())))
    apply = tmp_path / "deploy" / "apply.sh"
    apply.write_text(APPLY)
    apply.chmod(apply.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "nightly.sh").write_text(nightly_block())
    bin_dir = tmp_path / "bin"   # `shipmark` on PATH: this interpreter with the code under test
    bin_dir.mkdir()
    (bin_dir / "shipmark").write_text(f"#!/bin/sh\nexec {sys.executable} -m shipmark \"$@\"\n")
    (bin_dir / "shipmark").chmod(0o755)
    yield tmp_path, store, repos
    store.close()


def run_night(workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUILD_", "JENKINS_", "SHIPMARK_BY"))}
    env["PATH"] = f"{workdir / 'bin'}:{env['PATH']}"
    return subprocess.run(["bash", "nightly.sh"], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_readme_nightly_block_runs_as_pasted(night):
    workdir, store, repos = night
    first = run_night(workdir)
    assert first.returncode == 0, first.stderr
    applied = sorted(workdir.glob("applied-*.yml"))
    assert len(applied) == 1
    compose = yaml.safe_load(applied[0].read_text())
    assert sorted(compose["services"]) == ["api", "web"]   # worker has nothing in stable: not deployed
    import json
    plan = json.loads((workdir / "plan.json").read_text())
    assert plan["missing"] == ["worker"]
    assert (workdir / "reports" / "board.html").exists()   # the board made its directory
    for name in ("api", "web"):
        assert "deployed.prod" in store.list_tags(repos[name])

    # The next night api has a new stable image, and applying it fails: recorded, rolled back, exit 1.
    good_build(store, repos["api"], 2)
    (workdir / "fail-next").touch()
    second = run_night(workdir)
    assert second.returncode == 1, second.stderr
    applied = sorted(workdir.glob("applied-*.yml"))
    assert len(applied) == 3    # the failed set, then what ran before
    assert yaml.safe_load(applied[-1].read_text()) == compose
    again = json.loads((workdir / "plan.json").read_text())
    assert again["services"][0]["tag"].startswith("1.2.0")
    third = run_night(workdir)   # the failed image is skipped: nothing changes, exit 0
    assert third.returncode == 0, third.stderr
    assert json.loads((workdir / "plan.json").read_text())["services"][0]["tag"].startswith("1.1.0")


def test_the_nightly_block_stops_at_a_failing_command(night):
    workdir, _, _ = night
    (workdir / "deploy" / "services.yaml").write_text("services: [oops\n")
    run = run_night(workdir)
    assert run.returncode == 2
    assert "nightly: failed at line" in run.stderr
    assert not list(workdir.glob("applied-*.yml"))   # nothing applied from a stale directory
