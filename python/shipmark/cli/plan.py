"""shipmark plan: per service in services.yaml, what its channel holds vs what the target runs.

Also the flags and loaders that render, deployed and board share."""

from typing import TYPE_CHECKING, Callable, Dict, Optional

from ..errors import InputError
from ..settings import add_flag
from ..terminal import to_stderr
from . import Output, common

if TYPE_CHECKING:   # loaded when a command runs, not for --help
    from ..core.policy import Policy
    from ..core.services import ServicesFile


def services_flags(p, channel_help: str = "channel for services that name none (default: the file's, else stable)"):
    p.add_argument("--services", metavar="FILE",
                   help="the services file (default: ./services.yaml)")
    p.add_argument("--channel", metavar="CHANNEL", help=channel_help)
    p.add_argument("--target", metavar="NAME", help="deployment target, e.g. prod (default: the file's target)")
    add_flag(p, "policy", help="policy for services that name none (else the file's policy, then "
                               "./shipmark.yaml, then the repository's published one)")
    p.add_argument("--no-policy", action="store_true",
                   help="admit every image that is not rejected, for services that name no policy")
    p.add_argument("--only", action="append", default=[], metavar="SERVICE",
                   help="only this service (repeatable)")


def load_services(args) -> "ServicesFile":
    from .. import servicesfile
    return servicesfile.load(args.services or servicesfile.DEFAULT_FILE)


def policy_resolver(args, services: "ServicesFile", ctx) -> Callable[..., "Policy"]:
    """A service's own policy file, else --policy / SHIPMARK_POLICY, else the services file's, else
    ./shipmark.yaml, else --no-policy said explicitly, else the policy published in the service's
    repository; none at all is an error. Each file and each repository is read once."""
    from .. import policyfile
    from ..core.policy import Policy
    default = ctx.settings.policy or services.policy or policyfile.default_path()
    cache: Dict[object, Policy] = {}

    def policy_for(path: Optional[str], repo=None) -> Policy:
        path = path or default
        key = path or (repo.name if repo is not None and not getattr(args, "no_policy", False) else None)
        if key not in cache:
            published = None
            if not path and repo is not None and not getattr(args, "no_policy", False):
                published = ctx.published_policy(repo)
            if path:
                cache[key] = policyfile.load(path)
            elif published is not None:
                cache[key] = published.policy
            elif getattr(args, "no_policy", False):
                cache[key] = Policy.open()
            else:
                where = f" for {repo.name}" if repo is not None else ""
                raise InputError(f"no policy{where}: nothing says which images may enter a channel",
                                 policyfile.NO_POLICY_HINT.replace("pass --policy FILE", "name one in the "
                                                                   "services file, pass --policy FILE"))
        return cache[key]
    return policy_for


def add(sub):
    p = sub.add_parser("plan", help="per service (services.yaml): what its channel holds vs what the target runs",
                       description="For every service in the services file: walk its version tags newest first "
                                   "and stop at the first member of the channel (promoted into it, not rejected; "
                                   "for an `auto` channel: the first image its policy admits) that has not "
                                   "already failed to deploy to the target; compare it with what the target "
                                   "runs (tag deployed.<target>). Change: new, none, upgrade or downgrade. A "
                                   "service without such an image is listed with the reasons; the plan still "
                                   "succeeds unless --require-all.")
    services_flags(p)
    p.add_argument("--retry-failed", action="store_true",
                   help="also pick images whose deployment to the target failed before")
    p.add_argument("--require-all", action="store_true",
                   help="exit 3 when any service has no image (the plan is printed all the same)")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import deploy  # lazily: --help stays fast
    services = load_services(args)
    result = deploy.plan(store_for=ctx.store, services=services, names=args.only, channel=args.channel,
                         target=args.target, policy_for=policy_resolver(args, services, ctx), now=ctx.now,
                         retry_failed=args.retry_failed)
    code = 0
    if result.missing and args.require_all:
        to_stderr(f"shipmark: error: no image for {', '.join(result.missing)} (--require-all)")
        code = 3
    return Output(result.to_json(), plan_lines(result), code)


def plan_lines(result) -> list:
    from ..ops import deploy
    head = f"plan for {result.target}" if result.target else "plan (no target: nothing compared)"
    lines = [f"{head}, channel {result.channel}:"]
    width = max(len(p.service.name) for p in result.services)
    for p in result.services:
        if p.image is None:
            runs = f"; {result.target} keeps {p.current.tag or p.current.image.pinned}" if p.current else ""
            lines.append(f"  {p.service.name:<{width}}  no image{runs}")
            for reason in p.reasons:
                lines.append(f"  {'':<{width}}  {reason}")
            for s in p.skipped:
                lines.append(f"  {'':<{width}}  skipped {s['tag']}: {'; '.join(s['reasons'])}")
            continue
        if p.change in (None, deploy.NEW):
            what = p.tag + ("  (new)" if p.change else "")
        elif p.change == deploy.NONE:
            what = f"{p.tag}  (deployed, unchanged)"
        else:
            was = p.current.tag or p.current.image.digest[:19]
            what = f"{was} -> {p.tag}  ({p.change})"
        lines.append(f"  {p.service.name:<{width}}  {what}")
        lines.append(f"  {'':<{width}}  {p.image.pinned}")
        for s in p.skipped:
            lines.append(f"  {'':<{width}}  skipped {s['tag']}: {'; '.join(s['reasons'])}")
    return lines
