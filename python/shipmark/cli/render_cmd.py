"""shipmark render: deploy files from the plan, with every image pinned by digest."""

import json

from ..errors import InputError
from . import Output, common
from .plan import load_services, policy_resolver, services_flags


def add(sub):
    p = sub.add_parser("render", help="render deploy files (compose, kustomization, env ...) from the plan",
                       description="Plan as `shipmark plan` does (or read a plan saved with `plan --json`), then "
                                   "render each Jinja2 template into --out with every image pinned as "
                                   "repo@sha256:... The same images give the same bytes; files are replaced "
                                   "atomically. TEMPLATE is a file, or a packaged template: "
                                   "docker-compose.yml.j2, kustomization.yaml.j2, images.env.j2.")
    services_flags(p)
    p.add_argument("--template", action="append", default=[], metavar="TEMPLATE",
                   help="a Jinja2 template (repeatable); the output file is its name without .j2")
    p.add_argument("--out", metavar="DIR", help="directory for the rendered files")
    p.add_argument("--plan", metavar="FILE", help="render this saved plan (`shipmark plan --json`) instead of planning")
    p.add_argument("--retry-failed", action="store_true",
                   help="also pick images whose deployment to the target failed before")
    common(p)
    p.set_defaults(run=run)


def chosen(args, ctx, services):
    """The images to render or record: a saved plan, else a fresh one."""
    from ..ops import deploy
    if getattr(args, "plan", None):
        try:
            with open(args.plan, encoding="utf-8") as fh:
                data = json.load(fh)
        except OSError as exc:
            raise InputError(f"cannot read plan {args.plan}: {exc.strerror}",
                             "write it with: shipmark plan --services F --json > plan.json") from None
        except ValueError:
            raise InputError(f"plan {args.plan} is not valid JSON",
                             "write it with: shipmark plan --services F --json > plan.json") from None
        return deploy.chosen_from_json(data, services, args.only, source=args.plan), data.get("target")
    result = deploy.plan(store_for=ctx.store, services=services, names=args.only, channel=args.channel,
                         target=args.target, policy_for=policy_resolver(args, services, ctx), now=ctx.now,
                         retry_failed=getattr(args, "retry_failed", False))
    return deploy.chosen_from_plan(result), result.target


def run(args, ctx) -> Output:
    if not args.template:
        raise InputError("render needs --template TEMPLATE", "e.g. --template docker-compose.yml.j2")
    if not args.out:
        raise InputError("render needs --out DIR", "the directory the deploy files are written to")
    from ..ops import deploy  # lazily: --help stays fast
    services = load_services(args)
    images, target = chosen(args, ctx, services)
    result = deploy.render(chosen=images, services=services, templates=args.template, out=args.out,
                           target=args.target or target or services.target)
    lines = [f"rendered {len(result.files)} file(s) into {result.directory} "
             f"({len(result.changed)} changed):"]
    lines += [f"  {path}" for path in result.files]
    lines += [f"  {c.service.name}: {c.pinned}" for c in result.services]
    return Output(result.to_json(), lines)
