"""RegistryStore: the Store (and ReferrersAPI) over the OCI distribution API.

- Scheme: HTTPS with verification. Loopback hosts (127.0.0.0/8, localhost, ::1) and hosts
  named in `insecure_registries` follow Docker's rule instead: HTTPS first, plain HTTP when
  the server does not speak TLS, found by one probe (`GET /v2/` over HTTPS) per registry and
  remembered for the life of the store (the process, for the CLI). Named hosts also skip
  certificate verification, as Docker does for them; loopback ones keep it.
- TLS: trust and client certificates per registry from `ca_file` and certs.d (see tls.py);
  the token service is reached with its registry's TLS settings, as Docker and Podman do.
- Manifests are byte-exact, fetched with the full Accept list (Registry 2.x rewrites Docker v2
  manifests to schema1 otherwise) and named by the sha256 of the bytes received: the
  `Docker-Content-Digest` header is only a hint that must agree (and be a digest at all), and
  a GET by digest must hash to that digest. Only then are those read by digest (and those
  written) kept in the content-addressed disk cache: a GET by digest that hits it sends
  nothing. What a tag names changes, so a GET by tag is not kept.
- Tags: pages of `tag_page_size` (10,000: a repository's record tags make its listing several
  times its builds, and each page is a request), following `Link: <...>; rel="next"` as the
  distribution spec says; a registry that refuses that size (400) is asked for its own. (Registry
  2.8 ignores `n` and sends every tag at once.) Names that are not valid tags are left out.
- Limits (`Limits`): every answer is streamed and read up to its limit (manifests 4 MiB, record
  payloads 1 MiB when the caller asks, tag listings by tags and pages); connect and read
  timeouts per request, cut to what is left of one deadline per store (the command): no
  request, retry or read goes on past it.
- The plain-HTTP rule (transport.allowed_url) holds for every URL requested: the registry,
  `Link` and `Location` URLs, redirects and the token realm (auth.py).
- Blobs: monolithic upload in one request (`POST ?digest=` with the bytes) where the registry
  takes it, else POST, then PUT `?digest=` (remembered per registry after its first 202);
  `copy_blob` mounts across repositories of one registry and streams only when it must.
- Referrers: `referrers()` asks the native endpoint and says whether it exists; only a 200
  carrying an OCI index counts. Which records count is decided in stores/discovery.py.
- Errors: every urllib3 exception and every unexpected status becomes a shipmark
  error here (AuthError, NotFoundError, RegistryError) naming the host and the image; no
  password, Authorization header or URL userinfo ever reaches a message.
- Thread-safe: one instance serves a ThreadPoolExecutor (transport.Http pools `pool_size`
  connections per host; the auth cache and the scheme probes are locked).
"""

import json
import logging
import threading
import time
import warnings
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple
from urllib.parse import quote, urljoin, urlsplit

import urllib3

from ...core import mediatype as mt
from ...core.descriptor import Descriptor, Manifest, sha256
from ...core.ref import DIGEST_RE, REGISTRY, TAG_RE, Ref, check_digest
from ...errors import InputError, NotFoundError, RegistryError, ShipmarkError
from .. import CA_FILE_VAR, CERTS_DIR_VAR, INSECURE_VAR
from ..base import Limits, ReferrersAnswer, TooLargeError, size_text
from ..cache import ManifestCache
from .auth import Authenticator, CredsFn, auth_error, scope_for
from .tls import TLSConfig, TLSSettings
from .transport import (
    CLIENT_CERT,
    PLAIN,
    PLAIN_HTTP_REFUSED,
    SMALL_BODY,
    UNTRUSTED,
    Answer,
    BodyTooLarge,
    DeadlinePassed,
    Http,
    RedirectRefused,
    StreamBody,
    allowed_url,
    causes,
    host_only,
    https_only_answer,
    plain_http_allowed,
    read_body,
    release_frames,
    sanitize_url,
    tls_failure,
    with_query,
)

log = logging.getLogger("shipmark.registry")

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
NOT_FOUND_CODES = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
_CHUNK = 1 << 20
_STATUS_HINT = ("check that the registry is healthy (its logs, disk space), then run the command "
                "again; shipmark already retried what was safe to retry")
_MISBEHAVING = ("the registry or a proxy in between is misbehaving; use HTTPS, and report it to "
                "the registry's administrators")
_TAG_BYTES = 256        # room for one tag in a tag listing's JSON (128 characters, quotes, spaces)
_DEADLINE_SLACK = 0.05  # a timeout cut to the deadline may end a few milliseconds before it


def api_host(registry: str) -> str:
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


