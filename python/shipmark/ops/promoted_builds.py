"""Promoted Builds: where a promotion process stands for a build, its Approve and Force
buttons, and the image a promotion process is about (`promote --from-promotion`).

A process that qualified (approved, forced, or its conditions met) has a Status in the build's
PromotedBuildAction at once, but its promotion build exists only when the queued promotion
starts: so a status without builds is `queued`, a process without status `pending`.
"""

import json
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Tuple

from ..errors import InputError, NotFoundError
from ..jenkins import BuildRef, Client

PROVENANCE_ARTIFACT = "shipmark/provenance.json"
IMAGE_PARAMETER = "IMAGE"


@dataclass
class PromotionSource:
    image: str
    build: BuildRef
    source: str   # where IMAGE came from


def promotion_source(*, job: Optional[str], number: Optional[str], image: Optional[str],
                     client: Optional[Client]) -> PromotionSource:
    """Inside a Promoted Builds process: the promoted build from PROMOTED_JOB_FULL_NAME and
    PROMOTED_NUMBER (`job`, `number`); the image from the IMAGE variable (`image`), else the
    build's IMAGE parameter, else its archived shipmark/provenance.json."""
    if not job or not number or not str(number).isdigit():
        raise InputError("--from-promotion needs PROMOTED_JOB_FULL_NAME and PROMOTED_NUMBER",
                         "run it as a build step of a Promoted Builds promotion process, or give IMAGE")
    build = BuildRef(job, int(number))
    if image:
        return PromotionSource(image, build, "the IMAGE variable")
    if client is None:
        raise InputError(f"IMAGE is not set and JENKINS_URL is not set, so build {build} cannot be asked",
                         "give the carrier job an IMAGE parameter, "
                         "or set JENKINS_URL, JENKINS_USER and JENKINS_API_TOKEN")
    value = client.parameters(build).get(IMAGE_PARAMETER)
    if isinstance(value, str) and value:
        return PromotionSource(value, build, f"the IMAGE parameter of build {build}")
    try:
        raw = client.artifact(build, PROVENANCE_ARTIFACT)
    except NotFoundError:
        raise NotFoundError(f"build {build} has no IMAGE parameter and no archived {PROVENANCE_ARTIFACT}",
                            "promote through the carrier job (IMAGE parameter), or let recordImage archive "
                            "shipmark/provenance.json in the producing build") from None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InputError(f"{PROVENANCE_ARTIFACT} of build {build} is not JSON",
                         "it is written by `shipmark record --out-dir shipmark`; "
                         "do not archive another file there") from None
    images = [i.get("image") for i in doc.get("images") or [] if isinstance(i, dict) and i.get("image")]
    if not images and doc.get("image"):
        images = [doc["image"]]
    if len(images) != 1:
        raise InputError(f"{PROVENANCE_ARTIFACT} of build {build} names {len(images)} images",
                         "pass IMAGE (a parameter of the promotion or carrier job) to say which one")
    return PromotionSource(str(images[0]), build, f"{PROVENANCE_ARTIFACT} of build {build}")


def _status_of(qualified: bool, builds: List[dict]) -> str:
    if any(b.get("result") == "SUCCESS" for b in builds):
        return "promoted"
    if any(b.get("building") or b.get("result") is None for b in builds):
        return "running"
    if builds:
        return "failed"
    return "queued" if qualified else "pending"


@dataclass
class PromotionStatus:
    build: BuildRef
    url: str
    processes: List[dict]

    def to_json(self) -> dict:
        return {"job": self.build.job, "number": self.build.number, "url": self.url, "promotions": self.processes}


def promotion_status(client: Client, build: BuildRef) -> PromotionStatus:
    """Every promotion process of the job and where this build stands in it."""
    names = client.promotion_processes(build.job)
    found = {p["name"]: p["builds"] for p in client.promotions(build)}
    rows = []
    for name in names + [n for n in found if n not in names]:
        builds = found.get(name, [])
        rows.append({"name": name, "status": _status_of(name in found, builds), "builds": builds})
    return PromotionStatus(build, client.build_url(build), rows)


@dataclass
class PromotionAction:
    action: str                  # approve | force
    process: str
    before: str
    status: PromotionStatus

    @property
    def after(self) -> str:
        return next((p["status"] for p in self.status.processes if p["name"] == self.process), "pending")

    def to_json(self) -> dict:
        return dict(self.status.to_json(), action=self.action, process=self.process, before=self.before,
                    after=self.after)


def _act(client: Client, build: BuildRef, process: str, action: str, call: Callable[[], None]) -> PromotionAction:
    before = promotion_status(client, build)
    was = next((p["status"] for p in before.processes if p["name"] == process), None)
    if was is None:
        raise NotFoundError(f"job {build.job} has no promotion process {process!r}",
                            f"its processes: {', '.join(p['name'] for p in before.processes) or 'none'}")
    call()
    return PromotionAction(action, process, was, promotion_status(client, build))


def approve(client: Client, build: BuildRef, process: str,
            parameters: Iterable[Tuple[str, str]] = ()) -> PromotionAction:
    params = list(parameters)
    return _act(client, build, process, "approve", lambda: client.approve(build, process, params))


def force(client: Client, build: BuildRef, process: str) -> PromotionAction:
    return _act(client, build, process, "force", lambda: client.force(build, process))
