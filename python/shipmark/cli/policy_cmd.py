"""shipmark policy publish / show: the policy stored in the registry beside the images."""

import os

from ..errors import InputError
from ..settings import add_flag
from . import Output, common, signing_flag


def add(sub):
    p = sub.add_parser("policy", help="publish the policy to a repository, or show the published one")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    pub = verbs.add_parser("publish", help="store FILE as REPO's policy (tag shipmark-policy)",
                           description="Validate FILE and store it in REPO as an OCI artifact (artifactType "
                                       "application/vnd.shipmark.policy.v1+yaml, tag shipmark-policy), signer key "
                                       "files inlined, signed when a key is given. Commands without --policy, "
                                       "SHIPMARK_POLICY or ./shipmark.yaml use it.")
    pub.add_argument("repo", metavar="REPO")
    pub.add_argument("file", metavar="FILE")
    signing_flag(pub)
    common(pub)
    pub.set_defaults(run=run_publish)
    show = verbs.add_parser("show", help="print REPO's published policy",
                            description="Print the policy published in REPO, its digest and who signed it. "
                                        "With SHIPMARK_POLICY_KEY (--policy-key) it must be signed by that key.")
    show.add_argument("repo", metavar="REPO")
    add_flag(show, "policy_key")
    common(show)
    show.set_defaults(run=run_show)
    common(p)


def run_publish(args, ctx) -> Output:
    from ..ops import policydoc
    repo = ctx.repo(args.repo)
    signer = ctx.signer()
    try:
        with open(args.file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read policy file {args.file}: {exc.strerror}") from None
    result = policydoc.publish(store=ctx.store(repo), repo=repo, data=data, source=args.file,
                               base_dir=os.path.dirname(os.path.abspath(args.file)), now=ctx.now, signer=signer)
    signed = f"signed by {result.signed_by}" if result.signed_by else "unsigned"
    return Output(result.to_json(), [f"published {args.file} to {repo.name}:shipmark-policy ({signed})",
                                      f"  policy {result.policy.digest}"])


def run_show(args, ctx) -> Output:
    repo = ctx.repo(args.repo)
    published = ctx.published_policy(repo)
    if published is None:
        from ..errors import NotFoundError
        raise NotFoundError(f"{repo.name} has no published policy",
                            f"publish one: shipmark policy publish {repo.name} shipmark.yaml")
    signed = (f"signed by {published.signed_by}" + (" (verified)" if published.verified else " (not checked)")
              if published.signed_by else "unsigned")
    lines = [f"# {repo.name}:shipmark-policy  policy {published.policy.digest}  {signed}"]
    lines += published.text.rstrip("\n").split("\n")
    return Output(published.to_json(), lines)
