"""Stores: where images and their records live. `open_store(ref)` picks one by `ref.scheme`.

Both implementations are imported lazily, so `import shipmark` (and `shipmark --help`) does not
pay for requests, urllib3 or docker.
"""

import os
from typing import Any, Iterable

from ..core.ref import OCIDIR, REGISTRY, Ref
from ..errors import InputError

# Registry connection settings: a setting of the same name (lower case, without the prefix)
# wins over the variable.
INSECURE_VAR = "SHIPMARK_INSECURE_REGISTRIES"   # hosts that may use plain HTTP, unverified TLS
CA_FILE_VAR = "SHIPMARK_CA_FILE"                # CA bundle added to every registry's trust
CERTS_DIR_VAR = "SHIPMARK_CERTS_DIR"            # certs.d roots instead of Docker's/Podman's


def open_store(ref: Ref, settings: Any = None):
    """A Store for ref. `settings` (optional, an object or a mapping) may carry
    `insecure_registries`, `ca_file`, `certs_dir`, `cache_dir`, `creds_for` and `pool_size`;
    what it leaves out comes from the SHIPMARK_* environment variables."""
    if ref.scheme == REGISTRY:
        return open_registry(settings)
    if ref.scheme == OCIDIR:
        from .ocidir import OciDirStore

        return OciDirStore(ref.registry)
    raise InputError(f"no store for {ref}", "use REGISTRY/REPO:TAG or ocidir://PATH:TAG")


def open_registry(settings: Any = None):
    from .cache import ManifestCache
    from .credentials import creds_for
    from .registry import RegistryStore
    from .registry.tls import default_certs_roots

    insecure = _setting(settings, "insecure_registries")
    if insecure is None:
        insecure = os.environ.get(INSECURE_VAR, "")
    if isinstance(insecure, str):
        insecure = insecure.split(",")
    ca_file = _setting(settings, "ca_file") or os.environ.get(CA_FILE_VAR) or None
    if ca_file and not os.path.isfile(ca_file):
        raise InputError(f"CA file {ca_file} does not exist",
                         f"point {CA_FILE_VAR} at a PEM bundle, or unset it")
    certs_dir = _setting(settings, "certs_dir")
    environ = os.environ if certs_dir is None else {CERTS_DIR_VAR: certs_dir}
    cache_dir = _setting(settings, "cache_dir")
    return RegistryStore(
        creds_for=_setting(settings, "creds_for") or creds_for,
        insecure_registries=_hosts(insecure),
        ca_file=ca_file,
        certs_roots=default_certs_roots(environ),
        cache=ManifestCache(cache_dir or None),
        pool_size=int(_setting(settings, "pool_size") or 16),
    )


def _setting(settings: Any, name: str):
    if settings is None:
        return None
    if isinstance(settings, dict):
        return settings.get(name)
    return getattr(settings, name, None)


def _hosts(values: Iterable[str]):
    return [v.strip() for v in values if v and v.strip()]
