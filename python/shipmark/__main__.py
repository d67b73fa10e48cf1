"""Entry point: main(argv) -> exit code. The only place where exceptions become exit codes."""

from __future__ import annotations  # annotations stay strings: no `typing` at start-up

import sys

from .errors import InputError, ShipmarkError
from .terminal import json_text, to_stderr

UNEXPECTED = 1
INTERRUPTED = 130


def _expand_args_file(argv: list[str]) -> list[str]:
    """`--args-file F` splices in a JSON array of arguments, so that callers (the Jenkins steps)
    pass user values as data and never through a shell."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        path = None
        if arg == "--args-file":
            if i + 1 >= len(argv):
                raise InputError("--args-file needs a file name", "pass --args-file FILE (a JSON array of strings)")
            path, i = argv[i + 1], i + 2
        elif arg.startswith("--args-file="):
            path, i = arg.split("=", 1)[1], i + 1
        else:
            out.append(arg)
            i += 1
            continue
        import json
        try:
            with open(path, encoding="utf-8") as fh:
                extra = json.load(fh)
        except OSError as exc:
            raise InputError(f"cannot read --args-file {path}: {exc.strerror}") from None
        except ValueError:
            raise InputError(f"--args-file {path} is not valid JSON", "write a JSON array of strings") from None
        if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
            raise InputError(f"--args-file {path} must hold a JSON array of strings")
        # Whatever follows in argv keeps its place after the spliced arguments.
        rest = argv[i:]
        return out + extra + rest
    return out


def main(argv: list[str] | None = None) -> int:
    owns_process = argv is None   # the console script or `python -m shipmark`
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in argv
    debug = "--debug" in argv
    try:
        argv = _expand_args_file(argv)
        wants_json = "--json" in argv
        debug = "--debug" in argv
        from .cli import run
        return run(argv, backstop=owns_process)
    except ShipmarkError as exc:
        return _report(exc, exc.exit_code, wants_json)
    except KeyboardInterrupt:
        sys.stderr.write("shipmark: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the one catch-all: a bug, reported as such
        if debug:
            raise
        err = ShipmarkError(f"unexpected error (a bug): {type(exc).__name__}: {exc}",
                            "rerun with --debug for the traceback and report it")
        return _report(err, UNEXPECTED, wants_json)


def _report(exc: ShipmarkError, code: int, wants_json: bool) -> int:
    # Messages quote registry answers (tags, reasons, error bodies): printed escaped.
    to_stderr(f"shipmark: error: {exc.message}")
    for reason in getattr(exc, "reasons", []):
        to_stderr(f"  - {reason}")
    if exc.hint:
        to_stderr(f"hint: {exc.hint}")
    if wants_json:
        sys.stdout.write(json_text({"error": exc.to_json()}) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
