"""The nightly deploy: plan (newest eligible image per service vs what the target runs), render
deploy files from the plan, and record what happened after the user's apply command.

What a target runs is kept in each repository as the tag `deployed.<target>`, moved on every
successful deployment, plus a deployment record (kind `deployment`, target, result) on every
image whose deployment was attempted, failed ones included. Reading what is deployed therefore
costs one HEAD and one referrers lookup per service, whatever the number of tags; `plan` walks
version tags newest first and stops at the first eligible image, as `pick` does.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence

from .. import render as rendering
from ..core import record as rec
from ..core.descriptor import Descriptor
from ..core.policy import Policy, membership
from ..core.record import Record
from ..core.ref import DIGEST_RE, TAG_RE, Ref
from ..core.services import Service, ServicesFile, check_target, deployed_tag
from ..errors import InputError, NotFoundError, RemoteError
from ..stores.base import Store
from ..stores.discovery import Discovery
from .channel import nothing_in_channel
from .images import Image, Scan, attach, checked_records, ignored, load, statement
from .notes import Notes
from .workers import Workers

NEW, NONE, UPGRADE, DOWNGRADE = "new", "none", "upgrade", "downgrade"
CHANGED = "changed"   # `deployed` does not order images: it only knows the image is another one
SUCCEEDED, FAILED = "succeeded", "failed"
FIRST_BATCH = 4   # most nights the newest few images decide; later rounds double

StoreFor = Callable[[Ref], Store]
PolicyFor = Callable[..., Policy]   # (policy path or None, service repo) -> Policy


@dataclass
class Current:
    """What the target runs now: the image under `deployed.<target>` and its newest successful
    deployment record for the target (None for a tag moved by hand)."""

    image: Image
    tag: Optional[str]
    record: Optional[Record]

    def to_json(self) -> dict:
        r = self.record
        return {"image": self.image.pinned, "tag": self.tag, "digest": self.image.digest,
                "deployed_at": r.created if r else None, "by": r.by if r else None}


@dataclass
class Planned:
    """One service's entry: the image it gets, or (image None) why it gets none."""

    service: Service
    channel: str
    image: Optional[Image]
    tag: Optional[str]
    current: Optional[Current]
    change: Optional[str]                      # None when no target is known or nothing was found
    skipped: List[dict] = field(default_factory=list)
    reasons: List[str] = field(default_factory=list)   # why there is no image

    def to_json(self) -> dict:
        cur, img = self.current, self.image
        return {"name": self.service.name, "repo": self.service.repo.name, "channel": self.channel,
                "image": img.pinned if img else None, "tag": self.tag, "digest": img.digest if img else None,
                "untrusted": [u.to_json() for u in img.untrusted] if img else [],
                "deployed": cur.image.pinned if cur else None, "change": self.change,
                "deployed_tag": cur.tag if cur else None,
                "deployed_at": cur.record.created if cur and cur.record else None,
                "skipped": self.skipped, "reasons": self.reasons}


@dataclass
class Plan:
    channel: str
    target: Optional[str]
    services: List[Planned]

    @property
    def missing(self) -> List[str]:
        return [p.service.name for p in self.services if p.image is None]

    def to_json(self) -> dict:
        return {"channel": self.channel, "target": self.target,
                "services": [p.to_json() for p in self.services], "missing": self.missing}


def _successful_deployment(image: Image, target: str) -> Optional[Record]:
    done = [r for r in image.records
            if r.kind == rec.DEPLOYMENT and r.target == target and r.result == SUCCEEDED]
    return max(done, key=lambda r: r.order) if done else None


def _recorded_tag(store: Store, repo: Ref, record: Optional[Record]) -> Optional[str]:
    """The version tag a deployment record names (two requests: the record and its payload)."""
    if record is None:
        return None
    try:
        tag = (statement(store, repo, record.digest).get("predicate") or {}).get("tag")
    except (NotFoundError, RemoteError, InputError, AttributeError):
        return None   # a record shipmark did not write: the digest is shown instead
    return tag if isinstance(tag, str) and TAG_RE.match(tag) else None


def running_digest(found: Discovery, target: str) -> Optional[Descriptor]:
    """Where `deployed.<target>` points: one HEAD, and none at all when the tag list lacks it."""
    dtag = deployed_tag(target)
    return found.head(dtag) if found.has_tag(dtag) else None


