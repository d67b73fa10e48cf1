"""Registry authentication: Bearer tokens from the `WWW-Authenticate` challenge, Basic fallback.

The client sends a request with whatever this module already holds for (host, scope); on a 401
it hands the challenge here, which fetches a token from the realm (with the host's
credentials, or anonymously when there are none) or switches the host to Basic, and the client
sends the request once more. Tokens are cached per (host, scope) until shortly before they
expire. Credentials come from a `creds_for(host) -> (user, password) | None` callable; this
module never reads settings, and never puts a password or an Authorization header in a message.
The token service is reached with the registry's TLS settings (`tls_for(host)`: its CAs and
client certificate, as Docker and Podman do) and the environment's proxies, only where the
plain-HTTP rule allows (`allowed(url)`: a realm is named by the registry, so a registry could
otherwise send its users' passwords anywhere), and within the timeouts
`timeouts(host)` gives (which end at the command's deadline).
"""

import base64
import json
import logging
import re
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import urllib3

from ...errors import AuthError, RegistryError
from .. import INSECURE_VAR
from .tls import TLSConfig
from .transport import (
    CLIENT_CERT,
    PLAIN,
    PLAIN_HTTP_REFUSED,
    SMALL_BODY,
    UNTRUSTED,
    BodyTooLarge,
    DeadlinePassed,
    Http,
    RedirectRefused,
    https_only_answer,
    read_body,
    sanitize_url,
    tls_failure,
    with_query,
)

log = logging.getLogger("shipmark.registry")

Creds = Optional[Tuple[str, str]]
CredsFn = Callable[[str], Creds]

CREDS_HINT = ("set SHIPMARK_REGISTRY_USERNAME and SHIPMARK_REGISTRY_PASSWORD, "
              "or run `docker login {host}`")

_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
_EXPIRY_MARGIN = 10.0
_DEFAULT_LIFETIME = 60.0
_TOKEN_BYTES = 1 << 20   # a token answer (JWTs with many scopes run to a few KiB)


def parse_challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """`Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"` ->
    ("bearer", {...}). Only the first challenge is read (registries send one)."""
    header = (header or "").strip()
    scheme, _, rest = header.partition(" ")
    params = {}
    for m in _PARAM_RE.finditer(rest):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return scheme.lower(), params


