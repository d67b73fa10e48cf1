"""The command line: argparse with one module per command.

Each command module has `add(subparsers)`, which declares its flags and sets `run`; `run(args, ctx)`
calls one use case in `ops` and returns an Output (JSON-able data and text lines), which `run` prints
through shipmark.terminal: values read from registries reach the terminal escaped."""

from __future__ import annotations  # annotations stay strings: no `typing` at start-up

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import InputError, RemoteError
from ..settings import add_flag, environment_help
from ..terminal import json_text, log_to_stderr, printable

# name -> (module under shipmark.cli, one line for the top-level --help); the order of --help.
# Only the chosen command's module is imported: `shipmark --help` and every command start fast.
COMMANDS = {
    "tag": ("tag", "compute the version tag (and --label arguments) for a build"),
    "record": ("record", "record the provenance of a pushed image"),
    "mark": ("mark", "record a test suite's result (passed, failed, warned) on an image"),
    "reject": ("verdict", "reject an image: it is never eligible again and pick skips it"),
    "restore": ("verdict", "undo a rejection"),
    "status": ("status", "show an image's state, eligibility per channel and record timeline"),
    "list": ("listing", "list a repository's images newest first, with state and channels"),
    "promote": ("promote", "promote an image into a channel: policy check, record, channel tag"),
    "pick": ("pick", "print what a channel holds (its newest member) as repo@sha256:..."),
    "rollback": ("rollback", "take the channel's current image out of it; the previous member takes over"),
    "history": ("history", "list the promotions into a channel, newest first"),
    "demo": ("demo", "run the whole story on a fresh local OCI layout and explain it"),
    "plan": ("plan", "per service (services.yaml): what its channel holds vs what the target runs"),
    "render": ("render_cmd", "render deploy files (compose, kustomization, env ...) from the plan"),
    "deployed": ("deployed", "record a deployment after the apply command (and roll back on failure)"),
    "board": ("board", "write the release board: services x recent versions, as one HTML page"),
    "jenkins": ("jenkins_cmd", "Promoted Builds and the builds behind images, over the Jenkins REST API"),
    "repair": ("repair", "adopt records other tools attached; make the referrers index list every referrer"),
    "prune": ("prune", "delete records, per-record tags and indexes of images that no longer exist"),
    "keygen": ("keygen", "make a signing key pair: PREFIX.key (private) and PREFIX.pub"),
    "policy": ("policy_cmd", "publish the policy to a repository, or show the published one"),
}

EXIT_CODES = """exit codes:
  0    ok
  1    unexpected error (a bug: rerun with --debug and report it)
  2    bad input or usage
  3    policy not satisfied / nothing eligible
  4    not found
  5    registry, Jenkins, auth or network error
  130  interrupted"""


class Output:
    """What a command returns: JSON-able data, text lines, and the exit code. (A plain class:
    `dataclasses` would cost every start-up its import of `inspect`.)"""

    def __init__(self, data: object, lines: list[str] | None = None, code: int = 0):
        self.data = data
        self.lines = list(lines or [])
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse exits with 2 on its own; raise instead so main() reports it like any input error
    (main() says `shipmark: error:`; the hint names the command's help)."""

    def error(self, message):
        raise InputError(message, f"see `{self.prog} --help`")


def common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # A command's flags must not reset what was given before the command (`shipmark --json status`):
    # only the top-level parser has defaults.
    default = False if top else argparse.SUPPRESS
    parser.add_argument("--json", action="store_true", default=default, help="print one JSON document on stdout")
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks of unexpected errors")
    add_flag(parser, "timeout", suppress=not top)
    add_flag(parser, "max_tags", suppress=not top)
    parser.add_argument("--args-file", metavar="FILE",
                        help="read more arguments from a JSON array of strings (used by the Jenkins steps)")


def policy_flag(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "policy")
    parser.add_argument("--no-policy", action="store_true",
                        help="admit every image that is not rejected (said explicitly; written into promotions)")


def signing_flag(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "signing_key", help="sign the records written with this PEM private key (its password "
                                         "from SHIPMARK_SIGNING_KEY_PASSWORD)")


def build_parser(argv: Sequence[str] = (), every_command: bool = False) -> argparse.ArgumentParser:
    """The parser, with the full definition of the command argv names (of every command with
    `every_command`, as the contract tests use it) and a one-line entry for the others."""
    parser = Parser(prog="shipmark",
                    description="shipmark records what happened to each Docker image on the image itself in\n"
                                "the registry (OCI referrers), promotes images into channels by policy, and\n"
                                "picks the newest stable one. Start with `shipmark demo`; every command has --help.",
                    epilog=EXIT_CODES + "\n\n" + environment_help(),
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"shipmark {__version__}")
    common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    chosen = next((a for a in argv if a in COMMANDS), None)
    wanted = {m for m, _ in COMMANDS.values()} if every_command else {COMMANDS[chosen][0]} if chosen else set()
    loaded = set()
    for name, (module, summary) in COMMANDS.items():
        if module not in wanted:
            sub.add_parser(name, help=summary, add_help=False)
        elif module not in loaded:
            loaded.add(module)
            importlib.import_module(f"{__name__}.{module}").add(sub)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


# How long past the command's deadline the process alarm waits for the stores to give up first.
BACKSTOP_GRACE = 5.0


def run(argv: list[str], backstop: bool = False) -> int:
    """`backstop`: also end the process by an alarm shortly after the deadline (only when shipmark
    owns the process: in-process callers such as tests keep their own signals)."""
    parser = build_parser(argv)
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        # `shipmark` alone, or a command with subcommands given none (`shipmark jenkins`): its help.
        own = _subparsers(parser).get(getattr(args, "command", None) or "")
        (own or parser).print_help(sys.stderr)
        return 2
    from .context import Context
    log_to_stderr()
    ctx = Context(args)
    if backstop:
        _arm_backstop(ctx.settings.timeout)
    registry_failed = False
    try:
        out = args.run(args, ctx)
    except RemoteError:
        registry_failed = True   # what a registry that failed or misbehaved said is not kept
        raise
    finally:
        ctx.close(keep_cache=not registry_failed)
    if args.json:
        sys.stdout.write(json_text(out.data) + "\n")
    else:
        for line in out.lines:
            sys.stdout.write(printable(line) + "\n")
    return out.code


def _arm_backstop(timeout: float) -> None:
    """The stores bound every request, retry and body read by the deadline; what they cannot
    bound (a status line and headers dripped a byte at a time, a name lookup that hangs) ends
    here. os._exit because worker threads may be blocked in a read that nothing can interrupt."""
    import os
    import signal

    from ..errors import RegistryError
    from ..terminal import to_stderr

    def expired(signum, frame) -> None:
        err = RegistryError(f"shipmark did not finish within its {timeout:g} s deadline: a registry kept it waiting",
                            "--timeout / SHIPMARK_TIMEOUT raises the deadline; check the registry")
        to_stderr(f"shipmark: error: {err.message}")
        to_stderr(f"hint: {err.hint}")
        os._exit(err.exit_code)

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, timeout + BACKSTOP_GRACE)
