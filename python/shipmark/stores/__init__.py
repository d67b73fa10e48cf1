"""Stores: where images and their records live. `open_store(ref, settings)` picks one by `ref.scheme`.

Both implementations are imported lazily, so `import shipmark` (and `shipmark --help`) does not
pay for requests, urllib3 or docker.
"""

import os
from typing import Any, Iterable

from ..core.ref import OCIDIR, REGISTRY, Ref
from ..errors import InputError

# The variables the registry's messages name (declared in settings.py).
from ..settings import CA_FILE_VAR, CERTS_DIR_VAR, INSECURE_VAR  # noqa: F401

# Connections kept per registry; a command sends at most this many requests at once
# (ops/workers.py), so none is opened, dropped and opened again.
POOL_SIZE = 16


def open_store(ref: Ref, settings: Any = None):
    """A Store for ref. `settings` is a shipmark.settings.Settings (the CLI passes its own), or
    any object or mapping with some of `limits`, `insecure_registries`, `ca_file`, `certs_dir`,
    `ca_bundle`, `cache_dir`, `creds_for` and `pool_size`; what it leaves out comes from the
    settings of the environment (`Settings()`)."""
    if ref.scheme == REGISTRY:
        return open_registry(settings)
    if ref.scheme == OCIDIR:
        from .ocidir import OciDirStore

        return OciDirStore(ref.registry, limits=_setting(settings, "limits"))
    raise InputError(f"no store for {ref}", "use REGISTRY/REPO:TAG or ocidir://PATH:TAG")


def open_registry(settings: Any = None):
    from .cache import ManifestCache
    from .registry import RegistryStore

    insecure = _setting(settings, "insecure_registries") or ()
    if isinstance(insecure, str):
        insecure = insecure.split(",")
    ca_file = _setting(settings, "ca_file") or None
    if ca_file and not os.path.isfile(ca_file):
        raise InputError(f"CA file {ca_file} does not exist",
                         f"point {CA_FILE_VAR} at a PEM bundle, or unset it")
    certs_dir = _setting(settings, "certs_dir") or ()
    if isinstance(certs_dir, str):
        certs_dir = certs_dir.split(os.pathsep)
    limits = _setting(settings, "limits")
    return RegistryStore(
        creds_for=_setting(settings, "creds_for"),
        insecure_registries=_hosts(insecure),
        ca_file=ca_file,
        ca_bundle=_setting(settings, "ca_bundle"),
        certs_roots=tuple(p for p in certs_dir if p),
        cache=ManifestCache(_setting(settings, "cache_dir"), limits.manifest_bytes),
        pool_size=int(_setting(settings, "pool_size") or POOL_SIZE),
        limits=limits,
    )


def _setting(settings: Any, name: str):
    """`name` from settings (an object or a mapping), else from the environment's settings."""
    if isinstance(settings, dict):
        if settings.get(name) is not None:
            return settings[name]
    elif settings is not None and hasattr(settings, name):
        return getattr(settings, name)
    from ..settings import Settings
    return getattr(Settings(), name, None)


def _hosts(values: Iterable[str]):
    return [v.strip() for v in values if v and v.strip()]
