"""DSSE envelopes (Dead Simple Signing Envelope v1), the envelope in-toto attestations use.

Pure: the cryptography lives in an adapter (shipmark.keys) behind two small protocols, so this
module only knows the wire format and the pre-authentication encoding (PAE) that is signed:
  PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body   (lengths in ASCII decimal)
Signing PAE instead of the payload binds the payload type, so a signature over one kind of
document cannot be replayed as another.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Iterable, List, Mapping, Protocol, Set, Tuple


class Signer(Protocol):
    keyid: str

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    keyid: str

    def verify(self, signature: bytes, data: bytes) -> bool: ...


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: Tuple[Tuple[str, bytes], ...]   # (keyid, signature)

    def to_bytes(self) -> bytes:
        doc = {"payloadType": self.payload_type,
               "payload": base64.b64encode(self.payload).decode("ascii"),
               "signatures": [{"keyid": k, "sig": base64.b64encode(s).decode("ascii")}
                              for k, s in self.signatures]}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def signed_by(self, verifiers: Mapping[str, Verifier]) -> Set[str]:
        """Names of the verifiers whose key made one of the signatures. A keyid is only a hint
        (it is not signed), so every signature is tried against every key."""
        message = pae(self.payload_type, self.payload)
        return {name for name, key in verifiers.items()
                if any(key.verify(sig, message) for _, sig in self.signatures)}


def sign(payload_type: str, payload: bytes, signers: Iterable[Signer]) -> Envelope:
    message = pae(payload_type, payload)
    return Envelope(payload_type, payload, tuple((s.keyid, s.sign(message)) for s in signers))


def parse(raw: bytes) -> Envelope:
    """ValueError, saying what is wrong, for anything that is not a well-formed envelope."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("envelope is not JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("envelope is not a JSON object")
    payload_type, payload, sigs = doc.get("payloadType"), doc.get("payload"), doc.get("signatures")
    if not isinstance(payload_type, str) or not isinstance(payload, str) or not isinstance(sigs, list):
        raise ValueError("envelope lacks payloadType, payload or signatures")
    signatures: List[Tuple[str, bytes]] = []
    try:
        body = _b64(payload)
        for entry in sigs:
            if not isinstance(entry, dict) or not isinstance(entry.get("sig"), str):
                raise ValueError("envelope signature entry is malformed")
            keyid = entry["keyid"] if isinstance(entry.get("keyid"), str) else ""
            signatures.append((keyid, _b64(entry["sig"])))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(str(exc) if "envelope" in str(exc) else "envelope holds invalid base64") from None
    return Envelope(payload_type, body, tuple(signatures))


def _b64(text: str) -> bytes:
    """DSSE allows standard or URL-safe base64, padded or not."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
