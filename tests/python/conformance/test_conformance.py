"""The test registries, proven by the OCI distribution-spec conformance suite.

shipmark's store tests are only as good as the registries they run on, so the suite runs
against each of them and these tests read what it wrote (junit.xml, results.yaml), never just
its exit code. Each named spec below is a group of the suite's specs that shipmark relies on;
every spec in it must pass, unless the registry's known gaps below allow another outcome.
"""

import fnmatch

import pytest

# The kinds of image the suite pushes that shipmark writes or meets (not the sparse or
# non-distributable ones).
DATA = ("image", "image-uncompressed", "large-manifest", "index", "nested-index", "empty-index",
        "artifact", "artifact-index", "artifact-without-layers", "artifacts-with-subject",
        "index-with-subject", "missing-subject", "data-field", "custom-fields", "no-layers")
SUBJECT_DATA = ("artifacts-with-subject", "index-with-subject", "missing-subject")


def _each(data, spec):
    return [f"{name}/{spec}" for name in data]


# Named spec -> glob patterns over the suite's spec names.
NAMED_SPECS = {
    "ping": ["ping"],
    "blob push": ["sha256 blobs/post+put/*", "sha256 blobs/empty/*", "sha256 blobs/emptyJSON/*",
                  *_each(DATA, "push/blob-post-put")],
    "blob digest check": ["sha256 blobs/bad digest post+put/*"],
    "blob mount": ["sha256 blobs/mount/*"],
    "blob pull": ["sha256 blobs/get-missing", *_each(DATA, "pull/blob-get"),
                  *_each(DATA, "head/blob-head")],
    "manifest push": _each(DATA, "push/manifest-by-*"),
    "manifest digest check": ["bad-digest-image/*"],
    "malformed digest": ["invalid-digest-format/*"],
    "manifest pull": ["missing-manifest/*", *_each(DATA, "pull/manifest-by-*"),
                      *_each(DATA, "head/manifest-head-by-*")],
    "tag list": ["empty/tag list", *_each(DATA, "tag-list")],
    "referrers": ["empty/referrers", *_each(SUBJECT_DATA, "referrers")],
    "subject": _each(SUBJECT_DATA, "push/manifest-by-*"),
    "manifest delete": _each(DATA, "delete/manifest-delete"),
    "tag delete": _each(DATA, "delete/tag-delete"),
}

# Known gaps: (spec name pattern, outcomes allowed besides "passed", text the suite's message
# must contain, why). Only these may differ from "passed".
KNOWN_GAPS = {
    "registry2": [
        ("empty/referrers", {"skipped"}, "", "Docker Registry 2.8 has no referrers API"),
        ("*/referrers", {"skipped"}, "", "Docker Registry 2.8 has no referrers API"),
        ("*/delete/tag-delete", {"skipped"}, "registry returned status 400",
         "Docker Registry 2.8 deletes manifests, not tags"),
        ("*-with-subject/tag-list", {"failure"}, "returned when last set",
         "Docker Registry 2.8 ignores last= and n=: no tag pagination"),
        ("invalid-digest-format/manifest-*", {"failure"}, "received 500",
         "Docker Registry 2.8 answers 500 to the digest sha256:baddigeststring"),
    ],
    "referrers": [],
    "legacy-referrers": [
        ("*/push/manifest-by-*", {"failure"}, 'mismatch for "OCI-Subject"',
         "no OCI-Subject header on a manifest PUT with a subject"),
        ("*-subject/referrers", {"skipped"}, "OCI-Filters-Applied",
         "?artifactType= is ignored: no filtering, no OCI-Filters-Applied"),
    ],
}

def _expected(kind, name):
    for pattern, allowed, mention, why in KNOWN_GAPS[kind]:
        if fnmatch.fnmatchcase(name, pattern):
            return allowed | {"passed"}, mention, why
    return {"passed"}, "", ""


def _listing(lines, most=25):
    return "\n".join(lines[:most] + ([f"... and {len(lines) - most} more"] if len(lines) > most else []))


def _matches(run, patterns):
    return [r for r in run.results if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]


@pytest.mark.parametrize("kind", list(KNOWN_GAPS))
@pytest.mark.parametrize("spec", list(NAMED_SPECS))
def test_named_spec(conformance, kind, spec, record_property):
    record_property("named_spec", spec)
    record_property("registry", kind)
    run = conformance(kind)
    matched = _matches(run, NAMED_SPECS[spec])
    assert matched, f"the suite ran no spec named {NAMED_SPECS[spec]} (renamed?)"
    wrong, gaps = [], set()
    for result in matched:
        allowed, mention, why = _expected(kind, result.name)
        if result.status not in allowed or (result.status != "passed" and mention not in result.message):
            wrong.append(f"{result.name}: {result.status}: {result.message[:300]}"
                         + (f" (known gap allowed: {why})" if why else ""))
        elif result.status != "passed":
            gaps.add(why)
    record_property("known_gaps", "; ".join(sorted(gaps)))
    assert not wrong, f"{spec} on {kind}: {len(wrong)} spec(s) did not pass:\n" + _listing(wrong)


def test_referrers_registry_passes_the_whole_suite(conformance):
    """Not only what shipmark relies on: every API the suite tests, sha512 aside."""
    run = conformance("referrers")
    failing = [f"{r.name}: {r.status}: {r.message[:200]}" for r in run.results
               if r.status not in ("passed", "skipped")]
    assert not failing, f"{len(failing)} spec(s) did not pass:\n" + _listing(failing)
    assert {api: status for api, status in run.apis.items()
            if status not in ("Pass", "Disabled")} == {}
    assert run.totals["fail"] == run.totals["error"] == 0 and run.totals["pass"] > 700


def test_legacy_variant_lacks_only_filtering_and_oci_subject(conformance):
    """The legacy variant is legacy on purpose: exactly those two parts are missing, so
    shipmark's fallbacks for them are tested, and nothing else is."""
    run = conformance("legacy-referrers")
    not_passed = [r for r in run.results if r.status != "passed"]
    subject = [r for r in not_passed if 'mismatch for "OCI-Subject"' in r.message]
    filters = [r for r in not_passed if "OCI-Filters-Applied" in r.message]
    assert subject and filters
    assert sorted(r.name for r in not_passed) == sorted(r.name for r in subject + filters)
