"""plan, render and deployed on OCI layouts: the picks, what the target runs, the records."""

import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from deploy_history import EXPECTED_STABLE, NOW, POLICY, STORY, build_service, push_image  # noqa: E402

from shipmark import servicesfile  # noqa: E402
from shipmark.core.ref import parse, parse_repo  # noqa: E402
from shipmark.core.services import deployed_tag  # noqa: E402
from shipmark.errors import InputError, NotFoundError, RemoteError  # noqa: E402
from shipmark.ops import annotate, channel, deploy  # noqa: E402
from shipmark.ops.images import load  # noqa: E402
from shipmark.stores.ocidir import OciDirStore  # noqa: E402

JOB = "https://jenkins.example.com/job/nightly/{n}/"


class Stores:
    """store_for(ref): one OciDirStore per layout, counting manifest HEADs per repository."""

    def __init__(self):
        self.opened = {}
        self.heads = {}

    def __call__(self, ref):
        if ref.registry not in self.opened:
            store = OciDirStore(ref.registry)
            heads = self.heads.setdefault(ref.registry, [])
            original = store.head_manifest

            def head(r, _orig=original, _heads=heads):
                _heads.append(r.reference)
                return _orig(r)
            store.head_manifest = head
            self.opened[ref.registry] = store
        return self.opened[ref.registry]


@pytest.fixture
def world(tmp_path):
    """STORY pushed to one OCI layout per service, a services file and its policy."""
    stores = Stores()
    repos = {}
    for name, builds in STORY.items():
        repo = parse_repo(f"ocidir://{tmp_path / 'reg' / name}")
        build_service(stores(repo), repo, name, builds)
        repos[name] = repo
    text = "target: prod\nchannel: stable\nvars: {network: backend}\nservices:\n" + "".join(
        f"  - name: {n}\n    repo: {r.name}\n    vars: {{port: {8080 + i}}}\n" for i, (n, r) in enumerate(sorted(repos.items())))
    (tmp_path / "services.yaml").write_text(text)
    return World(tmp_path, stores, repos, servicesfile.load(str(tmp_path / "services.yaml")))


class World:
    def __init__(self, tmp_path, stores, repos, services):
        self.tmp_path, self.stores, self.repos, self.services = tmp_path, stores, repos, services

    def plan(self, now=NOW, **kw):
        return deploy.plan(store_for=self.stores, services=self.services, policy_for=lambda path, repo=None: POLICY,
                           now=now, **kw)

    def deployed(self, succeeded=True, n=1, chosen=None, now=NOW, **kw):
        chosen = chosen if chosen is not None else deploy.chosen_from_plan(self.plan(now=now))
        return deploy.deployed(store_for=self.stores, services=self.services, chosen=chosen, target=None,
                               succeeded=succeeded, now=now + timedelta(minutes=n), by=JOB.format(n=n), **kw)

    def push_good(self, name, ver, build, when=NOW - timedelta(hours=6)):
        """A new build that passes everything and reaches stable."""
        repo = self.repos[name]
        store = self.stores(repo)
        ref = push_image(store, repo, name, ver, build, when)
        annotate.provenance(store=store, ref=ref, now=when, by="ci", git_branch="master")
        annotate.mark(store=store, ref=ref, now=when, by="ci", suite="unit", result="passed")
        channel.promote(store=store, ref=ref, channel="testing", policy=POLICY, now=when, by="ci")
        annotate.mark(store=store, ref=ref, now=when + timedelta(minutes=1), by="ci", suite="acceptance",
                      result="passed")
        channel.promote(store=store, ref=ref, channel="stable", policy=POLICY, now=when + timedelta(minutes=2),
                        by="ci")
        return ref


def by_name(plan):
    return {p.service.name: p for p in plan.services}


def test_plan_picks_the_newest_member_of_every_service(world):
    plan = world.plan()
    assert plan.target == "prod" and plan.channel == "stable"
    picked = {name: p.tag.split("-b")[0] for name, p in by_name(plan).items()}
    assert picked == EXPECTED_STABLE
    api = by_name(plan)["api"]
    assert [s["tag"].split("-b")[0] for s in api.skipped] == ["1.3.0", "1.2.0"]
    assert api.skipped[1]["reasons"] == ["never promoted to 'stable'", "required suite 'acceptance' failed"]
    web = by_name(plan)["web"]
    [rejected] = web.skipped[1]["reasons"]
    assert rejected.startswith("rejected by oncall@example.com at ") and rejected.endswith(": p95 latency doubled")
    assert api.image.pinned == f"{world.repos['api'].name}@{api.image.digest}"


