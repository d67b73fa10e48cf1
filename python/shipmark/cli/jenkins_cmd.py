"""shipmark jenkins: Promoted Builds and the builds behind images, from the command line.

Also the shared Jenkins part of mark / promote / reject / restore / rollback: `sync_flags`
declares their flags and `after_registry_op` updates the producing build once the registry
operation is done, turning Jenkins failures into a warning (exit 5 only with --strict-jenkins).
"""

from typing import TYPE_CHECKING, Iterable, List, Optional

from ..errors import InputError, NotFoundError, ShipmarkError
from ..settings import add_flag
from ..terminal import to_stderr
from . import Output, common

if TYPE_CHECKING:   # the Jenkins adapter loads when a command uses it, not for --help
    from ..jenkins import BuildRef

# -- the Jenkins part of other commands ---------------------------------------------------------

def sync_flags(parser) -> None:
    g = parser.add_argument_group("Jenkins (where JENKINS_URL is set: the build that produced the image)")
    add_flag(g, "strict_jenkins")
    no_jenkins_flag(g)
    add_flag(g, "description_format")


def no_jenkins_flag(parser, more: str = "") -> None:
    parser.add_argument("--no-jenkins", action="store_true",
                        help="leave the producing build alone" + (f" ({more})" if more else ""))


def after_registry_op(args, ctx, out: Output, store, updates: Iterable,
                      reason: Optional[str] = None) -> Output:
    """Update the producing builds of `updates` (ops.build_sync.Update) and report on it; never
    undoes or fails the registry operation (only the exit code changes, with --strict-jenkins)."""
    from ..ops import build_sync
    from ..ops.build_sync import BuildSync, SyncReport
    updates = list(updates)
    if getattr(args, "no_jenkins", False) or not updates:
        return out
    try:
        client = ctx.jenkins()
        if client is None:
            return out
        report = build_sync.sync(client=client, store=store, updates=updates, now=ctx.now, by=ctx.by,
                                   fmt=ctx.settings.description_format, reason=reason)
    except ShipmarkError as exc:   # e.g. JENKINS_USER without JENKINS_API_TOKEN
        report = SyncReport([BuildSync(u.label, "failed", error=exc) for u in updates])
    strict = ctx.settings.strict_jenkins
    if isinstance(out.data, dict):
        out.data["jenkins"] = report.to_json()
    for r in report.results:
        if r.status == "failed":
            _warn(r, strict)
        else:
            out.lines.append("  jenkins: " + _sync_line(r))
    if strict and not report.ok:
        out.code = 5
    return out


def keep_promoted_build(args, ctx, out: Output, build) -> Output:
    """After `promote --from-promotion`: keep the promoted (carrier) build forever, so that its
    job's log rotation does not delete it with its stars and approvals. Failures are warnings, as
    for the producing build."""
    from ..ops.build_sync import BuildSync
    if getattr(args, "no_jenkins", False):
        return out
    result = BuildSync(str(build), "failed", job=build.job, number=build.number)
    try:
        client = ctx.jenkins()
        if client is None:
            return out
        result.build = client.build_url(build)
        result.kept_now = client.keep(build)
        result.kept, result.status = True, "updated" if result.kept_now else "unchanged"
    except ShipmarkError as exc:
        result.error = exc
    if isinstance(out.data, dict):
        out.data["promoted_build"] = result.to_json()
    if result.status == "failed":
        _warn(result, ctx.settings.strict_jenkins)
        if ctx.settings.strict_jenkins:
            out.code = 5
    elif result.kept_now:
        out.lines.append(f"  jenkins: kept {build.job} #{build.number} forever")
    return out


def _warn(r, strict: bool) -> None:
    label = "error" if strict else "warning"
    where = f" build {r.job} #{r.number}" if r.job else " the producing build"
    message = r.error.message if r.error else "unknown failure"
    hint = f"; hint: {r.error.hint}" if r.error and r.error.hint else ""
    to_stderr(f"shipmark: {label}: jenkins: could not update{where} of {r.image}: {message}"
              f" (the registry change stands{hint})")


def _sync_line(r) -> str:
    if r.status == "skipped":
        return f"no producing build to update: {r.reason}"
    kept = " (kept forever)" if r.kept_now else ""
    verb = "described" if r.status == "updated" else "already up to date:"
    return f"{verb} {r.job} #{r.number}{kept}"


# -- shipmark jenkins ... ----------------------------------------------------------------------