def scope_for(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


class Authenticator:
    """Thread-safe: one per RegistryStore, shared by every worker thread."""

    def __init__(self, http: Http, timeouts: Callable[[str], Tuple[float, float]],
                 allowed: Callable[[str], bool], creds_for: Optional[CredsFn],
                 tls_for: Callable[[str], TLSConfig]):
        self._http = http   # its deadline ends token reads too
        self._creds_for = creds_for or (lambda host: None)
        self._tls_for = tls_for
        self._timeouts = timeouts
        self._allowed = allowed
        self._lock = threading.Lock()
        self._schemes: Dict[str, Tuple[str, Dict[str, str]]] = {}   # host -> challenge
        self._tokens: Dict[Tuple[str, str], Tuple[str, float]] = {}  # (host, scope) -> token
        self._creds: Dict[str, Creds] = {}
        self._fetching: Dict[Tuple[str, str], threading.Lock] = {}

    # -- credentials -------------------------------------------------------------------------

    def creds(self, host: str) -> Creds:
        with self._lock:
            if host in self._creds:
                return self._creds[host]
        found = self._creds_for(host)
        with self._lock:
            self._creds[host] = found
        return found

    def has_creds(self, host: str) -> bool:
        return self.creds(host) is not None

    # -- headers -----------------------------------------------------------------------------

    def header(self, host: str, scopes: Iterable[str]) -> Optional[str]:
        """The Authorization header to send, from what is known already (no network)."""
        with self._lock:
            challenge = self._schemes.get(host)
        if challenge is None:
            return None
        scheme, _ = challenge
        if scheme == "basic":
            return self._basic_header(host)
        if scheme == "bearer":
            key = (host, _scope_key(scopes))
            with self._lock:
                cached = self._tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return "Bearer " + cached[0]
            return None
        return None

    def knows(self, host: str) -> bool:
        with self._lock:
            return host in self._schemes

    def challenge(self, host: str, scopes: Iterable[str], www_authenticate: str,
                  rejected: Optional[str] = None) -> Optional[str]:
        """Handle a 401 (`rejected` is the Authorization header that was sent, if any):
        remember the host's scheme, fetch a token if needed, and return the header for the
        retry. None when there is nothing new to try."""
        scheme, params = parse_challenge(www_authenticate)
        with self._lock:
            self._schemes[host] = (scheme, params)
        if scheme == "basic":
            return self._basic_header(host)
        if scheme == "bearer":
            scopes = list(scopes)
            wanted = merge_scopes(scopes + (params.get("scope") or "").split(" "))
            return "Bearer " + self._token(host, scopes, wanted, params, rejected)
        raise AuthError(f"registry {host} asks for {scheme or 'an unknown'} authentication, "
                        "which shipmark does not support",
                        "use a registry with token (Bearer) or Basic authentication")

    def forget(self, host: str, scopes: Iterable[str]) -> None:
        with self._lock:
            self._tokens.pop((host, _scope_key(scopes)), None)

    # -- internals ---------------------------------------------------------------------------

    def _basic_header(self, host: str) -> Optional[str]:
        creds = self.creds(host)
        return None if creds is None else _basic(*creds)

    def _token(self, host: str, scopes: List[str], wanted: List[str],
               params: Dict[str, str], rejected: Optional[str] = None) -> str:
        """A token for `wanted` (the request's scopes plus the challenge's), cached under the
        request's scopes so the next request with the same scopes finds it."""
        realm = params.get("realm")
        if not realm:
            raise AuthError(f"registry {host} sent a Bearer challenge without a realm",
                            "check the registry's auth.token configuration")
        if not self._allowed(realm):
            why = (PLAIN_HTTP_REFUSED if realm.lower().startswith("http://")
                   else "which is not an http(s) URL")
            raise AuthError(f"registry {host} names the token service {sanitize_url(realm)}, "
                            f"{why}: shipmark sends no request and no credentials there",
                            "serve the token service over HTTPS; if it is a trusted plain-HTTP "
                            f"host, add it to {INSECURE_VAR}")
        key = (host, _scope_key(scopes))
        with self._lock:
            gate = self._fetching.setdefault(key, threading.Lock())
        with gate:  # one token request per scope, however many threads hit the 401 together
            with self._lock:
                cached = self._tokens.get(key)
            if (cached and cached[1] > time.monotonic()
                    and "Bearer " + cached[0] != rejected):
                return cached[0]  # another thread has just fetched it
            token, lifetime = self._fetch_token(host, realm, params.get("service"), wanted)
            with self._lock:
                self._tokens[key] = (token, time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1.0))
            return token

    def _fetch_token(self, host: str, realm: str, service: Optional[str],
                     scopes: List[str]) -> Tuple[str, float]:
        query = [("scope", s) for s in scopes]
        if service:
            query.insert(0, ("service", service))
        creds = self.creds(host)
        headers = {"Authorization": _basic(*creds)} if creds else {}
        safe_realm = sanitize_url(realm)
        try:
            resp = self._http.request("GET", with_query(realm, query), headers=headers,
                                      timeout=self._timeouts(host), tls=self._tls_for(host))
            raw = read_body(resp, _TOKEN_BYTES if resp.status_code == 200 else SMALL_BODY,
                            self._http.deadline)
        except RedirectRefused as exc:
            raise AuthError(f"token service {safe_realm} of registry {host} redirected to "
                            f"{exc.target}, {PLAIN_HTTP_REFUSED}; shipmark does not follow it",
                            "serve the token service over HTTPS; if the redirect target is a "
                            f"trusted plain-HTTP host, add it to {INSECURE_VAR}") from None
        except BodyTooLarge:
            raise RegistryError(f"token service {safe_realm} of registry {host} answered with "
                                "more than a token", "check the registry's token service") from None
        except (DeadlinePassed, urllib3.exceptions.HTTPError, OSError) as exc:
            self._timeouts(host)   # when the deadline ended it, this raises the error that says so
            raise _realm_error(exc, host, safe_realm) from None
        if resp.status_code in (401, 403):
            raise auth_error(host, creds is not None)
        if https_only_answer(resp, raw):
            raise RegistryError(f"token service {safe_realm} of registry {host} speaks only "
                                "HTTPS, but the registry names an http:// realm",
                                "fix the realm in the registry's auth.token configuration "
                                "to start with https://")
        if resp.status_code != 200:
            raise RegistryError(f"token service {safe_realm} of registry {host} answered "
                                f"HTTP {resp.status_code}",
                                "check the registry's token service; retry later")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = None
        token = (body or {}).get("token") or (body or {}).get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token service {safe_realm} of registry {host} gave no token",
                                "check the registry's token service")
        try:
            lifetime = float(body.get("expires_in") or _DEFAULT_LIFETIME)
        except (TypeError, ValueError):
            lifetime = _DEFAULT_LIFETIME
        log.debug("token for %s scope %s from %s (%s)", host, " ".join(scopes), safe_realm,
                  "with credentials" if creds else "anonymous")
        return token, lifetime


