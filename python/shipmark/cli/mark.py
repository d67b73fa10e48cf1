"""shipmark mark: record a test suite's result on an image."""

from ..core.record import RESULTS
from ..errors import InputError
from ..settings import add_flag
from . import Output, common, signing_flag
from .jenkins_cmd import after_registry_op, sync_flags


def add(sub):
    p = sub.add_parser("mark", help="record a test suite's result (passed, failed, warned) on an image",
                       description="Attach a test record (in-toto test-result v0.1) to IMAGE. Give the "
                                   "result, or JUnit XML reports from which the result and counts are read.")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--suite", required=True, help="suite name, e.g. unit or acceptance")
    p.add_argument("--result", choices=RESULTS, help="the result, when there are no JUnit reports (not with --junit)")
    p.add_argument("--junit", action="append", default=[], metavar="GLOB",
                   help="JUnit XML report(s); failures make the result failed (repeatable, ** allowed)")
    p.add_argument("--url", help="where the test run can be seen, e.g. $BUILD_URL")
    p.add_argument("--configuration", help="test configuration name (default: the suite)")
    add_flag(p, "by", help="who marks")
    sync_flags(p)
    signing_flag(p)
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from .. import junit  # lazily: --help stays fast
    from ..ops import annotate
    if not args.result and not args.junit:
        raise InputError("mark needs --result or --junit",
                         "pass --result passed|failed|warned, or --junit 'reports/*.xml'")
    if args.result and args.junit:
        raise InputError("give --result or --junit, not both",
                         "--junit reads the result from the reports; --result states it without reports")
    ref = ctx.image(args.image)
    passed, failed, warned, counts = [], [], [], None
    result = args.result
    if args.junit:
        report = junit.read(args.junit)
        passed, failed, warned, counts = report.passed, report.failed, report.skipped, report.counts
        result = report.result
    out = annotate.mark(store=ctx.store(ref), ref=ref, now=ctx.now, by=ctx.by, suite=args.suite,
                        result=result, url=args.url, configuration=args.configuration,
                        passed=passed, failed=failed, warned=warned, counts=counts, signer=ctx.signer())
    data = dict(out.to_json(), suite=args.suite, result=result)
    line = f"marked {out.image.pinned}: {args.suite} {result}"
    if counts:
        line += f" ({counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped)"
    from ..ops.build_sync import Update
    return after_registry_op(args, ctx, Output(data, [line]), ctx.store(ref),
                             [Update(out.image, f"{args.suite} {result}")])
