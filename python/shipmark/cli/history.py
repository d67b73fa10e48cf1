"""shipmark history: what entered a channel, newest first."""

from . import Output, common


def add(sub):
    p = sub.add_parser("history", help="list the promotions into a channel, newest first")
    p.add_argument("repo", metavar="REPO")
    p.add_argument("--channel", required=True)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import channel  # lazily: --help stays fast
    repo = ctx.repo(args.repo)
    result = channel.history(store=ctx.store(repo), repo=repo, channel=args.channel, progress=ctx.progress())
    lines = []
    for e in result.entries:
        mark = "*" if e.image.digest == result.current else " "
        flags = "  (rejected)" if e.image.state.rejected else ""
        lines.append(f"{mark} {e.record.created[:19].replace('T', ' ')}  {e.image.tags[0]:<36} "
                     f"{e.image.digest[7:19]}  by {e.record.by or '-'}{flags}")
    return Output(result.to_json(), lines or [f"nothing was ever promoted to {args.channel} in {repo.name}"])