def _realm_error(exc: BaseException, host: str, realm: str) -> RegistryError:
    failure = tls_failure(exc)
    kind, detail = failure if failure else ("", type(exc).__name__)
    if kind == PLAIN:
        return RegistryError(f"token service {realm} of registry {host} does not speak TLS",
                             "fix the realm in the registry's auth.token configuration to "
                             "start with http://, or serve it over HTTPS")
    if kind == UNTRUSTED:
        return RegistryError(f"TLS verification failed for the token service {realm} of "
                             f"registry {host}: {detail}",
                             "set SHIPMARK_CA_FILE to the CA bundle that signed its "
                             f"certificate, or put it in /etc/docker/certs.d/{host}/ca.crt "
                             "(the registry's certs.d directory also serves its token service)")
    if kind == CLIENT_CERT:
        return RegistryError(f"token service {realm} of registry {host} ended the TLS "
                             f"handshake ({detail}): it wants a client certificate it trusts",
                             f"put one and its key in /etc/docker/certs.d/{host}/ as "
                             "client.cert and client.key (the registry's certs.d directory "
                             "also serves its token service)")
    return RegistryError(f"cannot reach the token service {realm} of registry {host}: {detail}",
                         "check that the token service named by the registry is reachable "
                         "(and HTTPS_PROXY/NO_PROXY)")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")


def auth_error(host: str, had_creds: bool, what: str = "") -> AuthError:
    target = f" for {what}" if what else ""
    if had_creds:
        message = f"registry {host} refused the credentials{target}"
        hint = ("check the user name and password: " + CREDS_HINT.format(host=host)
                + "; the user also needs pull/push rights on the repository")
    else:
        message = f"registry {host} requires credentials{target}"
        hint = CREDS_HINT.format(host=host)
    return AuthError(message, hint)


def merge_scopes(scopes: Iterable[str]) -> List[str]:
    """One entry per resource with the union of its actions, in first-seen order:
    ["repository:a:pull", "repository:a:push,pull"] -> ["repository:a:pull,push"]."""
    merged: Dict[str, List[str]] = {}
    for scope in scopes:
        if not scope:
            continue
        resource, sep, actions = scope.rpartition(":")
        if not sep or ":" not in resource:
            merged.setdefault(scope, [])
            continue
        have = merged.setdefault(resource, [])
        have.extend(a for a in actions.split(",") if a and a not in have)
    return [f"{r}:{','.join(a)}" if a else r for r, a in merged.items()]


def _scope_key(scopes: Iterable[str]) -> str:
    return " ".join(sorted(set(scopes)))
