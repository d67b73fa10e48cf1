"""Signing keys: PEM files in, core.dsse Signer/Verifier objects out (ECDSA P-256 and Ed25519).

Built on `cryptography` directly rather than securesystemslib: shipmark needs four operations
(load a possibly encrypted PEM private key, load a PEM public key, sign, verify) and
`cryptography` is what securesystemslib itself calls for them; its key metadata and URI
schemes would add a dependency and a second key format without adding a check. The
envelopes are standard DSSE, and a test verifies them with securesystemslib.

A keyid is "sha256:" + the SHA-256 of the public key's DER SubjectPublicKeyInfo: stable,
computable by anyone holding the public key, and only ever a hint (the signature decides).

Verifying is the one CPU cost signing adds to a read; it is paid once per record and set of
keys, since what a record's bytes said (who signed it among them) is kept with the repository's
cache (core.trust.Reading, stores/repocache.py).
"""

import hashlib
import os
from typing import Optional, Tuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .errors import InputError

KEY_TYPES = ("ecdsa", "ed25519")
_HINT = "use an ECDSA P-256 or Ed25519 key in PEM (`shipmark keygen --out PREFIX` makes one)"


def _keyid(public) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _check_type(key, where: str) -> None:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP256R1):
            raise InputError(f"{where}: ECDSA key on curve {key.curve.name}, expected P-256", _HINT)
    elif not isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        raise InputError(f"{where}: unsupported key type {type(key).__name__}", _HINT)


class PublicKey:
    """A core.dsse.Verifier."""

    def __init__(self, public):
        self._key = public
        self.keyid = _keyid(public)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            if isinstance(self._key, ed25519.Ed25519PublicKey):
                self._key.verify(signature, data)
            else:
                self._key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
        except (InvalidSignature, ValueError):
            return False

    def pem(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class PrivateKey:
    """A core.dsse.Signer."""

    def __init__(self, private):
        self._key = private
        self.public = PublicKey(private.public_key())
        self.keyid = self.public.keyid

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(data)
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))   # DER, as DSSE/sigstore expect

    def pem(self, password: Optional[str] = None) -> bytes:
        encryption = (serialization.BestAvailableEncryption(password.encode("utf-8")) if password
                      else serialization.NoEncryption())
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def generate(kind: str = "ecdsa") -> PrivateKey:
    if kind not in KEY_TYPES:
        raise InputError(f"unknown key type {kind!r}", f"use one of: {', '.join(KEY_TYPES)}")
    return PrivateKey(ec.generate_private_key(ec.SECP256R1()) if kind == "ecdsa"
                      else ed25519.Ed25519PrivateKey.generate())


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist", _HINT) from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_private(path: str, password: Optional[str]) -> PrivateKey:
    """The signing key; every failure is one line naming the file, never the password."""
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password.encode("utf-8") if password else None)
    except TypeError:
        if password:
            raise InputError(f"signing key {path} is not encrypted, but a password was given",
                             "unset SHIPMARK_SIGNING_KEY_PASSWORD") from None
        raise InputError(f"signing key {path} is encrypted",
                         "set SHIPMARK_SIGNING_KEY_PASSWORD to its password") from None
    except (ValueError, UnsupportedAlgorithm):
        if password and b"ENCRYPTED" in data:
            raise InputError(f"signing key {path}: wrong password",
                             "check SHIPMARK_SIGNING_KEY_PASSWORD") from None
        raise InputError(f"signing key {path} is not a PEM private key", _HINT) from None
    _check_type(key, f"signing key {path}")
    return PrivateKey(key)


def parse_public(data: bytes, where: str) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(f"{where} is not a PEM public key", _HINT) from None
    _check_type(key, where)
    return PublicKey(key)


def public_key(value: str, base_dir: str) -> Tuple[PublicKey, str]:
    """A policy's signer value: inline PEM, or a file relative to the policy file's directory.
    Returns the key and where it came from (for messages)."""
    if value.lstrip().startswith("-----BEGIN"):
        return parse_public(value.encode("utf-8"), "inline key"), "inline key"
    path = value if os.path.isabs(value) else os.path.join(base_dir, value)
    return parse_public(_read(path, "public key file"), f"public key file {path}"), path
