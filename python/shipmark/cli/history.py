"""shipmark history: what entered a channel, newest first."""

from . import Output, common, policy_flag


def add(sub):
    p = sub.add_parser("history", help="list the promotions into a channel, newest first",
                       description="Every promotion into CHANNEL, newest first, forced ones and rollbacks "
                                   "marked. `*` marks what the channel holds now (what pick returns); "
                                   "rejected images say by whom and why.")
    p.add_argument("repo", metavar="REPO")
    p.add_argument("--channel", required=True)
    policy_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import channel  # lazily: --help stays fast
    repo = ctx.repo(args.repo)
    # Reading only: without any policy, records are checked without signers and channels hold
    # their promoted members.
    from ..core.policy import Policy
    policy = ctx.policy(repo, required=False) or Policy.open()
    result = channel.history(store=ctx.store(repo), repo=repo, channel=args.channel, policy=policy,
                             now=ctx.now, progress=ctx.progress())
    lines = []
    for e in result.entries:
        mark = "*" if e.image.digest == result.current else " "
        notes = list(e.marks) + ([e.rejection] if e.rejection else [])
        flags = "".join(f"  ({n})" for n in notes)
        lines.append(f"{mark} {e.record.created[:19].replace('T', ' ')}  {e.image.tags[0]:<36} "
                     f"{e.image.digest[7:19]}  by {e.record.by or '-'}{flags}")
    lines += [f"  ignored {u['digest'][7:19]} on {u['image']}: {u['why']}" for u in result.untrusted]
    if not lines:
        lines = [f"nothing was ever promoted to {args.channel} in {repo.name}"]
    elif result.current is None:
        lines.append(f"(channel {args.channel} holds no image now: every member was rejected)")
    return Output(result.to_json(), lines)
