"""shipmark prune: remove records and indexes of images that no longer exist."""

from . import Output, common


def add(sub):
    p = sub.add_parser(
        "prune", help="delete records, per-record tags and indexes of images that no longer exist",
        description="Find records and sha256-<hex> indexes in REPO whose image is gone (deleted, then "
                    "garbage-collected) and delete them. The registry must allow deletes (Docker "
                    "Registry: storage.delete.enabled). Safe to rerun.")
    p.add_argument("repo", metavar="REPO", help="REGISTRY/REPOSITORY or ocidir://PATH")
    p.add_argument("--dry-run", action="store_true", help="say what would be deleted; delete nothing")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import maintenance  # lazily: --help stays fast
    repo = ctx.repo(args.repo)
    result = maintenance.prune(store=ctx.store(repo), repo=repo, dry_run=args.dry_run)
    verb = "would delete" if result.dry_run else "deleted"
    lines = [f"{repo.name}@{o.subject}: {verb} {len(o.records)} record(s)" + (" and the index" if o.index else "")
             for o in result.orphans]
    return Output(result.to_json(), lines or [f"nothing to prune in {repo.name}"])
