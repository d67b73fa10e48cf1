"""shipmark tag: the version tag and the OCI labels for `docker build`."""

import shlex
from datetime import datetime, timezone

from ..core import version
from ..errors import InputError
from ..settings import add_flag
from . import Output, common


def add(sub):
    p = sub.add_parser("tag", help="compute the version tag (and --label arguments) for a build",
                       description="Print the immutable version tag VERSION-bBUILD.YYYYMMDD.SHA. Build "
                                   "number and commit default to BUILD_NUMBER and GIT_COMMIT; without them "
                                   "there is no tag (exit 2). --labels needs only --version.")
    p.add_argument("--version", dest="app_version", required=True, metavar="VERSION", help="e.g. 1.4.2")
    add_flag(p, "build_number", "--build", metavar="N")
    add_flag(p, "git_commit", "--sha", metavar="SHA")
    p.add_argument("--date", metavar="YYYYMMDD", help="build date, UTC (default: today)")
    add_flag(p, "git_url", "--source", metavar="URL", help="source repository URL for the labels")
    p.add_argument("--labels", action="store_true", help="print `--label k=v` arguments for docker build instead")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    build = ctx.settings.build_number
    if build is not None and not str(build).isdigit():
        raise InputError(f"invalid build number {build!r}", "use a whole number, e.g. $BUILD_NUMBER")
    when = ctx.now
    if args.date:
        try:
            when = datetime.strptime(args.date, "%Y%m%d").replace(tzinfo=timezone.utc)
        except ValueError:
            raise InputError(f"invalid --date {args.date!r}", "write the date as YYYYMMDD, e.g. 20261128") from None
    sha = ctx.settings.git_commit
    tag = None
    if not args.labels:
        if build is None:
            raise InputError("no build number for the version tag",
                             "pass --build N (in Jenkins, BUILD_NUMBER is read)")
        if not sha:
            raise InputError("no git commit for the version tag", "pass --sha COMMIT (in Jenkins, GIT_COMMIT is read)")
    if build is not None and sha:
        tag = version.make_tag(args.app_version, int(build), when, sha)
    labels = version.labels(args.app_version, when, sha, ctx.settings.git_url)
    if args.labels:
        lines = [" ".join(f"--label {shlex.quote(f'{k}={v}')}" for k, v in labels.items())]
    else:
        lines = [tag or ""]
    return Output({"tag": tag, "labels": labels}, lines)
