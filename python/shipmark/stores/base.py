"""The Store protocol: what every store (registry, OCI layout) can do.

Optional abilities get their own small protocol (as regclient's scheme.Closer does):
`ReferrersAPI` is only implemented by stores that may have a native referrers endpoint.
"""

from dataclasses import dataclass
from typing import List, Optional, Protocol, Tuple, runtime_checkable

from ..core.descriptor import Descriptor, Manifest
from ..core.ref import Ref
from ..errors import RegistryError


@runtime_checkable
class Store(Protocol):
    limits: "Limits"   # how much it reads, and for how long

    def get_manifest(self, ref: Ref) -> Manifest:
        """By tag or digest. NotFoundError when absent. Byte-exact, and checked: its digest is
        the sha256 of the bytes read. At most `limits.manifest_bytes`."""

    def head_manifest(self, ref: Ref) -> Descriptor:
        """Descriptor (media type, digest, size) without the body. NotFoundError when absent."""

    def put_manifest(self, ref: Ref, manifest: Manifest) -> str:
        """Store under ref.tag, or by digest when ref has no tag. Returns the digest."""

    def list_tags(self, repo: Ref) -> List[str]:
        """Every tag of the repository, internal ones included, all pages followed (at most
        `limits.tags` tags in `limits.tag_pages` pages). Names that are not valid tags are left
        out: a conformant registry never lists one, and none may reach a command's output."""

    def blob_exists(self, repo: Ref, digest: str) -> bool: ...

    def get_blob(self, repo: Ref, digest: str, max_bytes: Optional[int] = None) -> bytes:
        """The blob, checked against its digest. More than `max_bytes` is an error (a registry:
        TooLargeError; a layout: InputError) found before or while reading, never after."""

    def put_blob(self, repo: Ref, data: bytes, digest: Optional[str] = None) -> str:
        """Upload (callers that may skip a present blob ask `blob_exists` first); returns the
        digest."""

    def delete_manifest(self, ref: Ref) -> None:
        """By digest: the manifest (most registries drop its tags with it). By tag: only that
        tag, where the registry allows it. NotFoundError when absent."""

    def copy_blob(self, src: Ref, dst: Ref, digest: str) -> None:
        """Make the blob available in dst: mount across repositories where possible, never stream
        layers through the client when the store can link them."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class ReferrersAnswer:
    """What a registry's referrers endpoint said about one subject."""

    supported: bool                          # False: no referrers API here (use the tag schema)
    descriptors: Tuple[Descriptor, ...] = ()


@runtime_checkable
class ReferrersAPI(Protocol):
    def referrers(self, repo: Ref, subject_digest: str) -> ReferrersAnswer:
        """Ask the native referrers endpoint (all pages). Errors that say nothing about the
        API (auth, overload) raise; an unknown subject or repository is an empty answer."""


KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    """How much shipmark reads from a store, and for how long, before it gives up with a clear
    error. The CLI fills it from settings (flags, SHIPMARK_* variables); stores enforce it."""

    deadline: float = 120.0          # seconds left of the command's deadline when the store opens
    timeout: Optional[float] = None  # the deadline as set (--timeout, SHIPMARK_TIMEOUT), for messages
    connect_timeout: float = 10.0    # seconds to open one connection
    read_timeout: float = 30.0       # seconds of silence on one connection
    manifest_bytes: int = 4 * MiB    # distribution's own limit for a manifest
    payload_bytes: int = 1 * MiB     # a record's statement (its one layer)
    tags: int = 100_000              # tags listed in one repository
    tag_pages: int = 1_000           # pages of one tag listing


class TooLargeError(RegistryError):
    """A registry answered with more than shipmark reads (a manifest, a record's payload, a tag
    listing): the message names the limit and, where there is one, the setting that raises it."""


def size_text(size: int) -> str:
    """4194304 -> '4 MiB', 4096 -> '4 KiB', 1536 -> '1.5 KiB', 64 -> '64 bytes'."""
    for unit, scale in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= scale:
            return f"{size / scale:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{size} bytes"
