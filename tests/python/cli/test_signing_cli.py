"""Signing keys, --no-policy and the published policy, through the command line."""


import pytest

from shipmark.core import mediatype as mt
from shipmark.core.ref import parse
from shipmark.stores.ocidir import OciDirStore


def tags_of(ref):
    return sorted(OciDirStore(ref.registry).list_tags(ref.repo))


@pytest.fixture
def keypair(cli, env):
    env.setenv("SHIPMARK_SIGNING_KEY_PASSWORD", "s3cret")
    assert cli("keygen", "--out", "ci").code == 0
    env.delenv("SHIPMARK_SIGNING_KEY_PASSWORD")
    return "ci.key"


def test_keygen_writes_an_encrypted_private_key_and_never_overwrites(cli, keypair, tmp_path):
    assert (tmp_path / "ci.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert (tmp_path / "ci.key").stat().st_mode & 0o777 == 0o600
    run = cli("keygen", "--out", "ci")
    assert run.code == 2 and run.err.splitlines()[0] == "shipmark: error: ci.key exists"


@pytest.mark.parametrize("setup, message", [
    (lambda env, tmp: None, "signing key ci.key is encrypted"),
    (lambda env, tmp: env.setenv("SHIPMARK_SIGNING_KEY_PASSWORD", "wrong"), "signing key ci.key: wrong password"),
    (lambda env, tmp: (tmp / "ci.key").write_text("not a key"), "signing key ci.key is not a PEM private key"),
    (lambda env, tmp: (tmp / "ci.key").chmod(0), None),
])
def test_a_bad_signing_key_is_exit_2_with_one_line_and_nothing_written(cli, env, keypair, layout, tmp_path,
                                                                      setup, message):
    setup(env, tmp_path)
    before = tags_of(layout)
    for args in (("mark", layout, "--suite", "unit", "--result", "passed"), ("reject", layout, "--reason", "x"),
                 ("record", layout, "--allow-empty"), ("promote", layout, "--to", "testing")):
        run = cli(*args, "--signing-key", keypair)
        assert run.code == 2, run.err
        first = run.err.splitlines()[0]
        if message:
            assert first == f"shipmark: error: {message}"
        elif (tmp_path / "ci.key").stat().st_mode & 0o777 == 0 and "cannot read" not in first:
            pytest.skip("running as root: an unreadable file is readable")
        assert "s3cret" not in run.err and "wrong" not in run.err.replace("wrong password", "")
        assert "Traceback" not in run.err
    assert tags_of(layout) == before


def test_signed_records_count_for_the_trusted_signer(cli, env, keypair, layout, tmp_path):
    env.setenv("SHIPMARK_SIGNING_KEY", keypair)
    env.setenv("SHIPMARK_SIGNING_KEY_PASSWORD", "s3cret")
    (tmp_path / "shipmark.yaml").write_text("signers: {ci: ci.pub}\ntrust: {test: [ci], promotion: [ci]}\n"
                                            "channels:\n  testing: {require: [unit]}\n")
    assert cli("mark", layout, "--suite", "unit", "--result", "passed").code == 0
    promoted = cli("promote", layout, "--to", "testing", "--json")
    assert promoted.code == 0, promoted.err
    status = cli("status", layout, "--json").json
    assert [r["signers"] for r in status["timeline"]] == [["ci"], ["ci"]]
    promotion = status["timeline"][0]
    assert promotion["policy"] == status["policy"] and status["policy"].startswith("sha256:")
    assert f"policy {status['policy'][:19]}" in cli("status", layout).out


def test_commands_that_decide_need_a_policy_or_an_explicit_no_policy(cli, layout, tmp_path):
    (tmp_path / "shipmark.yaml").unlink()
    for args in (("promote", layout, "--to", "testing"), ("pick", layout.repo.name, "--channel", "testing"),
                 ("rollback", layout.repo.name, "--channel", "testing", "--reason", "x")):
        run = cli(*args)
        assert run.code == 2 and run.err.splitlines()[0].startswith("shipmark: error: no policy for ")
        assert "--no-policy" in run.err
    run = cli("promote", layout, "--to", "testing", "--no-policy", "--json")
    assert run.code == 0, run.err
    assert run.json["record"]["policy"] == "none"
    assert cli("status", layout, "--json").json["timeline"][0]["policy"] == "none"


def test_published_policy_applies_where_no_file_is(cli, keypair, env, layout, tmp_path):
    (tmp_path / "shipmark.yaml").rename(tmp_path / "team-policy.yaml")
    env.setenv("SHIPMARK_SIGNING_KEY_PASSWORD", "s3cret")
    published = cli("policy", "publish", layout.repo.name, "team-policy.yaml", "--signing-key", keypair, "--json")
    assert published.code == 0, published.err
    env.delenv("SHIPMARK_SIGNING_KEY_PASSWORD")
    store = OciDirStore(layout.registry)
    manifest = store.get_manifest(layout.repo.with_tag(mt.POLICY_TAG)).data
    assert manifest["artifactType"] == mt.POLICY_ARTIFACT and manifest["layers"][0]["mediaType"] == mt.DSSE_ENVELOPE
    shown = cli("policy", "show", layout.repo.name, "--policy-key", "ci.pub")
    assert shown.code == 0 and "(verified)" in shown.out and "testing: {require: [unit]}" in shown.out
    refused = cli("promote", layout, "--to", "testing", "--json")
    assert refused.code == 3 and "required suite 'unit' has no result" in refused.out
    assert cli("mark", layout, "--suite", "unit", "--result", "passed").code == 0
    promoted = cli("promote", layout, "--to", "testing", "--json")
    assert promoted.code == 0 and promoted.json["record"]["policy"] == published.json["policy"]


def test_published_policy_not_signed_by_the_policy_key_is_refused(cli, layout, tmp_path, monkeypatch):
    assert cli("keygen", "--out", "other").code == 0
    assert cli("policy", "publish", layout.repo.name, "shipmark.yaml").code == 0
    (tmp_path / "shipmark.yaml").unlink()
    run = cli("pick", layout.repo.name, "--channel", "testing")
    assert run.code == 3   # the published policy applies ...
    monkeypatch.setenv("SHIPMARK_POLICY_KEY", "other.pub")
    run = cli("pick", layout.repo.name, "--channel", "testing")
    assert run.code == 2 and "is not signed by the policy key" in run.err   # ... unless it must be signed


def test_policy_with_an_unreadable_signer_key_names_the_path(cli, layout, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("signers: {ci: keys/missing.pub}\nchannels:\n  testing: {}\n")
    run = cli("pick", layout.repo.name, "--channel", "testing")
    assert run.code == 2
    assert run.err.splitlines()[0] == (f"shipmark: error: shipmark.yaml: signers.ci: public key file "
                                       f"{tmp_path}/keys/missing.pub does not exist")


def test_plan_uses_each_services_published_policy_and_needs_one(cli, layout, tmp_path):
    (tmp_path / "services.yaml").write_text(f"services:\n  - {{name: app, repo: {layout.repo.name}}}\n"
                                            "channel: testing\n")
    published = cli("policy", "publish", layout.repo.name, "shipmark.yaml", "--json").json["policy"]
    (tmp_path / "shipmark.yaml").unlink()
    assert cli("plan", "--json").code == 0   # the published policy applies
    assert cli("mark", layout, "--suite", "unit", "--result", "passed").code == 0
    promoted = cli("promote", layout, "--to", "testing", "--json")
    assert promoted.code == 0 and promoted.json["record"]["policy"] == published
    assert cli("plan", "--json").json["services"][0]["digest"] == promoted.json["digest"]
    other = parse(f"ocidir://{tmp_path}/other")
    (tmp_path / "services.yaml").write_text(f"services:\n  - {{name: o, repo: {other.name}}}\n")
    run = cli("plan")
    assert run.code == 2 and run.err.splitlines()[0] == f"shipmark: error: no policy for {other.name}: nothing " \
                                                        "says which images may enter a channel"


def test_history_counts_signed_promotions_and_reports_the_others(cli, keypair, env, layout, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("signers: {ci: ci.pub}\ntrust: {promotion: [ci]}\n"
                                            "channels:\n  testing: {}\n")
    assert cli("promote", layout, "--to", "testing").code == 0   # unsigned: it happened, but does not count
    history = cli("history", layout.repo.name, "--channel", "testing", "--json").json
    assert history["entries"] == []
    assert [u["why"] for u in history["untrusted"]] == ["unsigned; the policy trusts ci for promotion"]
    env.setenv("SHIPMARK_SIGNING_KEY_PASSWORD", "s3cret")
    assert cli("promote", layout, "--to", "testing", "--signing-key", keypair).code == 0
    history = cli("history", layout.repo.name, "--channel", "testing", "--json").json
    assert [e["tag"] for e in history["entries"]] == [layout.tag] and len(history["untrusted"]) == 1


def test_a_bad_signing_key_is_reported_before_the_policy_is_looked_up(cli, layout, tmp_path):
    (tmp_path / "shipmark.yaml").unlink()
    for args in (("promote", layout, "--to", "testing"), ("rollback", layout.repo.name, "--channel", "testing",
                                                          "--reason", "x")):
        run = cli(*args, "--signing-key", "missing.key")
        assert run.code == 2 and run.err.splitlines()[0] == "shipmark: error: signing key missing.key does not exist"
