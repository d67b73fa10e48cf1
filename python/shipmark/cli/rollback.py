"""shipmark rollback: move a channel back to its previous good image."""

from ..settings import add_flag
from . import Output, common, policy_flag, signing_flag
from .jenkins_cmd import after_registry_op, sync_flags


def add(sub):
    p = sub.add_parser("rollback", help="take the channel's current image out of it; the previous member takes over",
                       description="Reject the image CHANNEL's tag points at (so pick and the nightly never "
                                   "take it again) and move the tag to the newest remaining member of the "
                                   "channel, with a promotion record marked as a rollback. `restore` undoes "
                                   "the rejection.")
    p.add_argument("repo", metavar="REPO")
    p.add_argument("--channel", required=True)
    p.add_argument("--reason", required=True, help="why (recorded)")
    policy_flag(p)
    add_flag(p, "by", help="who rolls back")
    sync_flags(p)
    signing_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import channel  # lazily: --help stays fast
    repo = ctx.repo(args.repo)
    signer = ctx.signer()   # first: a bad key stops the command before any request
    policy = ctx.policy(repo)
    result = channel.rollback(store=ctx.store(repo), repo=repo, channel=args.channel, policy=policy, now=ctx.now,
                              by=ctx.by, reason=args.reason, signer=signer)
    lines = [f"rolled {args.channel} back to {result.to_image.pinned} ({result.to_image.tags[0]})"]
    if result.rejection:
        lines.append(f"  rejected {result.from_image}")
    from ..ops.build_sync import rollback_updates
    return after_registry_op(args, ctx, Output(result.to_json(), lines), ctx.store(repo),
                             rollback_updates(result, args.reason))
