"""shipmark promote: let an image into a channel if the policy allows it."""

from ..errors import InputError
from ..settings import add_flag
from . import Output, common, policy_flag, signing_flag
from .jenkins_cmd import after_registry_op, keep_promoted_build, sync_flags


def add(sub):
    p = sub.add_parser("promote", help="promote an image into a channel: policy check, record, channel tag",
                       description="Check IMAGE against the policy for channel C; if it is eligible, write a "
                                   "promotion record and move the channel tag to it (the manifest is copied "
                                   "byte for byte; no layer moves). A rerun after any failure converges.")
    p.add_argument("image", metavar="IMAGE", nargs="?")
    p.add_argument("--to", dest="channel", metavar="CHANNEL", help="the channel, e.g. testing or stable")
    policy_flag(p)
    p.add_argument("--copy-to", metavar="REPO",
                   help="also copy the image and its referrers (records, signatures, SBOMs) to REPO "
                        "(blobs mounted) and tag it there")
    p.add_argument("--records-only", action="store_true",
                   help="with --copy-to: copy shipmark's records but no other referrers")
    p.add_argument("--dry-run", action="store_true", help="check the policy and say what would happen; change nothing")
    p.add_argument("--force", action="store_true", help="promote despite the policy (needs --reason; recorded)")
    p.add_argument("--reason", help="why (required with --force)")
    add_flag(p, "by", help="who promotes")
    p.add_argument("--from-promotion", action="store_true",
                   help="inside a Promoted Builds process: IMAGE is the IMAGE variable, else the promoted "
                        "build's IMAGE parameter, else its archived shipmark/provenance.json (reads "
                        "PROMOTED_JOB_FULL_NAME, PROMOTED_NUMBER)")
    add_flag(p, "keep_build_for")
    sync_flags(p)
    signing_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import channel  # lazily: --help stays fast
    source = None
    if args.from_promotion:
        if args.image:
            raise InputError("give IMAGE or --from-promotion, not both",
                             "in a promotion process, pass the image as the IMAGE parameter")
        from ..ops.promoted_builds import promotion_source
        s = ctx.settings
        source = promotion_source(job=s.promoted_job, number=s.promoted_number, image=s.promoted_image,
                                  client=ctx.jenkins())
        args.image = source.image
    if not args.image:
        raise InputError("promote needs IMAGE", "shipmark promote REGISTRY/REPO:TAG --to CHANNEL")
    if not args.channel:
        raise InputError("promote needs --to CHANNEL", "e.g. --to stable")
    ref = ctx.image(args.image)
    copy_to = ctx.repo(args.copy_to) if args.copy_to else None
    if args.records_only and copy_to is None:
        raise InputError("--records-only goes with --copy-to", "add --copy-to REPO, or leave --records-only out")
    signer = ctx.signer()   # first: a bad key stops the command before any request
    policy = ctx.policy(ref.repo, from_promotion=args.from_promotion)
    result = channel.promote(signer=signer, store=ctx.store(ref), ref=ref, channel=args.channel, policy=policy,
                             now=ctx.now, by=ctx.by, dry_run=args.dry_run, force=args.force,
                             reason=args.reason, copy_to=copy_to,
                             copy_store=ctx.store(copy_to) if copy_to else None,
                             records_only=args.records_only)
    data, lines = result.to_json(), promotion_lines(result)
    if source is not None:
        data["from_promotion"] = {"job": source.build.job, "number": source.build.number, "image_from": source.source}
        lines.append(f"  image from {source.source}")
    if result.dry_run:
        return Output(data, lines)
    from ..ops.build_sync import Update
    note = f"already in {result.channel}" if result.already else \
        f"{'forced into' if result.forced else 'promoted to'} {result.channel}"
    keep = result.channel in ctx.settings.keep_build_for
    out = after_registry_op(args, ctx, Output(data, lines), ctx.store(copy_to) if copy_to else ctx.store(ref),
                            [Update(result.image, note, keep=keep)])
    if source is not None and keep:
        # The carrier build holds the stars and approvals: its job's log rotation must not delete it.
        out = keep_promoted_build(args, ctx, out, source.build)
    return out


def promotion_lines(result) -> list:
    where = result.copied_to or result.image.pinned
    if result.dry_run:
        lines = [f"would promote {where} to {result.channel} (dry run: nothing changed)"]
    elif result.already:
        lines = [f"{where} is already in {result.channel}"]
    else:
        lines = [f"promoted {where} to {result.channel}"]
    if result.forced:
        lines.append("  forced past the policy: " + "; ".join(result.decision.reasons))
    return lines
