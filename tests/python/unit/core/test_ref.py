import pytest

from shipmark.core import ref
from shipmark.errors import InputError

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("text, expected", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("team/app:1.0", "docker.io/team/app:1.0"),
    ("localhost:5000/app:1.0", "localhost:5000/app:1.0"),
    ("127.0.0.1:5000/team/app@" + DIGEST, "127.0.0.1:5000/team/app@" + DIGEST),
    ("reg.example.com/a/b/c:1.4.2-b3.20261128.abc1234", "reg.example.com/a/b/c:1.4.2-b3.20261128.abc1234"),
    ("ocidir://demo/app:1.0", "ocidir://demo/app:1.0"),
    ("ocidir:///tmp/x@" + DIGEST, "ocidir:///tmp/x@" + DIGEST),
])
def test_parse_normalises_and_round_trips(text, expected):
    assert str(ref.parse(text)) == expected
    assert str(ref.parse(expected)) == expected


@pytest.mark.parametrize("text", [
    "", " ", "UPPER/case:1", "reg.io/app:", "reg.io/app@sha256:short", "http://reg.io/app:1",
    "reg.io/app:1;rm -rf /", "reg.io/app:$(id)", "reg.io/app:tag with space", "reg.io/app:" + "x" * 129,
    "reg.io/app:-dash", "reg.io/ápp:1",
])
def test_parse_rejects_malformed_references(text):
    with pytest.raises(InputError):
        ref.parse(text)


def test_parse_image_requires_tag_or_digest():
    with pytest.raises(InputError, match="repository, but an image"):
        ref.parse_image("reg.io/app")


def test_parse_repo_refuses_tag():
    with pytest.raises(InputError, match="repository is expected") as err:
        ref.parse_repo("reg.io/app:1.0")
    assert "reg.io/app" in err.value.hint


def test_pinned_reference_prefers_digest():
    r = ref.parse("reg.io/app:1.0@" + DIGEST)
    assert r.reference == DIGEST
    assert r.repo.name == "reg.io/app"


@pytest.mark.parametrize("check,value", [
    (ref.check_digest, "sha256:" + "a" * 64 + "\n"),
    (ref.check_tag, "1.0.0\n"),
])
def test_a_trailing_newline_is_not_part_of_a_valid_value(check, value):
    # `$` matches before a final newline; a value read from a registry must match whole.
    with pytest.raises(InputError):
        check(value)
    check(value.rstrip("\n"))
