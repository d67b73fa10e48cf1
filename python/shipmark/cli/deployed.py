"""shipmark deployed: record what the apply command did, and roll back the files after a failure."""

from ..errors import InputError
from ..settings import add_flag
from . import Output, common, signing_flag
from .plan import load_services, services_flags
from .render_cmd import chosen


def add(sub):
    p = sub.add_parser("deployed", help="record a deployment after the apply command (and roll back on failure)",
                       description="After your apply command: write a deployment record (target, result) on every "
                                   "service's image that changed and, on success, move the tag deployed.<target> "
                                   "to it. With --failed the records say failed and the tag stays; --rollback "
                                   "then renders what the target ran before into --out. Services whose image "
                                   "did not change get no record. IMAGE arguments record single images "
                                   "instead of the services file.")
    p.add_argument("images", metavar="IMAGE", nargs="*", help="record these images instead of the services file")
    services_flags(p)
    p.add_argument("--failed", action="store_true", help="the apply command failed")
    p.add_argument("--reason", help="why it failed (recorded)")
    p.add_argument("--rollback", action="store_true",
                   help="with --failed: render the previous deployed set with --template into --out")
    p.add_argument("--template", action="append", default=[], metavar="TEMPLATE",
                   help="template for --rollback (repeatable)")
    p.add_argument("--out", metavar="DIR", help="directory for the --rollback files")
    p.add_argument("--plan", metavar="FILE",
                   help="record exactly this saved plan (`shipmark plan --json`) instead of planning again")
    p.add_argument("--retry-failed", action="store_true", help="as for plan")
    add_flag(p, "by", help="who deployed")
    signing_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import deploy  # lazily: --help stays fast
    if args.rollback and not args.failed:
        raise InputError("--rollback goes with --failed", "a successful deployment has nothing to roll back")
    if args.rollback and not (args.template and args.out):
        raise InputError("--rollback needs --template TEMPLATE and --out DIR",
                         "the same template and directory the deployment was rendered with")
    signer = ctx.signer()   # before anything is written: a bad key stops here
    if args.images:
        if not args.target:
            raise InputError("deployed IMAGE needs --target NAME", "e.g. --target prod")
        if args.rollback:
            raise InputError("--rollback needs the services file, not IMAGE arguments",
                             "run: shipmark deployed --services F --target T --failed --rollback ...")
        refs = [ctx.image(i) for i in args.images]
        stores = {r.name: ctx.store(r) for r in refs}
        outcomes = []
        for r in refs:
            outcomes += deploy.deployed_images(store=stores[r.name], refs=[r], target=args.target,
                                               succeeded=not args.failed, now=ctx.now, by=ctx.by,
                                               reason=args.reason, signer=signer).recorded
        result = deploy.Deployment(args.target, deploy.FAILED if args.failed else deploy.SUCCEEDED, outcomes, [])
    else:
        services = load_services(args)
        images, target = chosen(args, ctx, services)
        result = deploy.deployed(store_for=ctx.store, services=services, chosen=images,
                                 target=args.target or target, succeeded=not args.failed, now=ctx.now,
                                 by=ctx.by, reason=args.reason,
                                 rollback_templates=args.template if args.rollback else [],
                                 rollback_out=args.out, signer=signer)
    return Output(result.to_json(), deployed_lines(result))


def deployed_lines(result) -> list:
    verb = "deployed to" if result.result == "succeeded" else "FAILED to deploy to"
    lines = []
    for o in result.recorded:
        name = o.name or o.image.repo.name
        lines.append(f"{name}: {verb} {result.target}: {o.tag or o.image.digest[:19]}  ({o.image.pinned})")
    if result.unchanged:
        lines.append(f"unchanged (no record): {', '.join(result.unchanged)}")
    if not result.recorded:
        lines.append(f"nothing changed on {result.target}: no record written")
    if result.rollback:
        rb = result.rollback
        lines.append(f"rolled back: rendered the previous set into {rb['out']}:")
        lines += [f"  {s['name']}: {s['tag'] or s['digest'][:19]}  ({s['image']})" for s in rb["services"]]
        if rb["missing"]:
            lines.append(f"  not deployed before, left out: {', '.join(rb['missing'])}")
    return lines