def current(found: Discovery, target: str, known: Optional[Dict[str, Image]] = None,
            desc: Optional[Descriptor] = None) -> Optional[Current]:
    """What `target` runs from this repository, from the `deployed.<target>` tag. Images already
    read (`known`, by digest) are reused; otherwise its records are read, and its version tag from
    its deployment record."""
    desc = desc or running_digest(found, target)
    if desc is None:
        return None
    image = (known or {}).get(desc.digest)
    if image is None:
        records, untrusted = checked_records(found, desc.digest)
        image = Image(found.repo, desc, records, found=found, untrusted=untrusted)
    record = _successful_deployment(image, target)
    tag = image.tags[0] if image.tags else _recorded_tag(found.store, found.repo, record)
    return Current(image, tag, record)


def refusals(image: Image, policy: Policy, channel: str, now: datetime, target: Optional[str],
             running: Optional[str], retry_failed: bool = False, notes: Optional[Notes] = None) -> List[str]:
    """Why the nightly deploy would not take this image: it is not what the channel holds (not a
    member; for an `auto` channel, not admitted by the policy), or its deployment to the target
    failed (unless it is what runs there, or failures are retried)."""
    reasons = list(membership(policy, channel, image.state, now, image.built_at).reasons)
    if notes is not None:
        reasons = notes.explain(image, reasons)
    last = image.state.deployments.get(target) if target else None
    if last is not None and last.result == FAILED and not retry_failed and image.digest != running:
        why = notes.reason(image.repo, last) if notes is not None else None
        reasons.append(f"deploying to {target} failed at {last.created}" + (f" ({last.by})" if last.by else "")
                       + (f": {why}" if why else ""))
    return reasons


def _empty_repo(service: Service, what: str) -> str:
    return f"repository {service.repo.name} has {what}: push a version-tagged image there " \
           "(see `shipmark tag`), or fix the service's repo in the services file"


def plan_service(*, store: Store, service: Service, channel: str, policy: Policy, target: Optional[str],
                 now: datetime, retry_failed: bool = False, found: Optional[Discovery] = None,
                 workers: Optional[Workers] = None) -> Planned:
    """Newest image of one service that the channel's policy admits and that did not already fail
    to deploy to the target, and what the target runs now. A pick whose tag was answered from
    what discovery remembers is checked with one HEAD; a tag pushed again restarts the walk. A
    service without such an image is an entry without image, with the reasons."""
    rules = policy.channel(channel)

    def gap(reason_list: List[str], skipped: Sequence[dict] = (), running_now: Optional[Current] = None) -> Planned:
        return Planned(service, channel, None, None, running_now, None, list(skipped), reason_list)

    try:
        scan = Scan(store, service.repo, found=found, policy=policy, now=now, workers=workers)
    except NotFoundError:
        return gap([_empty_repo(service, "no tags (it does not exist)")])
    if not scan.all_tags:
        return gap([_empty_repo(service, "no tags")])
    running = running_digest(scan.found, target) if target else None
    if not scan.version_tags:
        return gap([_empty_repo(service, "no version tags")], (),
                   current(scan.found, target, None, running) if running and target else None)
    walked: Dict[str, Image] = {}
    skipped: List[dict] = []
    notes = Notes(store)
    picked = None
    for image in scan.images(batch=FIRST_BATCH):
        walked[image.digest] = image
        reasons = refusals(image, policy, channel, now, target, running.digest if running else None,
                           retry_failed, notes)
        if not reasons:
            picked = image
            break
        skipped.append({"tag": image.tags[0], "digest": image.digest, "reasons": reasons,
                        **ignored(image)})
    if picked is None:
        nothing = nothing_in_channel(service.repo, channel, rules.auto, skipped)
        running_now = current(scan.found, target, walked, running) if running and target else None
        return gap([nothing.message], skipped, running_now)
    if not scan.verified(picked):
        return plan_service(store=store, service=service, channel=channel, policy=policy, target=target,
                            now=now, retry_failed=retry_failed, found=scan.found, workers=workers)
    # Most nights the target runs the pick or an image the walk read already: no more requests.
    now_running = current(scan.found, target, walked, running) if running and target else None
    if not target:
        change = None
    elif running is None or now_running is None:
        change = NEW
    elif running.digest == picked.digest:
        change = NONE
    elif running.digest in walked:
        change = DOWNGRADE   # what runs is newer than anything eligible: it was rejected or failed
    else:
        change = UPGRADE
    return Planned(service, channel, picked, picked.tags[0], now_running, change, skipped)


def each_service(services: List[Service], work: Callable[[Service], Any],
                 workers: Optional[Workers] = None) -> List[Any]:
    """Run `work` per service on the command's workers (one pool per command: see
    ops/workers.py); results in the given order; the first error (in that order) is raised."""
    if len(services) <= 1:
        return [work(s) for s in services]
    if workers is not None:
        return workers.map(work, services)
    with Workers() as own:
        return own.map(work, services)


