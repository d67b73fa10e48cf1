"""shipmark pick: the newest image a channel's policy admits."""

from . import Output, common, policy_flag


def add(sub):
    p = sub.add_parser("pick", help="print what a channel holds (its newest member) as repo@sha256:...",
                       description="Walk REPO's version tags newest first and stop at the first member of "
                                   "CHANNEL: an image promoted into it (forced or not) and not rejected since. "
                                   "For a channel marked `auto: true` in the policy: the first image the "
                                   "policy admits. Prints repo@sha256:...")
    p.add_argument("repo", metavar="REPO")
    p.add_argument("--channel", required=True)
    policy_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import channel  # lazily: --help stays fast
    repo = ctx.repo(args.repo)
    result = channel.pick(store=ctx.store(repo), repo=repo, channel=args.channel, policy=ctx.policy(repo),
                          now=ctx.now, progress=ctx.progress())
    return Output(result.to_json(), [result.image.pinned])