class RegistryStore:
    """Store + ReferrersAPI for any number of registries (the host comes from each Ref)."""

    tag_page_size = 10_000

    def __init__(self, creds_for: Optional[CredsFn] = None,
                 insecure_registries: Iterable[str] = (), ca_file: Optional[str] = None,
                 certs_roots: Sequence[str] = (), cache: Optional[ManifestCache] = None,
                 ca_bundle: Optional[str] = None, pool_size: int = 16, retries=None,
                 limits: Optional[Limits] = None):
        self.limits = limits = limits or Limits()
        self._deadline = time.monotonic() + limits.deadline   # one for the life of the store
        self._insecure = frozenset(h.strip().lower() for h in insecure_registries if h and h.strip())
        self._http = Http(self.allowed_url, pool_size=pool_size, retries=retries,
                          deadline=self._deadline)
        self._tls = TLSSettings(ca_file, certs_roots, base_bundle=ca_bundle)
        self._auth = Authenticator(self._http, self._timeouts, self.allowed_url, creds_for,
                                   self._tls_for)
        self._cache = cache
        self._lock = threading.Lock()
        self._schemes: Dict[str, str] = {}              # api host -> "https" | "http"
        self._scheme_gates: Dict[str, threading.Lock] = {}
        self._probe_failed: Dict[str, float] = {}       # api host -> when a probe failed
        self._unreachable: Dict[str, str] = {}          # api host -> why its last probe failed
        self._probe_tls: Optional[TLSConfig] = None
        self._two_step_upload: Set[str] = set()   # api hosts that answered a one-request upload with 202

    # -- Store: manifests ---------------------------------------------------------------------

    def get_manifest(self, ref: Ref) -> Manifest:
        self._check_ref(ref)
        if ref.digest and self._cache is not None:
            hit = self._cache.get(ref.digest)
            if hit is not None:
                return Manifest(hit[0], hit[1], ref.digest)
        what = f"manifest {ref}"
        resp = self._request("GET", ref.registry, f"/v2/{ref.repository}/manifests/{ref.reference}",
                             [scope_for(ref.repository)], what=what,
                             headers={"Accept": mt.MANIFEST_ACCEPT})
        self._expect(resp, (200,), "GET", what, ref.registry)
        hinted = self._digest_header(resp, what, ref.registry)
        raw = self._read(resp, self.limits.manifest_bytes, what, ref.registry,
                         "the most shipmark reads of a manifest (the distribution spec's limit)")
        digest = sha256(raw)
        if ref.digest and digest != ref.digest:
            raise RegistryError(
                f"registry {ref.registry} returned a manifest for {ref} whose digest is {digest}",
                "the registry or a proxy in between altered the manifest; fetch it directly "
                "from the registry, or report it to the registry's administrators")
        if hinted and hinted != digest:
            raise RegistryError(f"registry {ref.registry} sent {what} with Docker-Content-Digest "
                                f"{hinted}, but the bytes it sent have digest {digest}", _MISBEHAVING)
        media_type = _media_type(resp, raw)
        if ref.digest and self._cache is not None:   # by tag: not kept (see the module docstring)
            self._cache.put(digest, media_type, raw)
        return Manifest(media_type, raw, digest)

    def head_manifest(self, ref: Ref) -> Descriptor:
        self._check_ref(ref)
        what = f"manifest {ref}"
        resp = self._request("HEAD", ref.registry, f"/v2/{ref.repository}/manifests/{ref.reference}",
                             [scope_for(ref.repository)], what=what,
                             headers={"Accept": mt.MANIFEST_ACCEPT})
        self._expect(resp, (200,), "HEAD", what, ref.registry)
        digest = self._digest_header(resp, what, ref.registry) or ref.digest
        size = resp.headers.get("Content-Length")
        media_type = _content_type(resp)
        self._discard(resp)
        if not digest or not size or not size.isdigit() or media_type not in mt.MANIFEST_TYPES:
            manifest = self.get_manifest(ref)  # a registry that leaves headers out: ask for all
            return Descriptor(manifest.media_type, manifest.digest, len(manifest.raw))
        if ref.digest and digest != ref.digest:
            raise RegistryError(f"registry {ref.registry} answered for {ref} with digest {digest}",
                                "the registry or a proxy in between is misbehaving")
        return Descriptor(media_type, digest, int(size))

    def put_manifest(self, ref: Ref, manifest: Manifest) -> str:
        self._check_ref(ref, need_reference=False)
        if ref.digest and ref.digest != manifest.digest:
            raise InputError(f"manifest digest {manifest.digest} does not match {ref}",
                             "push a manifest under the digest of its own bytes")
        reference = ref.tag or manifest.digest
        target = ref.repo.with_tag(ref.tag) if ref.tag else ref.repo.with_digest(manifest.digest)
        what = f"manifest {target}"
        resp = self._request("PUT", ref.registry, f"/v2/{ref.repository}/manifests/{reference}",
                             [scope_for(ref.repository, "pull,push")], what=what,
                             headers={"Content-Type": manifest.media_type}, data=manifest.raw)
        self._expect(resp, (200, 201, 202), "PUT", what, ref.registry)
        echoed = self._digest_header(resp, what, ref.registry)
        self._discard(resp)
        if echoed and echoed != manifest.digest:
            raise RegistryError(
                f"registry {ref.registry} stored {target} under digest {echoed}, "
                f"not {manifest.digest}",
                "the registry rewrote the manifest; it may not support this media type "
                f"({manifest.media_type})")
        if self._cache is not None:
            self._cache.put(manifest.digest, manifest.media_type, manifest.raw)
        return manifest.digest

    def delete_manifest(self, ref: Ref) -> None:
        self._check_ref(ref)
        what = f"manifest {ref}"
        resp = self._request("DELETE", ref.registry, f"/v2/{ref.repository}/manifests/{ref.reference}",
                             [scope_for(ref.repository, "pull,push,delete")], what=what)
        self._expect(resp, (200, 202), "DELETE", what, ref.registry)
        self._discard(resp)

    # -- Store: tags --------------------------------------------------------------------------

    def list_tags(self, repo: Ref) -> List[str]:
        self._check_ref(repo, need_reference=False)
        size = int(self.tag_page_size)
        path = f"/v2/{repo.repository}/tags/list"
        first = f"{self._base(repo.registry)}{path}"
        url: Optional[str] = f"{first}?n={size}"
        what = f"repository {repo.name}"
        most = self.limits.tags
        too_many = TooLargeError(
            f"registry {repo.registry} lists more than {most:,} tags for {repo.name}; shipmark "
            f"reads at most {most:,} (--max-tags / SHIPMARK_MAX_TAGS raises the limit)",
            "delete old tags, or raise the limit if the repository really holds that many")
        tags: List[str] = []
        seen: Set[str] = set()
        visited: Set[str] = set()
        dropped = 0
        while url and url not in visited:
            self._count_page(visited, url, repo.registry, f"tags of {repo.name}")
            resp = self._request("GET", repo.registry, path, [scope_for(repo.repository)],
                                 what=what, url=url)
            if resp.status_code == 400 and not tags and url != first:
                # A registry that caps the page size may refuse ours instead of clamping it:
                # ask for its own pages (the next-page links say how to go on).
                self._discard(resp)
                log.debug("registry %s refused n=%d for a tag list; asking for its own page size",
                          repo.registry, size)
                url = first
                continue
            self._expect(resp, (200,), "GET", what, repo.registry)
            nxt = resp.next_link()
            try:
                body = self._read(resp, most * _TAG_BYTES + SMALL_BODY, what, repo.registry, "")
            except TooLargeError:
                raise too_many from None
            try:
                page = json.loads(body).get("tags") or []
                iter(page)
            except (ValueError, AttributeError, TypeError):
                raise RegistryError(f"registry {repo.registry} sent a malformed tag list for "
                                    f"{repo.name}", _STATUS_HINT) from None
            for tag in page:
                if not isinstance(tag, str) or not TAG_RE.match(tag):
                    dropped += 1
                elif tag not in seen:
                    seen.add(tag)
                    tags.append(tag)
            if len(tags) > most:
                raise too_many
            url = urljoin(url, nxt) if nxt else None
        if dropped:
            log.warning("registry %s listed %d names for %s that are not valid tags; they are "
                        "ignored", repo.registry, dropped, repo.name)
        return tags

    # -- Store: blobs -------------------------------------------------------------------------

    def blob_exists(self, repo: Ref, digest: str) -> bool:
        self._check_ref(repo, need_reference=False)
        check_digest(digest)
        what = f"blob {digest} in {repo.name}"
        resp = self._request("HEAD", repo.registry, f"/v2/{repo.repository}/blobs/{digest}",
                             [scope_for(repo.repository)], what=what)
        if resp.status_code == 404:
            self._discard(resp)
            return False
        self._expect(resp, (200,), "HEAD", what, repo.registry)
        self._discard(resp)
        return True

    def get_blob(self, repo: Ref, digest: str, max_bytes: Optional[int] = None) -> bytes:
        self._check_ref(repo, need_reference=False)
        check_digest(digest)
        what = f"blob {digest} in {repo.name}"
        resp = self._request("GET", repo.registry, f"/v2/{repo.repository}/blobs/{digest}",
                             [scope_for(repo.repository)], what=what)
        self._expect(resp, (200,), "GET", what, repo.registry)
        data = self._read(resp, max_bytes, what, repo.registry, "the most shipmark reads of it")
        if sha256(data) != digest:
            raise RegistryError(f"registry {repo.registry} returned corrupt content for {what}",
                                "retry; if it persists the registry's storage is damaged")
        return data

    def put_blob(self, repo: Ref, data: bytes, digest: Optional[str] = None) -> str:
        self._check_ref(repo, need_reference=False)
        actual = sha256(data)
        if digest and digest != actual:
            raise InputError(f"blob content has digest {actual}, not {digest}",
                             "pass the digest of the bytes being uploaded")
        scopes = [scope_for(repo.repository, "pull,push")]
        host = api_host(repo.registry)
        if host in self._two_step_upload:
            location = self._start_upload(repo, scopes)
        else:
            started = self._upload_in_one(repo, scopes, actual, data)
            if started is None:
                return actual
            with self._lock:
                self._two_step_upload.add(host)
            location = started
        self._finish_upload(repo, scopes, location, actual, data)
        return actual

    def copy_blob(self, src: Ref, dst: Ref, digest: str) -> None:
        self._check_ref(src, need_reference=False)
        self._check_ref(dst, need_reference=False)
        if self.blob_exists(dst, digest):
            return
        scopes = [scope_for(dst.repository, "pull,push")]
        location = None
        if src.registry == dst.registry and src.repository != dst.repository:
            scopes.append(scope_for(src.repository))
            what = f"blob {digest} mounted from {src.name} into {dst.name}"
            resp = self._request(
                "POST", dst.registry, f"/v2/{dst.repository}/blobs/uploads/?mount={digest}"
                f"&from={quote(src.repository, safe='/')}", scopes, what=what, data=b"")
            if resp.status_code == 201:
                self._discard(resp)
                log.debug("mounted %s from %s into %s", digest, src.name, dst.name)
                return
            self._expect(resp, (202,), "POST", what, dst.registry)
            location = self._location(dst, resp)  # mount refused: upload into this session
            log.debug("registry %s refused to mount %s; streaming it", dst.registry, digest)
        self._stream_blob(src, dst, digest, scopes, location)

    # -- ReferrersAPI -------------------------------------------------------------------------

    def referrers(self, repo: Ref, subject_digest: str) -> ReferrersAnswer:
        self._check_ref(repo, need_reference=False)
        path = f"/v2/{repo.repository}/referrers/{subject_digest}"
        what = f"referrers of {repo.name}@{subject_digest}"
        url: Optional[str] = f"{self._base(repo.registry)}{path}"
        found: Dict[str, Descriptor] = {}
        visited: Set[str] = set()
        while url and url not in visited:
            self._count_page(visited, url, repo.registry, what)
            resp = self._request("GET", repo.registry, path, [scope_for(repo.repository)],
                                 what=what, url=url, headers={"Accept": mt.OCI_INDEX})
            nxt = resp.next_link()
            index = None
            if resp.status_code == 200:
                index = _oci_index(resp, self._read(resp, self.limits.manifest_bytes, what,
                                                    repo.registry, "the most shipmark reads of "
                                                    "one page of a listing"))
            if index is None:
                if resp.status_code in (401, 403, 429) or resp.status_code >= 500:
                    self._expect(resp, (200,), "GET", what, repo.registry)  # raises
                codes = (_error_codes(resp, self._error_body(resp))[0]
                         if resp.status_code == 404 else [])
                self._discard(resp)
                # A distribution-spec error (NAME_UNKNOWN, MANIFEST_UNKNOWN) comes from a route
                # that exists: nothing is attached yet (Quay answers so for a repository it does
                # not know, quay/quay#6385). Registry 2.8 answers a route it lacks with a
                # plain-text "404 page not found".
                supported = bool(found) or bool(set(codes) & NOT_FOUND_CODES)
                return ReferrersAnswer(supported, tuple(found.values()))
            for entry in index.get("manifests") or []:
                try:
                    desc = Descriptor.from_json(entry)
                except ShipmarkError:
                    log.debug("skipping a malformed entry in %s", what)
                    continue
                found[desc.digest] = desc
            url = urljoin(url, nxt) if nxt else None
        return ReferrersAnswer(True, tuple(found.values()))

    @property
    def cache_root(self) -> Optional[str]:
        """Where discovery keeps what it remembers of each repository (beside the manifests)."""
        return self._cache.root if self._cache is not None else None

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "RegistryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _count_page(self, visited: Set[str], url: str, registry: str, what: str) -> None:
        """One more page of a listing; past the page limit, the error that names it."""
        if len(visited) == self.limits.tag_pages:
            raise TooLargeError(
                f"registry {registry} lists the {what} in more than {len(visited):,} pages; "
                f"shipmark follows at most {len(visited):,} (SHIPMARK_MAX_TAG_PAGES raises the limit)",
                "check the registry: a listing that never ends is a broken or hostile registry")
        visited.add(url)

    def _check_ref(self, ref: Ref, need_reference: bool = True) -> None:
        if ref.scheme != REGISTRY:
            raise InputError(f"{ref} is not a registry reference",
                             "open an OCI layout with its own store (ocidir://)")
        if need_reference:
            _ = ref.reference  # raises InputError for a bare repository

    def named_insecure(self, registry: str) -> bool:
        reg = registry.lower()
        return reg in self._insecure or host_only(reg) in self._insecure

    def allows_plain_http(self, registry: str) -> bool:
        """Docker's rule: loopback and named-insecure registries may answer in plain HTTP."""
        return plain_http_allowed(registry, self._insecure)

    def allowed_url(self, url: str) -> bool:
        """The same rule for any URL a request goes to (transport.allowed_url)."""
        return allowed_url(url, self._insecure)

    def scheme(self, registry: str) -> str:
        """"https", or "http" for a registry that may answer in plain HTTP and does not speak
        TLS. Probed once per registry: the first thread probes, the others wait for it. When
        the registry cannot be reached, the threads that waited do not probe again one after
        the other (a hung server would cost each of them the timeout): their requests say
        what is wrong, and a later request probes afresh."""
        if not self.allows_plain_http(registry):
            return "https"
        host = api_host(registry)
        asked = time.monotonic()
        with self._lock:
            known = self._schemes.get(host)
            gate = self._scheme_gates.setdefault(host, threading.Lock())
        if known:
            return known
        with gate:
            with self._lock:
                known = self._schemes.get(host)
                failed = self._probe_failed.get(host, float("-inf"))
            if known:
                return known
            if failed > asked:
                return "https"
            found = self._probe_scheme(host)
            with self._lock:
                if found:
                    self._schemes[host] = found
                else:
                    self._probe_failed[host] = time.monotonic()
            return found or "https"

    def _probe_scheme(self, host: str) -> Optional[str]:
        """HTTPS if the server answers TLS (whatever the status; any certificate problem is
        for the request itself to report), HTTP if it answers the handshake in plain HTTP,
        None when it cannot be reached (the request will say so; the next one probes again).

        The probe neither verifies nor shows a client certificate: it only asks whether TLS
        is spoken, and loading the CA bundle for it (~60 ms) would be wasted on plain-HTTP
        registries. Its `GET /v2/` carries no credentials."""
        url = f"https://{host}/v2/"
        started = time.monotonic()
        if self._probe_tls is None:
            self._probe_tls = TLSConfig(verify=False)
        try:
            with warnings.catch_warnings():  # unverified on purpose, see above
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                resp = self._http.request("GET", url, tls=self._probe_tls, timeout=self._timeouts(host),
                                          follow_redirects=False)
        except RegistryError:
            return None   # the deadline has passed: the request itself says so
        except urllib3.exceptions.HTTPError as exc:
            failure = tls_failure(exc)
            release_frames(exc)
            if failure is None:
                self._unreachable[host] = _transport_error(exc, "GET", url, host).message
                return None
            found = "http" if failure[0] == PLAIN else "https"
            log.debug("registry %s: TLS handshake failed (%s); using %s", host, failure[1],
                      found.upper())
            return found
        self._discard(resp)
        log.debug("registry %s speaks TLS (probe answered %s in %.0f ms)", host,
                  resp.status_code, (time.monotonic() - started) * 1000)
        return "https"

    def _base(self, registry: str) -> str:
        return f"{self.scheme(registry)}://{api_host(registry)}"

    def _tls_for(self, host: str) -> TLSConfig:
        """The TLS setting of this registry host and its token service."""
        return self._tls.for_host(host, verify=not self.named_insecure(host))

    def _request(self, method: str, registry: str, path: str, scopes: Sequence[str], *,
                 what: str, url: Optional[str] = None, headers=None, data=None,
                 idempotent: bool = False) -> Answer:
        """One request with auth: send what auth already knows; on a 401 answer the challenge
        and send once more. The answer is streamed: read it with `_read`, or `_discard` it."""
        host = api_host(registry)
        url = url or f"{self._base(registry)}{path}"
        same_host = urlsplit(url).netloc.lower() == host.lower()
        hdrs = dict(headers or {})
        sent = self._auth.header(host, scopes) if same_host else None
        if sent:
            hdrs["Authorization"] = sent
        resp = self._send(method, url, host, hdrs, data, idempotent)
        if resp.status_code == 401 and same_host and resp.headers.get("WWW-Authenticate"):
            self._discard(resp)
            retry = self._auth.challenge(host, scopes, resp.headers["WWW-Authenticate"], sent)
            if retry is None:
                raise auth_error(host, False, what)
            if isinstance(data, StreamBody):
                raise auth_error(host, self._auth.has_creds(host), what)
            if retry != sent:
                hdrs["Authorization"] = retry
                resp = self._send(method, url, host, hdrs, data, idempotent)
        return resp

    def _send(self, method, url, host, headers, data, idempotent=False) -> Answer:
        if not self.allowed_url(url):
            raise RegistryError(f"registry {host} sends shipmark to {sanitize_url(url)}, "
                                f"{PLAIN_HTTP_REFUSED}; shipmark sends nothing there",
                                _plain_http_hint(url))
        started = time.monotonic()
        try:
            resp = self._http.request(method, url, headers=headers, body=data, idempotent=idempotent,
                                      timeout=self._timeouts(host), tls=self._tls_for(host))
        except RedirectRefused as exc:
            raise RegistryError(f"registry {host} redirected {method} {sanitize_url(url)} to "
                                f"{exc.target}, {PLAIN_HTTP_REFUSED}; shipmark does not follow it",
                                _plain_http_hint(exc.target)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise (self._tls_error(exc, method, url, host)
                   or (self._deadline_error(host) if _timed_out(exc) and self._past_deadline() else None)
                   or _transport_error(exc, method, url, host)) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s (%.0f ms)", method, sanitize_url(url), resp.status_code,
                      (time.monotonic() - started) * 1000)
        return resp

    def _timeouts(self, host: str) -> Tuple[float, float]:
        """(connect, read) timeouts of the next request: the limits', cut to what is left of the
        deadline. Past the deadline: the error that says so."""
        if self._past_deadline():
            raise self._deadline_error(host)
        left = self._deadline - time.monotonic()
        return min(self.limits.connect_timeout, left), min(self.limits.read_timeout, left)

    def _past_deadline(self) -> bool:
        return time.monotonic() >= self._deadline - _DEADLINE_SLACK

    def _deadline_error(self, host: str) -> RegistryError:
        """The deadline passed, maybe while a request to an unreachable registry was retried:
        then what made it unreachable is said as well."""
        why = self._unreachable.get(host)
        deadline = self.limits.timeout or self.limits.deadline
        return RegistryError(f"registry {host} did not answer within the {deadline:g} s "
                             "deadline (--timeout / SHIPMARK_TIMEOUT raises it)"
                             + (f"; before that: {why}" if why else ""),
                             "check that the registry is healthy and reachable from here")

    def _read(self, resp: Answer, limit: Optional[int], what: str, registry: str,
              why: str) -> bytes:
        """A streamed answer's body, at most `limit` bytes (`why`: what that limit is)."""
        host = api_host(registry)
        try:
            return read_body(resp, limit, self._deadline)
        except BodyTooLarge:
            raise TooLargeError(f"{what} from registry {registry} is larger than "
                                f"{size_text(limit or 0)}" + (f", {why}" if why else ""),
                                _MISBEHAVING) from None
        except DeadlinePassed:
            raise self._deadline_error(host) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise (self._deadline_error(host) if _timed_out(exc) and self._past_deadline()
                   else _transport_error(exc, "GET", resp.url, host)) from None

    def _discard(self, resp: Answer) -> None:
        """Read the little an answer whose body is not used carries (so that its connection
        goes back to the pool), and close it; a longer body is dropped with its connection."""
        try:
            read_body(resp, SMALL_BODY, self._deadline)
        except (BodyTooLarge, DeadlinePassed, urllib3.exceptions.HTTPError, OSError):
            pass

    def _error_body(self, resp: Answer) -> bytes:
        """At most SMALL_BODY of an error answer's body (b"" when it is longer or breaks off)."""
        try:
            return read_body(resp, SMALL_BODY, self._deadline)
        except (BodyTooLarge, DeadlinePassed, urllib3.exceptions.HTTPError, OSError):
            return b""

    def _digest_header(self, resp: Answer, what: str, registry: str) -> Optional[str]:
        """Docker-Content-Digest, when sent: a hint, but one that must be a digest."""
        value = resp.headers.get("Docker-Content-Digest")
        if value is None or DIGEST_RE.match(value):
            return value
        resp.close()
        raise RegistryError(f"registry {registry} answered for {what} with Docker-Content-Digest "
                            f"{_shown(value)}, which is not a sha256 digest", _MISBEHAVING)

    def _expect(self, resp: Answer, ok: Tuple[int, ...], method: str, what: str,
                registry: str) -> None:
        if resp.status_code in ok:
            return
        raise self._status_error(resp, self._error_body(resp), method, what, registry)

    def _status_error(self, resp, body: bytes, method, what, registry) -> ShipmarkError:
        status = resp.status_code
        host = api_host(registry)
        codes, message = _error_codes(resp, body)
        code = codes[0] if codes else ""
        if status in (401, 403):
            return auth_error(host, self._auth.has_creds(host), what)
        if status == 404 or set(codes) & NOT_FOUND_CODES:
            return NotFoundError(f"{what} not found" + (f" ({code})" if code else ""),
                                 "check the registry, repository name and tag or digest")
        if https_only_answer(resp, body):
            return RegistryError(
                f"registry {host} speaks only HTTPS but got a plain HTTP request ({method} of "
                f"{what}: HTTP 400)",
                "shipmark found no TLS there when this run started; run the command again, "
                "and if it persists check which port of the registry serves HTTPS")
        if status == 429:
            return RegistryError(f"registry {registry} is rate-limiting requests (HTTP 429) "
                                 f"for {what}", "wait a while and run the command again")
        if status >= 500:
            return RegistryError(f"registry {registry} failed {method} of {what}: HTTP {status}"
                                 + (f" {code}" if code else ""), _STATUS_HINT)
        detail = f" {code}" + (f": {message}" if message else "") if code else ""
        return RegistryError(f"registry {registry} rejected {method} of {what}: "
                             f"HTTP {status}{detail}",
                             "check the content and the registry's limits; the registry's "
                             "logs say more")

    def _tls_error(self, exc: BaseException, method: str, url: str,
                   host: str) -> Optional[RegistryError]:
        """One line for a failed TLS handshake, naming what to set; None for other failures."""
        failure = tls_failure(exc)
        if failure is None:
            return None
        kind, detail = failure
        where = f"{method} {sanitize_url(url)}"
        place = self._tls.certs_dir(host) or f"/etc/docker/certs.d/{host}"
        if kind == PLAIN:
            return RegistryError(
                f"registry {host} does not speak TLS: it answered the HTTPS handshake in "
                f"plain HTTP ({where})",
                f"if it serves plain HTTP, add {host} to {INSECURE_VAR}; "
                "otherwise check the port")
        if kind == UNTRUSTED:
            return RegistryError(
                f"TLS verification failed for registry {host}: {detail} ({where})",
                f"set {CA_FILE_VAR} to the CA bundle that signed its certificate, or put it "
                f"in {place}/ca.crt, and use a registry name its certificate holds; to skip "
                f"the check, as Docker does for insecure registries, add {host} to "
                f"{INSECURE_VAR}")
        if kind == CLIENT_CERT:
            config = self._tls_for(host)
            shown = getattr(config, "client_cert", None)
            told = (f"it refused the client certificate {shown[0]}" if shown
                    else "it requires a client certificate and shipmark has none for it")
            return RegistryError(
                f"registry {host} ended the TLS handshake ({detail}): {told} ({where})",
                f"put a client certificate it trusts and its key in {place}/ as client.cert "
                f"and client.key (or point {CERTS_DIR_VAR} at another certs.d root)")
        return RegistryError(f"TLS handshake with registry {host} failed ({detail}; {where})",
                             "check the registry's TLS setup and any proxy in between")

    def _location(self, repo: Ref, resp: Answer) -> str:
        location = resp.headers.get("Location")
        self._discard(resp)
        if not location:
            raise RegistryError(f"registry {repo.registry} started an upload to {repo.name} "
                                "without a Location", _STATUS_HINT)
        return urljoin(f"{self._base(repo.registry)}/v2/{repo.repository}/blobs/uploads/",
                       location)

    def _start_upload(self, repo: Ref, scopes: List[str]) -> str:
        what = f"upload to {repo.name}"
        resp = self._request("POST", repo.registry, f"/v2/{repo.repository}/blobs/uploads/",
                             scopes, what=what, data=b"")
        self._expect(resp, (202,), "POST", what, repo.registry)
        return self._location(repo, resp)

    def _upload_in_one(self, repo: Ref, scopes: List[str], digest: str, data: bytes) -> Optional[str]:
        """The distribution spec's single-request upload (`POST ?digest=` with the bytes):
        None when the registry stored the blob (201), else the Location of the upload session
        it opened instead (202: Docker Registry 2.x ignores the bytes; they go again by PUT)."""
        what = f"blob {digest} in {repo.name}"
        resp = self._request("POST", repo.registry, f"/v2/{repo.repository}/blobs/uploads/?digest={digest}",
                             scopes, what=what, data=data, idempotent=True,   # content-addressed
                             headers={"Content-Type": "application/octet-stream"})
        if resp.status_code == 201:
            self._discard(resp)
            return None
        self._expect(resp, (202,), "POST", what, repo.registry)
        return self._location(repo, resp)

    def _finish_upload(self, repo: Ref, scopes: List[str], location: str, digest: str,
                       data, size: Optional[int] = None) -> None:
        what = f"blob {digest} in {repo.name}"
        url = with_query(location, [("digest", digest)])
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        resp = self._request("PUT", repo.registry, "", scopes, what=what, url=url,
                             headers=headers, data=data)
        if resp.status_code in (201, 204):
            self._discard(resp)
            return
        if resp.status_code == 404:
            self._discard(resp)
            if self.blob_exists(repo, digest):
                return  # a retried PUT whose first try had already completed the upload
            raise RegistryError(f"registry {repo.registry} lost the upload of {what}",
                                "run the command again; the upload starts afresh")
        self._expect(resp, (201,), "PUT", what, repo.registry)

    def _stream_blob(self, src: Ref, dst: Ref, digest: str, scopes: List[str],
                     location: Optional[str]) -> None:
        if location is None:
            location = self._start_upload(dst, scopes)
        what = f"blob {digest} in {src.name}"
        resp = self._request("GET", src.registry, f"/v2/{src.repository}/blobs/{digest}",
                             [scope_for(src.repository)], what=what)
        self._expect(resp, (200,), "GET", what, src.registry)
        try:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit():
                body = StreamBody(resp.raw.stream(_CHUNK, decode_content=False), int(length))
                self._finish_upload(dst, scopes, location, digest, body, int(length))
            else:   # a layer of unknown length: read whole (layers are not limited)
                data = self._read(resp, None, what, src.registry, "")
                self._finish_upload(dst, scopes, location, digest, data)
        except urllib3.exceptions.HTTPError as exc:
            raise _transport_error(exc, "GET", resp.url, api_host(src.registry)) from None
        finally:
            resp.close()