def open_stores(services: List[Service], store_for: StoreFor) -> Dict[str, Store]:
    """Open every store once, before any thread needs one."""
    return {s.name: store_for(s.repo) for s in services}


def plan(*, store_for: StoreFor, services: ServicesFile, names: Sequence[str] = (), channel: Optional[str] = None,
         target: Optional[str] = None, policy_for: PolicyFor, now: datetime,
         retry_failed: bool = False) -> Plan:
    target = check_target(target) if target else services.target
    chosen = services.select(list(names))
    stores = open_stores(chosen, store_for)
    policies = {s.name: policy_for(s.policy, s.repo) for s in chosen}

    def one(service: Service) -> Planned:
        with Discovery(stores[service.name], service.repo) as found:
            return plan_service(store=stores[service.name], service=service,
                                channel=services.channel_for(service, channel), policy=policies[service.name],
                                target=target, now=now, retry_failed=retry_failed, found=found, workers=workers)

    with Workers() as workers:
        planned = sorted(each_service(chosen, one, workers), key=lambda p: p.service.name)
    return Plan(services.default_channel(channel), target, planned)


# -- plans written by `plan --json` ---------------------------------------------------------------

@dataclass
class Chosen:
    """One service's image to render or record: from a fresh plan or a saved plan file."""

    service: Service
    channel: str
    repo: Ref
    digest: str
    tag: str

    @property
    def pinned(self) -> str:
        return f"{self.repo.name}@{self.digest}"


def chosen_from_plan(result: Plan) -> List[Chosen]:
    """Services with an image get it; a service without one keeps what the target runs (so an
    apply of the rendered files leaves it as it is) and is left out when nothing runs."""
    out = []
    for p in result.services:
        if p.image is not None:
            out.append(Chosen(p.service, p.channel, p.service.repo, p.image.digest, p.tag or ""))
        elif p.current is not None:
            out.append(Chosen(p.service, p.channel, p.service.repo, p.current.image.digest, p.current.tag or ""))
    return out


def chosen_from_json(data: Any, services: ServicesFile, names: Sequence[str] = (),
                     source: str = "plan") -> List[Chosen]:
    """The services of a plan saved with `shipmark plan --json`, checked against the services file.
    A service the plan has no image for keeps what the target ran when planned, if anything."""
    from ..core.ref import check_digest

    if not isinstance(data, dict) or not isinstance(data.get("services"), list):
        raise InputError(f"{source} is not a plan", "write it with: shipmark plan --services F --json > plan.json")
    by_name = {s.name: s for s in services.services}
    wanted = {s.name for s in services.select(list(names))}
    out = []
    for i, entry in enumerate(data["services"]):
        if not isinstance(entry, dict):
            raise InputError(f"{source}: services[{i}] is not an object")
        name = entry.get("name")
        if name not in by_name:
            raise InputError(f"{source}: services[{i}]: unknown service {name!r}: {services.source} has no "
                             "service of that name", f"use one of: {', '.join(sorted(by_name))}")
        if name not in wanted:
            continue
        service = by_name[name]
        digest, tag = entry.get("digest"), entry.get("tag")
        if digest is None:
            deployed = entry.get("deployed")
            if not isinstance(deployed, str) or "@" not in deployed:
                continue   # nothing planned and nothing running: left out
            digest, tag = deployed.rpartition("@")[2], entry.get("deployed_tag")
        try:
            check_digest(digest)
        except InputError:
            raise InputError(f"{source}: services[{i}] ({name}).digest: expected sha256:<64 hex>, "
                             f"got {digest!r}") from None
        if tag not in (None, "") and not (isinstance(tag, str) and TAG_RE.match(tag)):
            raise InputError(f"{source}: services[{i}] ({name}).tag: expected a tag (A-Z a-z 0-9 _ . -), "
                             f"got {tag!r}", "plan again: shipmark plan --services F --json > plan.json")
        if entry.get("repo") not in (None, service.repo.name):
            raise InputError(f"{source}: services[{i}] ({name}).repo is {entry.get('repo')}, but "
                             f"{services.source} says {service.repo.name}", "plan again with the current services file")
        channel = entry.get("channel") or services.channel_for(service, data.get("channel"))
        try:
            rec.check_name("channel", channel)
        except InputError as exc:
            raise InputError(f"{source}: services[{i}] ({name}): {exc.message}", exc.hint) from None
        out.append(Chosen(service, channel, service.repo, digest, tag or ""))
    return sorted(out, key=lambda c: c.service.name)


