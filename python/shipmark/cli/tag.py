"""shipmark tag: the version tag and the OCI labels for `docker build`."""

import os
import shlex
from datetime import datetime, timezone

from ..core import version
from ..errors import InputError
from . import Output, common


def add(sub):
    p = sub.add_parser("tag", help="compute the version tag (and --label arguments) for a build",
                       description="Print the immutable version tag VERSION-bBUILD.YYYYMMDD.SHA. Build "
                                   "number and commit default to BUILD_NUMBER and GIT_COMMIT; without them "
                                   "there is no tag (exit 2). --labels needs only --version.")
    p.add_argument("--version", dest="app_version", required=True, metavar="VERSION", help="e.g. 1.4.2")
    p.add_argument("--build", metavar="N", help="build number (default: $BUILD_NUMBER)")
    p.add_argument("--sha", metavar="SHA", help="git commit (default: $GIT_COMMIT)")
    p.add_argument("--date", metavar="YYYYMMDD", help="build date, UTC (default: today)")
    p.add_argument("--source", metavar="URL", help="source repository URL for the labels (default: $GIT_URL)")
    p.add_argument("--labels", action="store_true", help="print `--label k=v` arguments for docker build instead")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    build = args.build or os.environ.get("BUILD_NUMBER")
    if build is not None and not str(build).isdigit():
        raise InputError(f"invalid build number {build!r}", "use a whole number, e.g. $BUILD_NUMBER")
    when = ctx.now
    if args.date:
        try:
            when = datetime.strptime(args.date, "%Y%m%d").replace(tzinfo=timezone.utc)
        except ValueError:
            raise InputError(f"invalid --date {args.date!r}", "write the date as YYYYMMDD, e.g. 20261128") from None
    sha = args.sha or os.environ.get("GIT_COMMIT")
    tag = None
    if not args.labels:
        if build is None:
            raise InputError("no build number for the version tag",
                             "pass --build N (in Jenkins, BUILD_NUMBER is read)")
        if not sha:
            raise InputError("no git commit for the version tag", "pass --sha COMMIT (in Jenkins, GIT_COMMIT is read)")
    if build is not None and sha:
        tag = version.make_tag(args.app_version, int(build), when, sha)
    labels = version.labels(args.app_version, when, sha, args.source or os.environ.get("GIT_URL"))
    if args.labels:
        lines = [" ".join(f"--label {shlex.quote(f'{k}={v}')}" for k, v in labels.items())]
    else:
        lines = [tag]
    return Output({"tag": tag, "labels": labels}, lines)
