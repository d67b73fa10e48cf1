"""shipmark reject / restore: take an image out of every channel's reach, or undo that."""

from ..settings import add_flag
from . import Output, common, signing_flag
from .jenkins_cmd import after_registry_op, sync_flags


def add(sub):
    for name, reject, text in (
            ("reject", True, "reject an image: it is never eligible again and pick skips it"),
            ("restore", False, "undo a rejection")):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("image", metavar="IMAGE")
        p.add_argument("--reason", required=True, help="why (recorded on the image)")
        add_flag(p, "by", help="who decides")
        sync_flags(p)
        signing_flag(p)
        common(p)
        p.set_defaults(run=run, reject=reject)


def run(args, ctx) -> Output:
    from ..ops import annotate  # lazily: --help stays fast
    ref = ctx.image(args.image)
    out = annotate.verdict(store=ctx.store(ref), ref=ref, now=ctx.now, by=ctx.by, reject=args.reject,
                           reason=args.reason, signer=ctx.signer())
    verb = "rejected" if args.reject else "restored"
    from ..ops.build_sync import Update
    return after_registry_op(args, ctx, Output(out.to_json(), [f"{verb} {out.image.pinned}: {args.reason}"]),
                             ctx.store(ref), [Update(out.image, f"{verb}: {args.reason}")],
                             reason=args.reason if args.reject else None)