# -- render ---------------------------------------------------------------------------------------

@dataclass
class Rendered:
    directory: str
    files: List[str]
    changed: List[str]
    services: List[Chosen]
    target: Optional[str]

    def to_json(self) -> dict:
        return {"out": self.directory, "target": self.target, "files": self.files, "changed": self.changed,
                "services": [{"name": c.service.name, "image": c.pinned, "tag": c.tag, "digest": c.digest}
                             for c in self.services]}


def _check_image(c: Chosen) -> None:
    """Digest and tag reach deploy files, and shells and YAML parsers read those: each must be
    what it claims to be, whole (a tag or digest a registry or a record made up stops here)."""
    hint = ("the registry (or something between it and shipmark) answered a value no registry "
            "writes: nothing was written; check the registry and render again")
    if not isinstance(c.digest, str) or not DIGEST_RE.match(c.digest):
        raise RemoteError(f"service {c.service.name}: image digest {c.digest!r} is not sha256:<64 hex>", hint)
    if c.tag and (not isinstance(c.tag, str) or not TAG_RE.match(c.tag)):
        raise RemoteError(f"service {c.service.name}: image tag {c.tag!r} is not a valid tag", hint)


def template_context(chosen: List[Chosen], services: ServicesFile, target: Optional[str]) -> dict:
    """What deploy templates see. Only the images and the services file's values go in (no time,
    no 'what changed'), so the same images give the same bytes. Every image is checked first, so a
    bad value stops the render before any file is written."""
    if target:
        check_target(target)
    rows = []
    for c in sorted(chosen, key=lambda c: c.service.name):
        _check_image(c)
        rows.append({"name": c.service.name, "repo": c.repo.name, "image": c.pinned, "tag": c.tag,
                     "digest": c.digest, "channel": c.channel, "vars": services.vars_for(c.service)})
    return {"services": rows, "by_name": {r["name"]: r for r in rows}, "target": target or "",
            "vars": dict(services.vars)}


def render(*, chosen: List[Chosen], services: ServicesFile, templates: List[str], out: Optional[str],
           target: Optional[str] = None) -> Rendered:
    if not templates:
        raise InputError("render needs --template", "e.g. --template docker-compose.yml.j2 "
                         f"(packaged: {', '.join(rendering.packaged_deploy_templates())})")
    if not out:
        raise InputError("render needs --out DIR", "the directory the deploy files are written to")
    found = [rendering.find_template(t) for t in templates]
    files = rendering.render_all(found, template_context(chosen, services, target))
    written = rendering.write_files(out, files)
    return Rendered(out, written.files, written.changed, chosen, target)


# -- deployed ---------------------------------------------------------------------------------------

@dataclass
class Outcome:
    name: Optional[str]
    image: Image
    tag: str
    previous: Optional[str]       # what the target ran before (repo@sha256:...), None if nothing
    change: str
    record: Optional[Record] = None
    reused: bool = False          # a record from an interrupted earlier run was reused

    def to_json(self) -> dict:
        return {"name": self.name, "image": self.image.pinned, "tag": self.tag, "digest": self.image.digest,
                "previous": self.previous, "change": self.change,
                "record": self.record.to_json() if self.record else None}


@dataclass
class Deployment:
    target: str
    result: str
    recorded: List[Outcome]
    unchanged: List[str]
    rollback: Optional[dict] = None

    def to_json(self) -> dict:
        return {"target": self.target, "result": self.result,
                "services": [o.to_json() for o in self.recorded], "unchanged": self.unchanged,
                "rollback": self.rollback}


def _earlier_record(image: Image, target: str, result: str, previous: str, by: Optional[str]) -> Optional[Record]:
    """A record an interrupted run of the same job already wrote for this same step (same result,
    same previous image, same actor): a rerun reuses it instead of writing a second one."""
    mine = [r for r in image.records if r.kind == rec.DEPLOYMENT and r.target == target]
    newest = max(mine, key=lambda r: r.order) if mine else None
    if (newest is not None and newest.result == result and (newest.previous or "none") == previous
            and newest.by == by):
        return newest
    return None