def test_plan_before_any_deployment_says_new_and_nothing_deployed(world):
    for p in world.plan().services:
        assert (p.change, p.current) == ("new", None)
        assert p.to_json()["deployed"] is None


def test_deployed_records_each_image_and_moves_the_target_tag(world):
    result = world.deployed()
    assert result.result == "succeeded" and result.unchanged == []
    for outcome in result.recorded:
        store = world.stores(outcome.image.repo)
        tagged = store.head_manifest(outcome.image.repo.with_tag(deployed_tag("prod")))
        assert tagged.digest == outcome.image.digest
        image = load(store, outcome.image.repo.with_digest(outcome.image.digest))
        deployments = [r for r in image.records if r.kind == "deployment"]
        assert [(r.target, r.result, r.previous, r.by) for r in deployments] == \
            [("prod", "succeeded", "none", JOB.format(n=1))]
    plan = world.plan()
    for p in plan.services:
        assert p.change == "none"
        assert p.current.image.digest == p.image.digest
        assert p.current.record.result == "succeeded"
        assert p.to_json()["deployed_at"] == p.current.record.created


def test_deployed_again_writes_nothing(world):
    world.deployed()
    again = world.deployed(n=2)
    assert again.recorded == [] and again.unchanged == ["api", "web", "worker"]


def test_a_rerun_after_a_crash_before_the_tag_moved_reuses_the_record(world):
    plan = world.plan()
    api = by_name(plan)["api"]
    store = world.stores(api.image.repo)
    put = store.put_manifest

    def crash_on_target_tag(ref, manifest):
        if ref.tag == "deployed.prod":
            raise RemoteError("connection reset")
        return put(ref, manifest)
    store.put_manifest = crash_on_target_tag
    with pytest.raises(RemoteError):
        world.deployed(chosen=deploy.chosen_from_plan(plan), n=1)
    store.put_manifest = put
    result = world.deployed(chosen=deploy.chosen_from_plan(plan), n=1)
    assert {o.name: o.reused for o in result.recorded}["api"] is True
    image = load(store, api.image.repo.with_digest(api.image.digest))
    assert len([r for r in image.records if r.kind == "deployment"]) == 1
    assert store.head_manifest(api.image.repo.with_tag("deployed.prod")).digest == api.image.digest


def test_a_newer_stable_image_is_an_upgrade(world):
    world.deployed()
    world.push_good("api", "1.4.0", 5)
    api = by_name(world.plan())["api"]
    assert api.tag.startswith("1.4.0") and api.change == "upgrade"
    assert api.current.tag.startswith("1.1.0")   # read from the deployment record's payload
    assert by_name(world.plan())["web"].change == "none"


def test_a_rejected_deployed_image_is_a_downgrade(world):
    world.push_good("api", "1.4.0", 5)
    world.deployed()
    store = world.stores(world.repos["api"])
    running = by_name(world.plan())["api"]
    assert running.tag.startswith("1.4.0") and running.change == "none"
    annotate.verdict(store=store, ref=world.repos["api"].with_tag(running.tag), now=NOW + timedelta(hours=1),
                     by="oncall", reject=True, reason="500s")
    api = by_name(world.plan(now=NOW + timedelta(hours=2)))["api"]
    assert api.tag.startswith("1.1.0") and api.change == "downgrade"
    assert api.current.tag.startswith("1.4.0")


def test_a_failed_deployment_is_recorded_keeps_the_tag_and_is_skipped_next_night(world):
    first = world.deployed()
    old_api = {o.name: o for o in first.recorded}["api"].image.digest
    world.push_good("api", "1.4.0", 5)
    failed = world.deployed(succeeded=False, n=2, reason="apply exited 1")
    assert failed.result == "failed"
    assert [o.name for o in failed.recorded] == ["api"] and failed.unchanged == ["web", "worker"]
    new_api = failed.recorded[0].image
    store = world.stores(new_api.repo)
    assert store.head_manifest(new_api.repo.with_tag("deployed.prod")).digest == old_api
    records = [r for r in load(store, new_api.repo.with_digest(new_api.digest)).records if r.kind == "deployment"]
    assert [(r.result, r.previous) for r in records] == [("failed", old_api)]
    # Next night: the image that failed to deploy is filtered out; the old one stays.
    api = by_name(world.plan(now=NOW + timedelta(days=1)))["api"]
    assert api.image.digest == old_api and api.change == "none"
    assert any("deploying to prod failed" in r for r in api.skipped[0]["reasons"])
    # ... unless failures are retried.
    retry = by_name(world.plan(now=NOW + timedelta(days=1), retry_failed=True))["api"]
    assert retry.image.digest == new_api.digest and retry.change == "upgrade"


