"""shipmark status: an image's state, eligibility and timeline."""

from . import Output, common, policy_flag


def add(sub):
    p = sub.add_parser("status", help="show an image's state, eligibility per channel and record timeline",
                       description="IMAGE's version tag, channels (channel tags pointing at it, and the channels "
                                   "it is a member of), state, eligibility per channel of the policy with the "
                                   "reasons, and every record newest first with its reason where it has one.")
    p.add_argument("image", metavar="IMAGE")
    policy_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..core.state import summary  # lazily: --help stays fast
    from ..ops import inspect
    from .render_text import record_line
    ref = ctx.image(args.image)
    st = inspect.status(store=ctx.store(ref), ref=ref, policy=ctx.policy(ref.repo, required=False), now=ctx.now)
    state = st.image.state
    lines = [st.image.pinned,
             f"  tags:     {', '.join(st.image.tags) or '-'}",
             f"  state:    {st.rejection or summary(state)}",
             f"  channels: {', '.join(st.channels) or '-'} (tags)   member of: {', '.join(st.members) or '-'}"]
    lines.append(f"  policy:   {st.policy_source} ({st.policy_digest})" if st.policy_digest
                 else "  policy:   none (records checked without signers)")
    for channel, decision in st.eligible.items():
        verdict = "eligible" if decision.ok else "not eligible: " + "; ".join(
            st.rejection if r.startswith("rejected") and st.rejection else r for r in decision.reasons)
        lines.append(f"  {channel:<9} {verdict}")
    lines.append("  timeline (newest first):")
    for r in reversed(state.timeline):
        extra = st.details.get(r.digest, {})
        marks = [m for m in ("forced", "rollback") if extra.get(m)]
        note = "".join(f"  [{m}]" for m in marks) + (f"  \"{extra['reason']}\"" if extra.get("reason") else "")
        lines.append("    " + record_line(r) + note)
    if not state.timeline:
        lines.append("    (no records)")
    if st.image.untrusted:
        lines.append("  ignored records (they do not count):")
        lines += [f"    {u.digest[7:19]}  {u.kind or '?':<11}  {u.why}" for u in st.image.untrusted]
    if st.not_counted:
        lines.append(f"  not counted ({st.listed.source}):")
        lines += [f"    {s.digest[:19] or '(no digest)'}  {s.why}" for s in st.not_counted]
    return Output(st.to_json(), lines)
