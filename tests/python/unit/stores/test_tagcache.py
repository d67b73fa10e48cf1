from shipmark.core.descriptor import Descriptor
from shipmark.stores.tagcache import VersionTagCache

IMAGE = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "a" * 64, 100)
RECORD = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "b" * 64, 50,
                    "application/vnd.shipmark.record.v1+json", {"dev.shipmark.kind": "test"})


def test_tags_and_records_survive_a_reload(tmp_path):
    cache = VersionTagCache("reg.example.com/team/app", str(tmp_path))
    cache.put("1.0.0-b1.20260101", IMAGE)
    cache.records[RECORD.digest] = RECORD
    cache.save()
    again = VersionTagCache("reg.example.com/team/app", str(tmp_path))
    assert again.get("1.0.0-b1.20260101") == IMAGE
    assert again.records[RECORD.digest] == RECORD
    assert VersionTagCache("reg.example.com/team/other", str(tmp_path)).entries == {}


def test_deleted_tags_are_dropped_and_forget_removes_one(tmp_path):
    cache = VersionTagCache("r/app", str(tmp_path))
    cache.put("1.0.0", IMAGE)
    cache.put("2.0.0", IMAGE)
    cache.save(keep=["2.0.0"])
    cache.forget("2.0.0")
    cache.save()
    assert VersionTagCache("r/app", str(tmp_path)).entries == {}


def test_a_damaged_cache_file_is_ignored(tmp_path):
    cache = VersionTagCache("r/app", str(tmp_path))
    cache.put("1.0.0", IMAGE)
    cache.save()
    with open(cache.path, "w") as fh:
        fh.write('{"tags": {"1.0.0": {"digest": 5}}')
    assert VersionTagCache("r/app", str(tmp_path)).entries == {}