# -- helpers ---------------------------------------------------------------------------------

def _content_type(resp: Answer) -> str:
    return (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip()


def _media_type(resp: Answer, raw: bytes) -> str:
    header = _content_type(resp)
    if header in mt.MANIFEST_TYPES:
        return header
    try:
        declared = json.loads(raw).get("mediaType")
    except (ValueError, AttributeError):
        declared = None
    if isinstance(declared, str) and declared:
        return declared
    return header or mt.OCI_MANIFEST


def _oci_index(resp: Answer, raw: bytes) -> Optional[dict]:
    """The body when it is an OCI image index, else None (a web page, an error in a 200)."""
    ctype = _content_type(resp)
    if ctype and ctype != mt.OCI_INDEX and ctype != "application/json":
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("manifests", []), list):
        return None
    if body.get("mediaType", mt.OCI_INDEX) != mt.OCI_INDEX or "manifests" not in body:
        return None
    return body


def _error_codes(resp: Answer, raw: bytes) -> Tuple[List[str], str]:
    """Codes and the first message of a distribution-spec error body (best effort)."""
    try:
        if resp.method == "HEAD":
            return [], ""
        body = json.loads(raw or b"{}")
        errors = body.get("errors") or []
        codes = [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]
        message = next((str(e.get("message")) for e in errors
                        if isinstance(e, dict) and e.get("message")), "")
        return codes, message[:200]
    except (ValueError, AttributeError, TypeError):
        return [], ""