def add(sub):
    p = sub.add_parser("jenkins", help="Promoted Builds and the builds behind images, over the Jenkins REST API",
                       description="Talk to Jenkins through its REST API (python-jenkins), with JENKINS_URL, "
                                   "JENKINS_USER and JENKINS_API_TOKEN. JOB is the full name with folders "
                                   "(team/app) or the job's URL.")
    jsub = p.add_subparsers(dest="jenkins_command", metavar="SUBCOMMAND", parser_class=type(p))

    q = jsub.add_parser("promotions", help="a build's promotion processes and their status",
                        description="Every promotion process of JOB and where BUILD stands in each: promoted, "
                                    "running, failed or pending.")
    _job_build(q)
    common(q)
    q.set_defaults(run=run_promotions)

    for name, text in (("approve", "approve a manual promotion (the Approve button)"),
                       ("force", "force a promotion (the Force promotion button)")):
        a = jsub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _job_build(a)
        a.add_argument("process", metavar="PROCESS", help="the promotion process, e.g. stable")
        if name == "approve":
            a.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                           help="an approval parameter of the manual condition (repeatable)")
        common(a)
        a.set_defaults(run=run_approve if name == "approve" else run_force)

    b = jsub.add_parser("builds", help="which builds of a job produced which images, with their state",
                        description="The newest builds of JOB and the images of REPO each produced (from the "
                                    "images' provenance records), with their QA state and channels.")
    b.add_argument("job", metavar="JOB")
    b.add_argument("--image-repo", required=True, metavar="REPO", help="the image repository, e.g. registry/team/app")
    b.add_argument("--limit", type=int, default=20, help="how many of the newest builds (default 20)")
    common(b)
    b.set_defaults(run=run_builds)

    s = jsub.add_parser("sync", help="describe (and keep) the build that produced an image, now",
                        description="Update the description of the build that produced IMAGE with its current "
                                    "state, as mark and promote do; --keep also keeps the build forever. "
                                    "Use it after Jenkins was unreachable.")
    s.add_argument("image", metavar="IMAGE")
    s.add_argument("--keep", action="store_true", help="keep the build forever")
    add_flag(s, "description_format")
    add_flag(s, "by", help="who")
    common(s)
    s.set_defaults(run=run_sync)
    p.set_defaults(run=None)


def _job_build(parser) -> None:
    parser.add_argument("job", metavar="JOB", help="full job name with folders, e.g. team/app-promotion")
    parser.add_argument("build", metavar="BUILD", help="build number")


def _client(ctx):
    client = ctx.jenkins()
    if client is None:
        raise InputError("JENKINS_URL is not set", "set JENKINS_URL, JENKINS_USER and JENKINS_API_TOKEN")
    return client


def _build(args) -> "BuildRef":
    from ..jenkins import BuildRef, parse_job
    if not str(args.build).isdigit():
        raise InputError(f"BUILD must be a build number, got {args.build!r}",
                         "e.g. shipmark jenkins promotions team/app 12")
    return BuildRef(parse_job(args.job), int(args.build))


def _promotion_lines(status) -> List[str]:
    lines = [f"{status.build}  {status.url}"]
    for p in status.processes:
        runs = ", ".join(f"#{b['number']} {b['result'] or 'running'}" for b in p["builds"])
        lines.append(f"  {p['name']:<16} {p['status']}" + (f"  ({runs})" if runs else ""))
    if not status.processes:
        lines.append("  (no promotion processes)")
    return lines


def run_promotions(args, ctx) -> Output:
    from ..ops import promoted_builds
    status = promoted_builds.promotion_status(_client(ctx), _build(args))
    return Output(status.to_json(), _promotion_lines(status))


def _params(items) -> List[tuple]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"--param {item!r} is not NAME=VALUE")
        out.append((name, value))
    return out


APPROVERS_HINT = ("a process whose manual condition lists approvers accepts only those users and groups "
                  "(they need no Promotion/Promote) and administrators; one without a list needs Promotion/Promote")


def _action_output(result) -> Output:
    verb = {"approve": "approval sent", "force": "forced"}[result.action]
    line = f"{verb}: {result.process} of {result.status.build} is {result.after}"
    if result.after == "queued":
        line += " (Jenkins queued the promotion; `shipmark jenkins promotions` shows when it ran)"
    elif result.action == "approve" and result.after == result.before == "pending":
        line += (" (Jenkins ignores approvals already given, and those of users not allowed to approve: "
                 f"{APPROVERS_HINT})")
    return Output(result.to_json(), [line])


def run_approve(args, ctx) -> Output:
    from ..ops import promoted_builds
    return _action_output(promoted_builds.approve(_client(ctx), _build(args), args.process, _params(args.param)))


def run_force(args, ctx) -> Output:
    from ..ops import promoted_builds
    return _action_output(promoted_builds.force(_client(ctx), _build(args), args.process))


def run_builds(args, ctx) -> Output:
    from ..jenkins import parse_job
    from ..ops import build_sync
    repo = ctx.repo(args.image_repo)
    report = build_sync.builds(client=_client(ctx), store=ctx.store(repo), repo=repo, job=parse_job(args.job),
                                 limit=args.limit, progress=ctx.progress())
    lines = []
    for row in report.builds:
        b = row.build
        result = "building" if b.get("building") else (b.get("result") or "-")
        if not row.images:
            lines.append(f"#{b.get('number'):<6} {result:<9} (no image in {repo.name})")
        for image in row.images:
            data = next(i for i in row.to_json()["images"] if i["digest"] == image.digest)
            chans = f"  [{', '.join(data['channels'])}]" if data["channels"] else ""
            lines.append(f"#{b.get('number'):<6} {result:<9} {data['tag'] or image.digest[:19]}  "
                         f"{data['state']}{chans}")
    return Output(report.to_json(), lines)


def run_sync(args, ctx) -> Output:
    from ..ops import build_sync
    from ..ops.build_sync import Update
    from ..ops.images import load
    client = _client(ctx)
    ref = ctx.image(args.image)
    store = ctx.store(ref)
    image = load(store, ref)
    report = build_sync.sync(client=client, store=store, updates=[Update(image, "state refreshed", keep=args.keep)],
                               now=ctx.now, by=ctx.by, fmt=ctx.settings.description_format)
    result = report.results[0]
    if result.status == "failed" and result.error is not None:
        raise result.error
    if result.status == "skipped":
        raise NotFoundError(f"no producing build of {image.pinned} is known: {result.reason}",
                            "record provenance with `shipmark record` in the build that pushes the image")
    return Output(dict(report.to_json(), image=image.pinned), [_sync_line(result)])
