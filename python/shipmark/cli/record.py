"""shipmark record: the provenance record of a freshly pushed image."""

from ..errors import InputError
from ..settings import add_flag
from . import Output, common, signing_flag
from .jenkins_cmd import no_jenkins_flag

# The build details a provenance record holds; each defaults to its Jenkins variable (settings.py).
BUILD_DETAILS = ("git_commit", "git_branch", "git_url", "build_url", "job", "build_number", "builder")


def add(sub):
    p = sub.add_parser("record", help="record the provenance of a pushed image",
                       description="Attach a provenance record (SLSA v1 shape) to IMAGE. Git and build "
                                   "details default to the Jenkins variables GIT_COMMIT, GIT_BRANCH, GIT_URL, "
                                   "BUILD_URL, JOB_NAME, BUILD_NUMBER.")
    p.add_argument("image", metavar="IMAGE")
    for name in BUILD_DETAILS:
        add_flag(p, name)
    p.add_argument("--allow-empty", action="store_true",
                   help="record even without a git commit (such a record never replaces one that has a branch)")
    p.add_argument("--base-image", help="the FROM image, ideally pinned by digest")
    p.add_argument("--material", action="append", default=[], metavar="URI=sha256:HEX",
                   help="an input such as a deb package from Aptly (repeatable)")
    add_flag(p, "by", help="who records")
    p.add_argument("--out-dir", metavar="DIR",
                   help="also write DIR/provenance.json and, for the build's description, DIR/description.txt "
                        "(.html)")
    add_flag(p, "description_format")
    no_jenkins_flag(p, "record never calls Jenkins; with --out-dir it then writes no description file for "
                       "the build either")
    signing_flag(p)
    common(p)
    p.set_defaults(run=run)


def _materials(items):
    out = []
    for item in items:
        uri, sep, digest = item.rpartition("=")
        if not sep or not uri or ":" not in digest:
            raise InputError(f"--material {item!r} is not URI=ALGO:HEX",
                             "write e.g. --material pkg:deb/debian/app@1.4.2=sha256:<hex>")
        out.append((uri, digest))
    return out


def run(args, ctx) -> Output:
    from ..ops import annotate  # lazily: --help stays fast
    ref = ctx.image(args.image)
    values = {name: getattr(ctx.settings, name) for name in BUILD_DETAILS}
    if not values["git_commit"] and not args.allow_empty:
        raise InputError("no git commit to record: outside Jenkins GIT_COMMIT is not set",
                         "pass --git-commit SHA (and --git-branch, --git-url), or --allow-empty to record without")
    result = annotate.provenance(signer=ctx.signer(), store=ctx.store(ref), ref=ref, now=ctx.now, by=ctx.by,
                                 base_image=args.base_image, materials=_materials(args.material), **values)
    data = dict(result.to_json(), statement=result.statement)
    if args.out_dir:
        from ..ops import description
        data["files"] = description.write_build_files(
            args.out_dir, image=result.image, record=result.record.to_json(), stmt=result.statement,
            fmt=ctx.settings.description_format, now=ctx.now, by=ctx.by, describe_build=not args.no_jenkins)
    return Output(data,
                  [f"recorded provenance of {result.image.pinned}",
                   f"  commit {values['git_commit'] or '-'} on {values['git_branch'] or '-'}, "
                   f"build {values['build_url'] or '-'}"])
