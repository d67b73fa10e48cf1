"""shipmark list: a repository's images, newest first, with their state and the channels each
may enter."""

from ..core.state import STATES, summary
from ..errors import InputError
from . import Output, common, policy_flag


def add(sub):
    p = sub.add_parser("list", help="list a repository's images newest first, with state and channels",
                       description="REPO's images, newest first: version tag, digest, state, the channel tags "
                                   "pointing at each and the channels the policy lets it enter now.")
    p.add_argument("repo", metavar="REPO", help="REGISTRY/REPOSITORY or ocidir://PATH")
    p.add_argument("--state", choices=STATES, help="only images in this state")
    p.add_argument("--where", action="append", default=[], metavar="SUITE=RESULT",
                   help="only images whose suite has this result (passed, failed, warned, none); repeatable")
    p.add_argument("--eligible", metavar="CHANNEL",
                   help="only images the policy lets into CHANNEL now (as promote would decide)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N images")
    policy_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import inspect  # lazily: --help stays fast
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit {args.limit} is not a positive number", "pass --limit N with N >= 1")
    repo = ctx.repo(args.repo)
    policy = ctx.policy(repo, required=args.eligible is not None)
    listing = inspect.list_images(store=ctx.store(repo), repo=repo, state=args.state, where=args.where,
                                  limit=args.limit, progress=ctx.progress(), policy=policy, now=ctx.now,
                                  eligible_for=args.eligible)
    lines = []
    for image in listing.images:
        channels = listing.channels.get(image.digest, [])
        extra = f"  [{', '.join(channels)}]" if channels else ""
        ignored = f"  ({len(image.untrusted)} untrusted record(s) ignored)" if image.untrusted else ""
        eligible = listing.eligible.get(image.digest)
        enter = f"  may enter: {', '.join(eligible)}" if eligible else ""
        lines.append(f"{image.tags[0]:<40} {image.digest[7:19]}  {summary(image.state)}{extra}{ignored}{enter}")
    if not lines and not listing.any_images:
        lines = [f"no images in {repo.name}: it has no version tags (see `shipmark tag`)"]
    elif not lines:
        lines = [f"no image in {repo.name} matches the filter"]
    return Output(listing.to_json(), lines)
