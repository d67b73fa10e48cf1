"""Image references, parsed once at the edge.

`parse("registry:5000/team/app:1.0")`, `parse("app@sha256:...")`, `parse("ocidir://demo/app:1.0")`.
Docker Hub names are normalised here (`nginx` -> `docker.io/library/nginx`), and nothing else in
shipmark splits reference strings.
"""

import re
from dataclasses import dataclass, replace
from typing import Optional

from ..errors import InputError

REGISTRY = "reg"
OCIDIR = "ocidir"
OCIDIR_PREFIX = "ocidir://"
DOCKER_HUB = "docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?\Z|^\[[0-9a-fA-F:]+\](?::[0-9]+)?\Z")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}\Z")

_HINT = ("write it as REGISTRY/REPOSITORY:TAG, REGISTRY/REPOSITORY@sha256:<64 hex>, "
         "or ocidir://PATH:TAG")


@dataclass(frozen=True)
class Ref:
    scheme: str          # REGISTRY or OCIDIR
    registry: str        # host[:port]; for OCIDIR the layout directory path
    repository: str      # e.g. "team/app"; for OCIDIR empty (one layout is one repository)
    tag: Optional[str] = None
    digest: Optional[str] = None

    @property
    def repo(self) -> "Ref":
        """The repository alone, without tag or digest."""
        return replace(self, tag=None, digest=None)

    @property
    def reference(self) -> str:
        """What goes after /manifests/: the digest when known, else the tag."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise InputError(f"{self} names a repository, not an image",
                         "add :TAG or @sha256:<digest>")

    def with_tag(self, tag: str) -> "Ref":
        return replace(self, tag=check_tag(tag), digest=None)

    def with_digest(self, digest: str) -> "Ref":
        return replace(self, tag=None, digest=check_digest(digest))

    @property
    def name(self) -> str:
        """The repository as people write it, without tag or digest."""
        if self.scheme == OCIDIR:
            return OCIDIR_PREFIX + self.registry
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag or ""):
        raise InputError(f"invalid tag {tag!r}",
                         "a tag is 1-128 of A-Z a-z 0-9 _ . - and does not start with . or -")
    return tag


def check_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest or ""):
        raise InputError(f"invalid digest {digest!r}", "a digest is sha256: followed by 64 lowercase hex digits")
    return digest


def _split_tag_digest(rest: str, text: str):
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        check_digest(digest)
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not tag:
            raise InputError(f"invalid image reference {text!r}: empty tag", _HINT)
        check_tag(tag)
    return rest, tag, digest


def parse(text: str, default_tag: Optional[str] = "latest") -> Ref:
    """Parse an image reference. With default_tag=None a bare repository stays a repository."""
    if not isinstance(text, str) or not text.strip() or any(c.isspace() for c in text):
        raise InputError(f"invalid image reference {text!r}", _HINT)
    if text.startswith(OCIDIR_PREFIX):
        path, tag, digest = _split_tag_digest(text[len(OCIDIR_PREFIX):], text)
        if not path:
            raise InputError(f"invalid image reference {text!r}: no directory", _HINT)
        return Ref(OCIDIR, path.rstrip("/") or "/", "", tag, digest)
    if "://" in text:
        raise InputError(f"invalid image reference {text!r}: unknown scheme",
                         "leave out http:// or https://; use ocidir://PATH for a layout directory")
    rest, tag, digest = _split_tag_digest(text, text)
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, repository = first, remainder
        if not _HOST_RE.match(registry):
            raise InputError(f"invalid registry host {registry!r} in {text!r}", _HINT)
    else:
        registry, repository = DOCKER_HUB, rest
        if "/" not in repository:
            repository = "library/" + repository
    if not _REPO_RE.match(repository):
        raise InputError(f"invalid repository name {repository!r} in {text!r}",
                         "repository names are lowercase letters, digits and . _ - separated by /")
    if tag is None and digest is None and default_tag is not None:
        tag = default_tag
    return Ref(REGISTRY, registry, repository, tag, digest)


def parse_repo(text: str) -> Ref:
    """A repository: REGISTRY/REPO or ocidir://PATH. A tag or digest is an error."""
    ref = parse(text, default_tag=None)
    if ref.tag or ref.digest:
        raise InputError(f"{text!r} names an image, but a repository is expected",
                         f"leave out the tag or digest: {ref.name}")
    return ref


def parse_image(text: str) -> Ref:
    """An image: a tag or digest is required (no silent :latest)."""
    ref = parse(text, default_tag=None)
    if not ref.tag and not ref.digest:
        raise InputError(f"{text!r} names a repository, but an image is expected",
                         "add :TAG or @sha256:<digest>")
    return ref
