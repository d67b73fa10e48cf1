"""shipmark reject / restore: take an image out of every channel's reach, or undo that."""

import shlex

from ..errors import InputError
from ..settings import add_flag
from ..terminal import to_stderr
from . import Output, common, policy_flag, signing_flag
from .jenkins_cmd import after_registry_op, sync_flags

REJECT_HELP = ("Reject an image: it is never eligible again and pick skips it. A channel tag that points at it "
               "stays there (whatever pulls REPO:CHANNEL still gets it) until the channel is rolled back: the "
               "command says so on stderr, with the rollback command to run; --rollback does it in the same "
               "step. Exit 3 when a channel could not be rolled back (it has no earlier member, or it is "
               "`auto`): the rejection is recorded, and that channel's tag still points at the image.")


def add(sub):
    for name, reject, text in (
            ("reject", True, "reject an image: it is never eligible again and pick skips it"),
            ("restore", False, "undo a rejection")):
        p = sub.add_parser(name, help=text, description=REJECT_HELP if reject else text[0].upper() + text[1:] + ".")
        p.add_argument("image", metavar="IMAGE")
        p.add_argument("--reason", required=True, help="why (recorded on the image)")
        if reject:
            p.add_argument("--rollback", action="store_true",
                           help="also roll back every channel whose tag points at the image, as `shipmark "
                                "rollback REPO --channel CHANNEL` does (the policy applies, as for rollback)")
            policy_flag(p)
        add_flag(p, "by", help="who decides")
        sync_flags(p)
        signing_flag(p)
        common(p)
        p.set_defaults(run=run, reject=reject)


def run(args, ctx) -> Output:
    if args.reject:
        return run_reject(args, ctx)
    from ..ops import annotate  # lazily: --help stays fast
    ref = ctx.image(args.image)
    out = annotate.verdict(store=ctx.store(ref), ref=ref, now=ctx.now, by=ctx.by, reject=False,
                           reason=args.reason, signer=ctx.signer())
    from ..ops.build_sync import Update
    return after_registry_op(args, ctx, Output(out.to_json(), [f"restored {out.image.pinned}: {args.reason}"]),
                             ctx.store(ref), [Update(out.image, f"restored: {args.reason}")])


def run_reject(args, ctx) -> Output:
    from ..ops import channel  # lazily: --help stays fast
    from ..ops.build_sync import Update, rollback_updates
    ref = ctx.image(args.image)
    if (args.policy or args.no_policy) and not args.rollback:
        raise InputError("--policy and --no-policy go with --rollback",
                         "a rejection applies whatever the policy says: add --rollback, or leave them out")
    signer = ctx.signer()   # first: a bad key or policy stops the command before any request
    policy = ctx.policy(ref.repo) if args.rollback else None
    result = channel.reject(store=ctx.store(ref), ref=ref, now=ctx.now, by=ctx.by, reason=args.reason,
                            rollback_policy=policy, signer=signer)
    image = result.verdict.image
    data = result.to_json()
    lines = [f"rejected {image.pinned}: {args.reason}"]
    updates = [Update(image, f"rejected: {args.reason}")]
    for done in result.rollbacks:
        lines.append(f"rolled {done.channel} back to {done.to_image.pinned} ({done.to_image.tags[0]})")
        updates += rollback_updates(done, args.reason)
    left = result.stuck if args.rollback else {c: None for c in result.channels}
    data["channels"] = [{"channel": c, "rolled_back": c not in left,
                         "rollback_command": None if c not in left else rollback_command(args, image.repo, c)}
                        for c in result.channels]
    for name, why in left.items():
        warn_still_tagged(args, image, name, why)
    return after_registry_op(args, ctx, Output(data, lines, code=3 if result.stuck else 0), ctx.store(ref),
                             updates, reason=args.reason)


def rollback_command(args, repo, channel: str) -> str:
    """The `shipmark rollback` command that moves `channel` off the rejected image, ready to paste."""
    argv = ["shipmark", "rollback", repo.name, "--channel", channel, "--reason", args.reason]
    if getattr(args, "policy", None):
        argv += ["--policy", args.policy]
    elif getattr(args, "no_policy", False):
        argv.append("--no-policy")
    if getattr(args, "signing_key", None):
        argv += ["--signing-key", args.signing_key]
    return shlex.join(argv)


def warn_still_tagged(args, image, channel: str, why) -> None:
    """On stderr: the channel tag still on the rejected image, why, and what to run."""
    where = f"{image.repo.name}:{channel}"
    if why is None:
        to_stderr(f"shipmark: warning: {where} still points at the rejected image: pick and the nightly "
                  f"skip it, but whatever pulls {where} gets it until the channel is rolled back with")
        to_stderr(f"  {rollback_command(args, image.repo, channel)}")
        return
    to_stderr(f"shipmark: error: {where} still points at the rejected image: {why.message}")
    if why.hint:
        to_stderr(f"hint: {why.hint}")