def _shown(value: str, most: int = 80) -> str:
    """A value from outside as a message may show it: quoted, control characters escaped, cut."""
    return repr(value[:most]) + ("..." if len(value) > most else "")


def _plain_http_hint(url: str) -> str:
    host = urlsplit(url).netloc.rsplit("@", 1)[-1] or "that host"
    return (f"if {host} is a trusted plain-HTTP service, add it to {INSECURE_VAR}; otherwise the "
            "registry (or a man in the middle of plain HTTP) is misbehaving")


def _timed_out(exc: BaseException) -> bool:
    return any(isinstance(c, (urllib3.exceptions.TimeoutError, TimeoutError))
               for c in causes(exc))


def _transport_error(exc: BaseException, method: str, url: str, host: str) -> RegistryError:
    where = sanitize_url(url)
    chain = list(causes(exc))
    reach = (f"check that the registry at {host} is running and reachable from here "
             "(host, port, firewall, HTTPS_PROXY/NO_PROXY)")
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return RegistryError(f"registry {host} refused the connection ({method} {where})", reach)
    if _timed_out(exc):
        return RegistryError(f"registry {host} did not answer in time ({method} {where})",
                             reach + "; a slow registry needs a longer --timeout (SHIPMARK_TIMEOUT)")
    if any(type(c).__name__ == "gaierror" for c in chain):
        return RegistryError(f"cannot resolve registry host {host_only(host)}",
                             "check the registry name for typos and the machine's DNS")
    if any(isinstance(c, urllib3.exceptions.UnrewindableBodyError) for c in chain):
        return RegistryError(f"registry {host} dropped a streamed upload ({method} {where})",
                             "run the command again; the upload restarts from the beginning")
    if any(isinstance(c, (ConnectionError, urllib3.exceptions.ProtocolError)) for c in chain):
        return RegistryError(f"registry {host} dropped the connection ({method} {where})",
                             "check the registry's health and any proxy in between, then run "
                             "the command again; idempotent requests were already retried")
    return RegistryError(f"request to registry {host} failed ({method} {where}): "
                         f"{type(exc).__name__}", reach)