def test_a_failed_deployment_rolls_back_to_the_previous_set(world):
    world.deployed()
    before = {p.service.name: p.image.pinned for p in world.plan().services}
    world.push_good("api", "1.4.0", 5)
    world.push_good("worker", "0.3.0", 3)
    out = world.tmp_path / "rollback"
    result = world.deployed(succeeded=False, n=2, rollback_templates=["images.env.j2"], rollback_out=str(out))
    assert sorted(o.name for o in result.recorded) == ["api", "worker"]
    rb = result.rollback
    assert {s["name"]: s["image"] for s in rb["services"]} == before
    assert rb["missing"] == []
    text = (out / "images.env").read_text()
    for name, pinned in before.items():
        assert f"{name.upper()}_IMAGE={pinned}\n" in text


def test_rollback_with_nothing_deployed_before_is_not_found(world):
    with pytest.raises(NotFoundError, match="nothing to roll back to"):
        world.deployed(succeeded=False, rollback_templates=["images.env.j2"],
                       rollback_out=str(world.tmp_path / "rb"))
    # The failures are recorded all the same.
    api = by_name(world.plan(retry_failed=True))["api"]
    assert api.image.state.deployments["prod"].result == "failed"


def test_render_pins_digests_and_is_byte_stable(world):
    plan = world.plan()
    out = world.tmp_path / "out"
    templates = ["docker-compose.yml.j2", "kustomization.yaml.j2", "images.env.j2"]
    first = deploy.render(chosen=deploy.chosen_from_plan(plan), services=world.services, templates=templates,
                          out=str(out), target="prod")
    assert sorted(Path(f).name for f in first.files) == ["docker-compose.yml", "images.env", "kustomization.yaml"]
    snapshot = {f: Path(f).read_bytes() for f in first.files}
    # A deployment in between changes what is deployed, not what is rendered.
    world.deployed()
    second = deploy.render(chosen=deploy.chosen_from_plan(world.plan()), services=world.services,
                           templates=templates, out=str(out), target="prod")
    assert second.changed == []
    assert {f: Path(f).read_bytes() for f in second.files} == snapshot
    compose = yaml.safe_load(snapshot[str(out / "docker-compose.yml")])
    for p in plan.services:
        assert compose["services"][p.service.name]["image"] == p.image.pinned
    kustomization = yaml.safe_load(snapshot[str(out / "kustomization.yaml")])
    assert [i["digest"] for i in kustomization["images"]] == [p.image.digest for p in plan.services]
    for data in snapshot.values():
        assert b"latest" not in data
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_render_of_a_saved_plan_matches_a_fresh_one(world):
    plan = world.plan()
    saved = deploy.chosen_from_json(plan.to_json(), world.services)
    assert [(c.service.name, c.digest, c.tag) for c in saved] == \
        [(c.service.name, c.digest, c.tag) for c in deploy.chosen_from_plan(plan)]
    a = deploy.template_context(saved, world.services, "prod")
    b = deploy.template_context(deploy.chosen_from_plan(plan), world.services, "prod")
    assert a == b


def test_a_saved_plan_with_an_unknown_service_is_refused(world):
    data = world.plan().to_json()
    data["services"][0]["name"] = "ghost"
    with pytest.raises(InputError, match="unknown service 'ghost'"):
        deploy.chosen_from_json(data, world.services)


def test_unknown_service_is_an_input_error(world):
    with pytest.raises(InputError) as err:
        world.plan(names=["api", "nope"])
    assert err.value.message.startswith("unknown service 'nope'")
    assert "api, web, worker" in err.value.hint


def test_a_repository_without_tags_is_an_entry_with_its_reason(world, tmp_path):
    empty = parse_repo(f"ocidir://{tmp_path / 'reg' / 'empty'}")
    OciDirStore(empty.registry)
    (tmp_path / "s.yaml").write_text(f"services:\n  - name: empty\n    repo: {empty.name}\n")
    services = servicesfile.load(str(tmp_path / "s.yaml"))
    plan = deploy.plan(store_for=world.stores, services=services, policy_for=lambda p, repo=None: POLICY, now=NOW)
    assert plan.missing == ["empty"]
    assert plan.services[0].reasons[0].startswith(f"repository {empty.name} has no tags")


