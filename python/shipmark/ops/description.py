"""Build descriptions: the image's paragraph, rendered from the packaged template, and its
place among the other paragraphs of a description (replaced in place, never appended twice).

At record time `write_build_files` also writes `provenance.json` and the description file for
the current build; the Groovy step archives the one and sets the other.
"""

import json
import os
import re
from datetime import datetime, timezone
from typing import Iterable, List, Optional

from ..core import version
from ..core.record import build_of
from ..errors import InputError
from .images import Image

FORMATS = ("text", "html")
TEMPLATES = {"text": "description.txt.j2", "html": "description.html.j2"}
DESCRIPTION_FILES = {"text": "description.txt", "html": "description.html"}
PROVENANCE_FILE = "provenance.json"
_MARKERS = ("shipmark: ", '<div class="shipmark"')


def _one_line(text: Optional[str], limit: int = 300) -> Optional[str]:
    """Free text (reasons, actors) inside a description paragraph: no line breaks, bounded."""
    if not text:
        return None
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def version_tag(tags: Iterable[str]) -> Optional[str]:
    tags = list(tags)
    for tag in tags:
        if version.parse_tag(tag) is not None and not tag.startswith("sha256-"):
            return tag
    return tags[0] if tags else None


def check_format(fmt: Optional[str]) -> str:
    fmt = fmt or "text"
    if fmt not in FORMATS:
        raise InputError(f"unknown description format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    return fmt


def describe(image: Image, *, fmt: str, now: datetime, note: str, by: Optional[str],
             commit: Optional[str] = None, branch: Optional[str] = None, reason: Optional[str] = None,
             kept: bool = False, tag: Optional[str] = None) -> str:
    """The image's paragraph of a build description, from the packaged template."""
    from ..render import render_page
    state = image.state
    context = {
        "repo": image.repo.name,
        "tag": tag or version_tag(image.tags),
        "pinned": image.pinned,
        "digest": image.digest,
        "commit": commit,
        "branch": branch,
        "suites": [{"name": s, "result": r.result} for s, r in sorted(state.suites.items())],
        "channels": sorted(state.promotions),
        "kept": kept,
        "rejected": state.rejected,
        "reason": _one_line(reason),
        "updated": now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "note": _one_line(note),
        "by": _one_line(by),
    }
    return render_page(TEMPLATES[check_format(fmt)], context).strip("\n")


def _paragraphs(text: str) -> List[str]:
    text = (text or "").replace("\r\n", "\n").strip("\n")
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()] if text else []


def _is_block_of(paragraph: str, digest: str) -> bool:
    return paragraph.lstrip().startswith(_MARKERS) and digest in paragraph


def merge_description(existing: Optional[str], block: str, digest: str) -> str:
    """Replace the image's paragraph (found by shipmark's first line and the digest) in place,
    or append it; every other paragraph stays as it was, byte for byte."""
    out, placed = [], False
    for paragraph in _paragraphs(existing or ""):
        if _is_block_of(paragraph, digest):
            if not placed:
                out.append(block)
                placed = True
            continue
        out.append(paragraph)
    if not placed:
        out.append(block)
    return "\n\n".join(out) + "\n"


def tag_in(existing: Optional[str], repo: str, digest: str) -> Optional[str]:
    """The version tag the build's description already names for this image (a sync that only
    knows the digest keeps it)."""
    for paragraph in _paragraphs(existing or ""):
        if _is_block_of(paragraph, digest):
            m = re.search(re.escape(repo) + r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", paragraph)
            if m:
                return m.group(1)
    return None


def write_build_files(out_dir: str, *, image: Image, record: dict, stmt: dict, fmt: str, now: datetime,
                      by: Optional[str], describe_build: bool = True) -> List[str]:
    """OUT/provenance.json (this image's statement and record, plus every image recorded into
    OUT by this build) and, unless `describe_build` is off, OUT/description.txt|.html (one
    paragraph per image, for the build's description)."""
    from ..render import write_atomic
    fmt = check_format(fmt)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out_dir}: {exc.strerror}",
                         "pass --out-dir DIR, a writable directory") from None
    tag = version_tag(image.tags)
    entry = {"image": image.pinned, "repo": image.repo.name, "tag": tag, "digest": image.digest,
             "record": record, "statement": stmt}
    prov_path = os.path.join(out_dir, PROVENANCE_FILE)
    previous = _read_json(prov_path)
    images = [i for i in (previous.get("images") or []) if isinstance(i, dict) and i.get("digest") != image.digest]
    images.append({k: entry[k] for k in ("image", "repo", "tag", "digest", "record")})
    doc = dict(entry, images=images)
    write_atomic(prov_path, (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    if not describe_build:
        return [prov_path]

    _, commit, branch = build_of(stmt)
    block = describe(image, fmt=fmt, now=now, note="provenance recorded", by=by, commit=commit, branch=branch,
                     tag=tag)
    desc_path = os.path.join(out_dir, DESCRIPTION_FILES[fmt])
    try:
        with open(desc_path, encoding="utf-8") as fh:
            existing = fh.read()
    except OSError:
        existing = ""
    write_atomic(desc_path, merge_description(existing, block, image.digest).encode("utf-8"))
    return [prov_path, desc_path]


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
