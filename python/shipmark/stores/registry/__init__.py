"""The registry store: OCI distribution API over HTTP (transport, auth, client)."""

from .client import RegistryStore

__all__ = ["RegistryStore"]
