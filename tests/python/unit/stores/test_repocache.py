import json

from shipmark.core.descriptor import Descriptor
from shipmark.stores.repocache import API_TTL, RepoCache

IMAGE = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "a" * 64, 100)
RECORD = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "b" * 64, 50,
                    "application/vnd.shipmark.record.v1+json", {"dev.shipmark.kind": "test"})


def test_tags_records_and_the_probe_survive_a_reload(tmp_path):
    cache = RepoCache("reg.example.com/team/app", str(tmp_path))
    cache.put_tag("1.0.0-b1.20260101", IMAGE)
    cache.put_record(RECORD.digest, RECORD, IMAGE.digest)
    cache.put_api(True, 1000.0)
    cache.save()
    again = RepoCache("reg.example.com/team/app", str(tmp_path))
    assert again.tags.get("1.0.0-b1.20260101") == IMAGE
    assert again.records.get(RECORD.digest) == (RECORD, IMAGE.digest)
    assert again.api(1000.0 + 60) is True
    assert again.api(1000.0 + API_TTL + 1) is None   # asked again after a day
    assert list(RepoCache("reg.example.com/team/other", str(tmp_path)).tags) == []


def test_deleted_tags_are_dropped_and_forget_removes_one(tmp_path):
    cache = RepoCache("r/app", str(tmp_path))
    cache.put_tag("1.0.0", IMAGE)
    cache.put_tag("2.0.0", IMAGE)
    cache.put_order(["2.0.0"])
    cache.forget_tag("2.0.0")
    cache.save()
    assert list(RepoCache("r/app", str(tmp_path)).tags) == []


def test_the_version_order_survives_a_reload_unless_made_by_other_rules(tmp_path):
    cache = RepoCache("r/app", str(tmp_path))
    cache.put_order(["1.0.0", "1.0.1"])
    cache.save()
    assert RepoCache("r/app", str(tmp_path)).order == ["1.0.0", "1.0.1"]
    with open(cache.path) as fh:
        data = json.load(fh)
    data["order"]["scheme"] += 1
    with open(cache.path, "w") as fh:
        json.dump(data, fh)
    assert RepoCache("r/app", str(tmp_path)).order == []


def test_a_damaged_cache_file_is_ignored(tmp_path):
    cache = RepoCache("r/app", str(tmp_path))
    cache.put_tag("1.0.0", IMAGE)
    cache.save()
    for damage in ("[1, 2]", '{"tags": [], "order": [1]', '{"tags": 5, "order": ["x"], "api": 3}'):
        with open(cache.path, "w") as fh:
            fh.write(damage)
        again = RepoCache("r/app", str(tmp_path))
        assert list(again.tags) == [] and again.order == [] and again.api(0) is None


def test_a_damaged_entry_is_dropped_and_the_others_kept(tmp_path):
    cache = RepoCache("r/app", str(tmp_path))
    cache.put_tag("1.0.0", IMAGE)
    cache.put_tag("2.0.0", IMAGE)
    cache.save()
    with open(cache.path) as fh:
        data = json.load(fh)
    data["tags"]["1.0.0"]["digest"] = 5
    with open(cache.path, "w") as fh:
        json.dump(data, fh)
    again = RepoCache("r/app", str(tmp_path))
    assert again.tags.get("1.0.0") is None and "1.0.0" not in again.tags
    assert again.tags.get("2.0.0") == IMAGE


def test_entries_are_made_only_when_asked_and_saved_as_read(tmp_path, monkeypatch):
    cache = RepoCache("r/app", str(tmp_path))
    for n in range(50):
        cache.put_record(f"sha256:{n:064x}", RECORD, IMAGE.digest)
    cache.put_reading(RECORD.digest, "with", {"record": None, "why": "x"})
    cache.save()
    made = []
    original = Descriptor.from_json
    monkeypatch.setattr(Descriptor, "from_json", staticmethod(lambda d: made.append(d) or original(d)))
    again = RepoCache("r/app", str(tmp_path))
    assert again.records.get(f"sha256:{7:064x}") == (RECORD, IMAGE.digest)
    assert len(made) == 1
    again.put_tag("1.0.0", IMAGE)   # a change: saved with every entry as it was read
    again.save()
    last = RepoCache("r/app", str(tmp_path))
    assert len(list(last.records)) == 50 and last.readings.get(RECORD.digest) == ("with", {"record": None, "why": "x"})
    assert last.tags.get("1.0.0") == IMAGE