def test_a_service_with_nothing_in_the_channel_is_a_reasoned_gap_beside_the_others(world, tmp_path):
    repo = parse_repo(f"ocidir://{tmp_path / 'reg' / 'bad'}")
    build_service(world.stores(repo), repo, "bad", [("1.0.0", "failed", None, False)])
    text = (tmp_path / "services.yaml").read_text() + f"  - name: bad\n    repo: {repo.name}\n"
    (tmp_path / "s.yaml").write_text(text)
    services = servicesfile.load(str(tmp_path / "s.yaml"))
    plan = deploy.plan(store_for=world.stores, services=services, policy_for=lambda p, repo=None: POLICY, now=NOW)
    assert plan.missing == ["bad"]
    bad = by_name(plan)["bad"]
    assert bad.image is None and bad.reasons == [f"channel 'stable' of {repo.name} has no member"]
    assert bad.skipped[0]["reasons"] == ["never promoted to 'stable'", "required suite 'acceptance' has no result",
                                         "not promoted to 'testing' first"]
    assert {n: p.tag.split("-b")[0] for n, p in by_name(plan).items() if p.image} == EXPECTED_STABLE
    chosen = deploy.chosen_from_plan(plan)
    assert sorted(c.service.name for c in chosen) == sorted(EXPECTED_STABLE)   # nothing runs: left out
    assert [c.service.name for c in deploy.chosen_from_json(plan.to_json(), services)] == sorted(EXPECTED_STABLE)


def test_plan_cost_does_not_grow_with_the_number_of_tags(tmp_path):
    """60 images; the newest is eligible: the walk reads one small batch and the deployed tag."""
    stores = Stores()
    repo = parse_repo(f"ocidir://{tmp_path / 'big'}")
    build_service(stores(repo), repo, "big", [(f"1.{n}.0", "passed", "passed", False) for n in range(60)])
    (tmp_path / "s.yaml").write_text(f"target: prod\nservices:\n  - name: big\n    repo: {repo.name}\n")
    services = servicesfile.load(str(tmp_path / "s.yaml"))

    def plan():
        stores.heads[repo.registry].clear()
        return deploy.plan(store_for=stores, services=services, policy_for=lambda p, repo=None: POLICY, now=NOW)

    picked = plan().services[0]
    assert picked.tag.startswith("1.59.0")
    assert len(stores.heads[repo.registry]) <= deploy.FIRST_BATCH
    deploy.deployed(store_for=stores, services=services, chosen=deploy.chosen_from_plan(plan()), target="prod",
                    succeeded=True, now=NOW, by="ci")
    again = plan().services[0]
    assert again.change == "none"
    assert stores.heads[repo.registry].count("deployed.prod") == 1
    assert len(stores.heads[repo.registry]) <= deploy.FIRST_BATCH + 1


def test_deployed_images_one_by_one(world):
    plan = world.plan()
    api = by_name(plan)["api"]
    store = world.stores(api.image.repo)
    ref = parse(f"{api.image.repo.name}:{api.tag}")
    result = deploy.deployed_images(store=store, refs=[ref], target="staging", succeeded=True, now=NOW, by="me")
    assert [o.tag for o in result.recorded] == [api.tag]
    assert store.head_manifest(api.image.repo.with_tag("deployed.staging")).digest == api.image.digest
    again = deploy.deployed_images(store=store, refs=[ref], target="staging", succeeded=True, now=NOW, by="me")
    assert again.recorded[0].change == "none"
    assert len([r for r in load(store, ref).records if r.kind == "deployment"]) == 1


def test_targets_are_valid_tag_names(world):
    with pytest.raises(InputError, match="invalid target name"):
        world.plan(target="prod/eu")


def test_a_plan_keeps_its_results_not_every_services_tag_list(world, tmp_path):
    """A fleet-wide plan holds one result per service; each service's tag list (thousands of
    tags on a busy repository) is let go when the service is done, whatever the results keep."""
    import tracemalloc

    api = world.repos["api"]
    store = world.stores(api)
    listed = store.list_tags

    def crowded(repo):   # 5,000 more per-record tags, fresh strings on every listing
        return listed(repo) + [f"sha256-{n:032x}.{n:064x}" for n in range(5000)]
    store.list_tags = crowded
    (tmp_path / "fleet.yaml").write_text("target: prod\nchannel: stable\nservices:\n" + "".join(
        f"  - name: s{i:02d}\n    repo: {api.name}\n" for i in range(30)))
    services = servicesfile.load(str(tmp_path / "fleet.yaml"))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        plan = deploy.plan(store_for=world.stores, services=services, policy_for=lambda p, repo=None: POLICY,
                           now=NOW)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert {p.tag.split("-b")[0] for p in plan.services} == {EXPECTED_STABLE["api"]}
    assert kept < 5_000_000   # 30 tag lists of 5,000 tags would be over 20 MB
