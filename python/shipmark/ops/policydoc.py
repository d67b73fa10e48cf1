"""The policy published in the registry: an OCI artifact under tag `shipmark-policy`.

Published, the policy travels with the images it rules, so a command run where no policy file
is (a Promoted Builds process in a carrier job's workspace) still applies it, and nobody can
point it at a lenient file through a build parameter. The layer is the YAML, or a DSSE envelope
of it when published with a signing key; readers given a policy key (SHIPMARK_POLICY_KEY)
accept only a published policy that key signed.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from .. import policyfile
from ..core import dsse
from ..core import mediatype as mt
from ..core.descriptor import artifact_manifest
from ..core.policy import Policy
from ..core.record import format_time
from ..core.ref import Ref
from ..errors import InputError, NotFoundError
from ..stores.base import Store


@dataclass
class Published:
    repo: Ref
    policy: Policy
    text: str
    manifest_digest: str
    signed_by: Optional[str]        # keyid of the envelope's first signature, if signed
    verified: bool = False          # checked against the reader's policy key

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "tag": mt.POLICY_TAG, "manifest": self.manifest_digest,
                "policy": self.policy.digest, "signed_by": self.signed_by, "verified": self.verified,
                "channels": sorted(self.policy.channels), "signers": sorted(self.policy.signers),
                "text": self.text}


def publish(*, store: Store, repo: Ref, data: bytes, source: str, base_dir: str, now: datetime,
            signer: Optional[dsse.Signer] = None) -> Published:
    """Validate, inline the signer keys, and push the policy; the tag moves last."""
    policyfile.parse(data, source, base_dir)   # a broken policy is refused before anything is written
    body = policyfile.inline_keys(data, base_dir)
    policy = policyfile.parse(body, f"{repo.name}:{mt.POLICY_TAG}", None)
    layer, layer_type = body, mt.POLICY_ARTIFACT
    if signer is not None:
        layer, layer_type = dsse.sign(mt.POLICY_ARTIFACT, body, [signer]).to_bytes(), mt.DSSE_ENVELOPE
    doc, blobs = artifact_manifest(mt.POLICY_ARTIFACT, layer, layer_type, "shipmark.yaml",
                                   {mt.A_CREATED: format_time(now), mt.A_POLICY: policy.digest or "none"})
    for digest, blob in blobs.items():
        if not store.blob_exists(repo, digest):
            store.put_blob(repo, blob, digest)
    store.put_manifest(repo.with_tag(mt.POLICY_TAG), doc)
    return Published(repo, policy, body.decode("utf-8"), doc.digest, signer.keyid if signer else None)


def fetch(*, store: Store, repo: Ref, policy_key: Optional[dsse.Verifier] = None) -> Optional[Published]:
    """The repository's published policy, or None when it has none."""
    try:
        found = store.get_manifest(repo.with_tag(mt.POLICY_TAG))
    except NotFoundError:
        return None
    where = f"published policy of {repo.name}"
    manifest = found.data
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if manifest.get("artifactType") != mt.POLICY_ARTIFACT or not isinstance(layers, list) or len(layers) != 1:
        raise InputError(f"{where} ({mt.POLICY_TAG}) is not a shipmark policy artifact",
                         f"publish one with `shipmark policy publish {repo.name} FILE`")
    layer = store.get_blob(repo, layers[0].get("digest", ""), max_bytes=store.limits.payload_bytes)
    signed_by = None
    verified = False
    if layers[0].get("mediaType") == mt.DSSE_ENVELOPE:
        try:
            envelope = dsse.parse(layer)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        if envelope.payload_type != mt.POLICY_ARTIFACT:
            raise InputError(f"{where}: envelope payloadType is {envelope.payload_type!r}")
        signed_by = envelope.signatures[0][0] if envelope.signatures else None
        verified = policy_key is not None and bool(envelope.signed_by({"policy": policy_key}))
        layer = envelope.payload
    if policy_key is not None and not verified:
        raise InputError(f"{where} is not signed by the policy key (SHIPMARK_POLICY_KEY)",
                         "publish it again with the matching --signing-key, or check the key")
    policy = policyfile.parse(layer, f"{repo.name}:{mt.POLICY_TAG}", None)
    return Published(repo, policy, layer.decode("utf-8", "replace"), found.digest, signed_by, verified)
