"""The same end-to-end story on the OCI layout, Docker Registry 2.8 and a referrers-API registry,
checked with the peer clients skopeo and oras where a registry is involved."""

import json

import servers

from e2e_support import run_shipmark


def test_story_on_every_store(store, sm, push):
    refs = [push(n) for n in (1, 2, 3)]
    for n, ref in enumerate(refs, 1):
        assert sm("record", ref, "--git-branch", "origin/master", "--git-commit", f"{n:040x}").code == 0
        assert sm("mark", ref, "--suite", "unit", "--result", "passed").code == 0
        assert sm("promote", ref, "--to", "testing").code == 0
        result = "failed" if n == 3 else "passed"
        assert sm("mark", ref, "--suite", "acceptance", "--result", result).code == 0
    refused = sm("promote", refs[2], "--to", "stable", "--json")
    assert refused.code == 3 and refused.json["error"]["reasons"] == ["required suite 'acceptance' failed"]
    promoted = sm("promote", refs[1], "--to", "stable", "--json")
    assert promoted.code == 0, promoted.err
    digest = promoted.json["digest"]

    pick = sm("pick", store.repo.name, "--channel", "stable", "--json").json
    assert pick["digest"] == digest
    assert pick["skipped"][0]["reasons"] == ["never promoted to 'stable'", "required suite 'acceptance' failed"]

    listing = sm("list", store.repo.name, "--json").json
    assert [i["tag"][:3] for i in listing["images"]] == ["1.3", "1.2", "1.1"]
    assert not any(t.startswith("sha256-") for i in listing["images"] for t in i["tags"])
    assert listing["images"][0]["channels"] == ["testing"] and listing["images"][1]["channels"] == ["stable"]

    assert sm("reject", refs[1], "--reason", "memory leak in prod").code == 0
    gone = sm("pick", store.repo.name, "--channel", "stable", "--json")
    assert gone.code == 3 and "has no member" in gone.json["error"]["message"]   # 1.1.0: never promoted
    assert sm("promote", refs[0], "--to", "stable").code == 0
    after = sm("pick", store.repo.name, "--channel", "stable", "--json").json
    assert after["tag"].startswith("1.1.0")

    history = sm("history", store.repo.name, "--channel", "testing", "--json").json
    assert len(history["entries"]) == 3

    status = sm("status", refs[1], "--json").json
    kinds = [r["kind"] for r in status["timeline"]]
    assert kinds.count("promotion") == 2 and kinds[0] == "rejection"

    if store.is_registry:
        # skopeo sees the channel tag on the last promoted digest, byte for byte.
        raw = servers.run_tool("skopeo", "inspect", "--raw", *store.skopeo_flags(),
                               store.skopeo_ref("stable")).stdout
        import hashlib
        assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == after["digest"]
        # oras discovers shipmark's records (referrers API or the tag-schema index).
        found = servers.run_tool("oras", "discover", "--format", "json", *store.oras_target(digest)).stdout
        listed = json.loads(found)
        descriptors = listed.get("referrers") or listed.get("manifests") or []
        kinds = sorted(d.get("annotations", {}).get("dev.shipmark.kind") for d in descriptors)
        assert kinds == sorted(["provenance", "test", "promotion", "test", "promotion", "rejection"])


def test_fifty_concurrent_mark_processes_lose_no_record(store, push, sm):
    ref = push(1)
    procs = [run_shipmark("mark", ref, "--suite", f"suite{i:02d}", "--result", "passed", "--json")
             for i in range(50)]
    failures = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        if p.returncode != 0:
            failures.append(err)
    assert not failures, failures[:3]
    status = sm("status", ref, "--json").json
    assert len(status["state"]["suites"]) == 50
    assert len([r for r in status["timeline"] if r["kind"] == "test"]) == 50


def test_promote_with_copy_to_brings_image_and_records(store, sm, push):
    ref = push(1)
    assert sm("mark", ref, "--suite", "unit", "--result", "passed").code == 0
    target = store.new_repo()
    out = sm("promote", ref, "--to", "testing", "--copy-to", target.name, "--json")
    assert out.code == 0, out.err
    assert out.json["copied_to"] == f"{target.name}@{out.json['digest']}"
    copied = sm("status", f"{target.name}:testing", "--json").json
    assert copied["digest"] == out.json["digest"]
    assert sorted(r["kind"] for r in copied["timeline"]) == ["promotion", "test"]
    if store.is_registry:
        raw = servers.run_tool("skopeo", "inspect", "--raw", *store.skopeo_flags(),
                               store.skopeo_ref("testing", repo=target)).stdout
        import hashlib
        assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == out.json["digest"]
