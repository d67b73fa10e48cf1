"""shipmark demo: the whole story on a fresh OCI layout, explained as it goes."""

import os
import tempfile

from . import Output, common


def add(sub):
    p = sub.add_parser("demo", help="run the whole story on a fresh local OCI layout and explain it",
                       description="Build three services' images (a dozen builds each) into OCI layouts, record "
                                   "provenance and test results, promote by policy, reject one release after it "
                                   "reached stable, then show what is stable, what was filtered out and why.")
    p.add_argument("--dir", metavar="DIR", help="where to create the layouts (default: a new temp directory)")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from ..ops import demo  # lazily: --help stays fast
    directory = args.dir or tempfile.mkdtemp(prefix="shipmark-demo-")
    if os.path.isdir(directory) and os.listdir(directory) and not args.dir:
        directory = tempfile.mkdtemp(prefix="shipmark-demo-")
    result = demo.run(directory, ctx.now)
    lines = [
        "shipmark demo: three services, a dozen builds each, pushed to OCI layouts in",
        f"  {directory}",
        "Each build got a provenance record and a 'unit' test record, signed with a throw-away key",
        "(keys/ci.pub); builds that passed unit were promoted to 'testing', ran acceptance, and were",
        "promoted to 'stable' when the policy allowed it. A channel holds what was promoted into it",
        "and not rejected since; records the policy's signers did not sign do not count:",
        "",
    ] + ["  " + line for line in demo.POLICY_YAML.splitlines()[1:]] + [""]
    for s in result.services:
        lines.append(f"== {s.name}: stable is {s.stable_tag}")
        lines.append(f"   {s.stable}")
        if s.filtered:
            lines.append("   newer builds filtered out:")
            for skip in s.filtered:
                lines.append(f"     {skip['tag']:<30} {'; '.join(skip['reasons'])}")
        if s.forged:
            lines.append(f"   a forged, unsigned 'acceptance passed' on {s.forged['tag']} was ignored:")
            lines.append(f"     {s.forged['digest'][:19]}  {s.forged['why']}")
        lines.append("   stable history (newest first):")
        for h in s.history:
            note = "  (rollback)" if h["rollback"] else ""
            note += "  (forced)" if h["forced"] else ""
            note += f"  REJECTED: {h['rejection'].split(': ', 1)[-1]}" if h["rejected"] else ""
            lines.append(f"     {h['promoted_at'][:16].replace('T', ' ')}  {h['tag']}{note}")
        lines.append("")
    lines += [
        "Try it yourself:",
        f"  shipmark list ocidir://{directory}/api --policy {result.policy_file}",
        f"  shipmark status ocidir://{directory}/api:{result.services[0].stable_tag} --policy {result.policy_file}",
        f"  shipmark pick ocidir://{directory}/web --channel stable --policy {result.policy_file}",
    ] + [f"  shipmark status ocidir://{directory}/{s.name}:{s.forged['tag']} --policy {result.policy_file}"
         for s in result.services if s.forged]
    return Output(result.to_json(), lines)