def record_deployment(*, store: Store, image: Image, tag: str, target: str, succeeded: bool, now: datetime,
                      by: Optional[str], previous: Optional[str], service: Optional[str] = None,
                      channel: Optional[str] = None, reason: Optional[str] = None, signer=None) -> Outcome:
    """Record first, then move `deployed.<target>` (successes only): a rerun converges."""
    result = SUCCEEDED if succeeded else FAILED
    prev_digest = previous.split("@", 1)[1] if previous else "none"
    record = _earlier_record(image, target, result, prev_digest, by)
    reused = record is not None
    if record is None:
        predicate = {"target": target, "result": result, "service": service, "channel": channel,
                     "tag": tag or None, "previous": previous, "reason": reason, "by": by}
        new = rec.build(rec.DEPLOYMENT, image.descriptor, image.repo.name, predicate, now, by,
                        result=result, target=target, channel=channel, previous=prev_digest, signer=signer)
        record = attach(store, image, new)
    if succeeded:
        manifest = store.get_manifest(image.repo.with_digest(image.digest))
        store.put_manifest(image.repo.with_tag(deployed_tag(target)), manifest)   # byte-exact
    change = NEW if previous is None else (NONE if prev_digest == image.digest else CHANGED)
    return Outcome(service, image, tag, previous, change, record, reused)


def deployed(*, store_for: StoreFor, services: ServicesFile, chosen: List[Chosen], target: Optional[str],
             succeeded: bool, now: datetime, by: Optional[str], reason: Optional[str] = None,
             rollback_templates: Sequence[str] = (), rollback_out: Optional[str] = None, signer=None) -> Deployment:
    """After the apply command: a deployment record on every image that changed (failed ones
    included) and, on success, `deployed.<target>` moved to it. Services whose image did not change
    get nothing. After a failure, `rollback_templates` render what the target ran before."""
    target = check_target(target) if target else services.target
    if not target:
        raise InputError("deployed needs --target NAME", "or set target: NAME in the services file")
    rec.check_text("reason", reason)
    if rollback_templates and succeeded:
        raise InputError("--rollback goes with --failed", "a successful deployment has nothing to roll back")
    if rollback_templates and not rollback_out:
        raise InputError("--rollback needs --out DIR", "the directory the previous deploy files are written to")
    by_name = {c.service.name: c for c in chosen}
    ordered = [c.service for c in chosen]
    stores = open_stores(ordered, store_for)

    def one(service: Service):
        c = by_name[service.name]
        store = stores[service.name]
        found = Discovery(store, service.repo)
        running = running_digest(found, target)
        if running is not None and running.digest == c.digest:
            return None, running, found
        image = load(store, service.repo.with_digest(c.digest), found)
        previous = f"{service.repo.name}@{running.digest}" if running else None
        outcome = record_deployment(store=store, image=image, tag=c.tag, target=target, succeeded=succeeded,
                                    now=now, by=by, previous=previous, service=service.name, channel=c.channel,
                                    reason=reason, signer=signer)
        return outcome, running, found

    results = each_service(ordered, one)
    recorded = [o for o, _, _ in results if o is not None]
    unchanged = sorted(s.name for s, (o, _, _) in zip(ordered, results) if o is None)
    result = Deployment(target, SUCCEEDED if succeeded else FAILED, sorted(recorded, key=lambda o: o.name or ""),
                        unchanged)
    if rollback_templates:
        # The tag did not move: it still names what the target ran before this deployment.
        previous, missing = [], []
        for s, (_, running, found) in zip(ordered, results):
            if running is None:
                missing.append(s.name)
                continue
            was = current(found, target, desc=running)
            previous.append(Chosen(s, by_name[s.name].channel, s.repo, running.digest,
                                   (was.tag if was is not None else None) or ""))
        if not previous:
            raise NotFoundError(f"nothing to roll back to: no service was deployed to {target} before",
                                "the failed deployment is recorded; deploy a known good set by hand")
        done = render(chosen=previous, services=services, templates=list(rollback_templates),
                      out=rollback_out, target=target)
        result.rollback = dict(done.to_json(), missing=sorted(missing))
    return result


def deployed_images(*, store: Store, refs: List[Ref], target: str, succeeded: bool, now: datetime,
                    by: Optional[str], reason: Optional[str] = None, signer=None) -> Deployment:
    """`shipmark deployed --target T IMAGE...`: the same records for images named one by one."""
    check_target(target)
    rec.check_text("reason", reason)
    recorded = []
    for ref in refs:
        found = Discovery(store, ref.repo)
        running = current(found, target)
        image = load(store, ref, found)
        if running is not None and running.image.digest == image.digest and succeeded:
            recorded.append(Outcome(None, image, ref.tag or "", running.image.pinned, NONE, running.record))
            continue
        recorded.append(record_deployment(store=store, image=image, tag=ref.tag or "",
                                          target=target, succeeded=succeeded, now=now, by=by,
                                          previous=running.image.pinned if running else None, reason=reason,
                                          signer=signer))
    return Deployment(target, SUCCEEDED if succeeded else FAILED, recorded, [])

