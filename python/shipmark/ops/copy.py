"""Copying an image and its records to another repository without moving layers through
the client where the registry can mount them."""

from typing import Optional

from ..core import mediatype as mt
from ..core.descriptor import Manifest
from ..core.ref import Ref
from ..stores.base import Store
from ..stores.discovery import Discovery
from .images import Image


def copy_manifest_tree(src_store: Store, src: Ref, dst_store: Store, dst: Ref, manifest: Manifest) -> None:
    """Blobs first (mounted), children of an index next, the manifest last, by digest."""
    data = manifest.data
    if manifest.media_type in mt.INDEX_TYPES:
        for child in data.get("manifests") or []:
            child_manifest = src_store.get_manifest(src.with_digest(child["digest"]))
            copy_manifest_tree(src_store, src, dst_store, dst, child_manifest)
    else:
        for blob in [data.get("config")] + list(data.get("layers") or []):
            if blob and not dst_store.blob_exists(dst, blob["digest"]):
                if dst_store is src_store:
                    dst_store.copy_blob(src, dst, blob["digest"])
                else:
                    dst_store.put_blob(dst, src_store.get_blob(src, blob["digest"]), blob["digest"])
    dst_store.put_manifest(dst.with_digest(manifest.digest), manifest)


def copy_image(src_store: Store, image: Image, dst_store: Store, dst_repo: Ref,
               tag: Optional[str] = None, records_only: bool = False) -> Image:
    """Copy the image byte for byte (same digest) and its referrers along with it: every record,
    and unless `records_only`, whatever else the registry lists for it (signatures, SBOMs,
    attestations), as `oras cp -r` and `regctl image copy --referrers` do (one level deep)."""
    manifest = src_store.get_manifest(image.repo.with_digest(image.digest))
    copy_manifest_tree(src_store, image.repo, dst_store, dst_repo, manifest)
    if tag:
        dst_store.put_manifest(dst_repo.with_tag(tag), manifest)
    source = image.found or Discovery(src_store, image.repo)
    target = Discovery(dst_store, dst_repo)
    present = {d.digest for d in target.records(image.digest)}
    for record in image.records:
        if record.digest in present:
            continue
        rec_manifest = src_store.get_manifest(image.repo.with_digest(record.digest))
        blobs = {layer["digest"]: src_store.get_blob(image.repo, layer["digest"])
                 for layer in rec_manifest.data.get("layers") or []}
        blobs[mt.EMPTY_DIGEST] = mt.EMPTY_JSON
        target.attach(image.descriptor, rec_manifest, blobs, publish=False)
    others = []
    if not records_only:
        ours = {r.digest for r in image.records}
        for desc in source.listed(image.digest).referrers:
            if desc.digest not in ours:
                other = src_store.get_manifest(image.repo.with_digest(desc.digest))
                copy_manifest_tree(src_store, image.repo, dst_store, dst_repo, other)
                others.append(other.descriptor())
    if not target.lists_referrers_itself(image.digest):
        target.publish(image.digest, also=others)
    return Image(dst_repo, image.descriptor, list(image.records), [tag] if tag else [], target)
