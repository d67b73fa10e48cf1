"""shipmark board: the release board as one self-contained HTML page."""

from ..errors import InputError
from . import Output, common
from .plan import load_services, policy_resolver, services_flags

DEFAULT_VERSIONS = 15   # as ops.board.DEFAULT_VERSIONS, which --help does not import


def add(sub):
    p = sub.add_parser("board", help="write the release board: services x recent versions, as one HTML page",
                       description="One self-contained HTML page (no external assets): a row per service, its "
                                   "newest versions as columns; each cell shows suite results, rejection, channel "
                                   "tags and deployments, and links to the Jenkins builds that recorded them. "
                                   "Publish it with Jenkins' HTML Publisher.")
    services_flags(p, channel_help="channel whose next image is marked (default: the file's, else stable)")
    p.add_argument("--out", metavar="FILE", default="board.html", help="the page to write (default: board.html)")
    p.add_argument("--versions", type=int, default=DEFAULT_VERSIONS, metavar="N",
                   help=f"versions per service (default {DEFAULT_VERSIONS})")
    p.add_argument("--title", default="Release board", help="page title")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import board  # lazily: --help stays fast
    if not args.out:
        raise InputError("board needs --out FILE", "e.g. --out board.html")
    services = load_services(args)
    result = board.collect(store_for=ctx.store, services=services, names=args.only, channel=args.channel,
                           target=args.target, policy_for=policy_resolver(args, services, ctx), now=ctx.now,
                           versions=args.versions)
    board.publish(result, args.out, args.title)
    lines = [f"wrote {args.out}: {len(result.rows)} services x up to {result.versions} versions"]
    for row in result.rows:
        if row.error:
            lines.append(f"  {row.name}: {row.error}")
    return Output(result.to_json(), lines)
