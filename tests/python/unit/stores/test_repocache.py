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
    assert again.tags["1.0.0-b1.20260101"] == IMAGE
    assert again.records[RECORD.digest] == (RECORD, IMAGE.digest)
    assert again.api(1000.0 + 60) is True
    assert again.api(1000.0 + API_TTL + 1) is None   # asked again after a day
    assert RepoCache("reg.example.com/team/other", str(tmp_path)).tags == {}


def test_deleted_tags_are_dropped_and_forget_removes_one(tmp_path):
    cache = RepoCache("r/app", str(tmp_path))
    cache.put_tag("1.0.0", IMAGE)
    cache.put_tag("2.0.0", IMAGE)
    cache.put_order(["2.0.0"])
    cache.forget_tag("2.0.0")
    cache.save()
    assert RepoCache("r/app", str(tmp_path)).tags == {}


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
    with open(cache.path, "w") as fh:
        fh.write('{"tags": {"1.0.0": {"digest": 5}}, "records": {}}')
    assert RepoCache("r/app", str(tmp_path)).tags == {}
