"""Stores: where images and records live. `open_store` chooses one by the reference's scheme."""

from ..core.ref import OCIDIR, Ref


def open_store(ref: Ref, settings=None):
    if ref.scheme == OCIDIR:
        from .ocidir import OciDirStore
        return OciDirStore(ref.registry)
    from .registry.client import RegistryStore
    return RegistryStore(ref.registry, settings)
