"""The command line: argparse with one module per command.

Each command module has `add(subparsers)`, which declares its flags and sets `run`; `run(args, ctx)`
calls one use case in `ops` and returns an Output (JSON-able data and text lines)."""

import argparse
import importlib
import json
import sys
from dataclasses import dataclass, field
from typing import Any, List

from .. import __version__
from ..errors import InputError

# name -> module under shipmark.cli; the order is the order in --help.
COMMANDS = [
    ("tag", "tag"), ("record", "record"), ("mark", "mark"), ("reject", "verdict"),
    ("restore", "verdict"), ("status", "status"), ("list", "listing"), ("promote", "promote"),
    ("pick", "pick"), ("rollback", "rollback"), ("history", "history"), ("demo", "demo"),
    ("plan", "plan"), ("render", "render_cmd"), ("deployed", "deployed"), ("board", "board"),
    ("jenkins", "jenkins_cmd"), ("repair", "repair"), ("prune", "prune"),
]

EXIT_CODES = """exit codes:
  0    ok
  1    unexpected error (a bug: rerun with --debug and report it)
  2    bad input or usage
  3    policy not satisfied / nothing eligible
  4    not found
  5    registry, Jenkins, auth or network error
  130  interrupted"""


@dataclass
class Output:
    data: Any
    lines: List[str] = field(default_factory=list)
    code: int = 0


class Parser(argparse.ArgumentParser):
    """argparse exits with 2 on its own; raise instead so main() reports it like any input error."""

    def error(self, message):
        raise InputError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    parser.add_argument("--args-file", metavar="FILE",
                        help="read more arguments from a JSON array of strings (used by the Jenkins steps)")


def policy_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", metavar="FILE",
                        help="policy file (env SHIPMARK_POLICY; default ./shipmark.yaml, else all channels open)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="shipmark",
                    description="shipmark records what happened to each Docker image on the image itself in\n"
                                "the registry (OCI referrers), promotes images into channels by policy, and\n"
                                "picks the newest stable one. Start with `shipmark demo`; every command has --help.",
                    epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"shipmark {__version__}")
    common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    seen = set()
    for _, module in COMMANDS:
        if module not in seen:
            seen.add(module)
            importlib.import_module(f"{__name__}.{module}").add(sub)
    return parser


def run(argv: List[str]) -> int:
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from .context import Context
    ctx = Context(args)
    try:
        out = args.run(args, ctx)
    finally:
        ctx.close()
    if args.json:
        sys.stdout.write(json.dumps(out.data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
    else:
        for line in out.lines:
            sys.stdout.write(line + "\n")
    return out.code
