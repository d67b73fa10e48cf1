"""shipmark repair: make the registry's referrer listings agree with shipmark's records."""

from . import Output, common


def add(sub):
    p = sub.add_parser(
        "repair", help="adopt records other tools attached; make the referrers index list every referrer",
        description="For one image (REGISTRY/REPO:TAG or @DIGEST) or every image of a repository "
                    "(REGISTRY/REPO): give shipmark records that only the registry's listing names a "
                    "tag of their own, so that they count, and on registries without the referrers API "
                    "rewrite the sha256-<hex> index to list every referrer that exists (dangling and "
                    "malformed entries are dropped and reported). Every shipmark write already does "
                    "this for its image. Safe to rerun.")
    p.add_argument("target", metavar="IMAGE|REPO")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..core import ref as refs
    from ..ops import maintenance  # lazily: --help stays fast
    ref = refs.parse(args.target, default_tag=None)
    result = maintenance.repair(store=ctx.store(ref), ref=ref)
    lines = []
    for fixed in result.images:
        what = []
        if fixed.adopted:
            what.append(f"adopted {len(fixed.adopted)} record(s)")
        if fixed.dropped:
            what.append("dropped " + "; ".join(f"{d.digest[:19] or 'an entry'}: {d.why}" for d in fixed.dropped))
        if fixed.rewritten:
            what.append(f"index rewritten ({fixed.published} referrers)")
        lines.append(f"{result.repo.name}@{fixed.subject}: {', '.join(what) or 'nothing to repair'}")
    return Output(result.to_json(), lines or [f"no images with records in {result.repo.name}"])
