from datetime import timedelta

import pytest
from ops_support import NOW

from shipmark.core.ref import parse_repo
from shipmark.ops import annotate
from shipmark.ops.demo import push_sample_image
from shipmark.stores.ocidir import OciDirStore


class CountingStore(OciDirStore):
    """An OCI layout store that counts manifest reads, to check how far a walk went."""

    def __init__(self, path):
        super().__init__(path)
        self.heads = []

    def head_manifest(self, ref):
        self.heads.append(ref.reference)
        return super().head_manifest(ref)


@pytest.fixture
def repo(tmp_path):
    return parse_repo(f"ocidir://{tmp_path}/app")


@pytest.fixture
def store(repo):
    return CountingStore(repo.registry)


@pytest.fixture
def build(store, repo):
    """build(n, unit=..., acceptance=...) pushes build n (version 1.0.n) with its records."""
    def make(n, unit="passed", acceptance=None, branch="master"):
        ref = repo.with_tag(f"1.0.{n}-b{n}.20261101.abcdef{n % 10}")
        when = NOW - timedelta(hours=100 - n)
        push_sample_image(store, ref, "app", when, f"abcdef{n % 10}")
        annotate.provenance(store=store, ref=ref, now=when, by="ci", git_branch=branch)
        if unit:
            annotate.mark(store=store, ref=ref, now=when, by="ci", suite="unit", result=unit)
        if acceptance:
            annotate.mark(store=store, ref=ref, now=when + timedelta(minutes=1), by="ci", suite="acceptance",
                          result=acceptance)
        return ref
    return make
