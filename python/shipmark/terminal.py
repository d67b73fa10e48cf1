"""What shipmark writes to a terminal: text anyone can read safely, whoever wrote the values.

Tags, record fields, reasons and error messages come from registries that anyone with push rights
(or a man in the middle of plain HTTP) writes. Written raw, an ESC starts a terminal control
sequence (move the cursor, rewrite the line above, set the window title), a NUL or a carriage
return hides what follows, and a bidi override (U+202E) shows text in another order than it is
stored. So human output shows the characters core.text names escaped (`\\x1b`, `\\u202e`,
`\\n`), and JSON output carries them as JSON escapes: the value is kept, exactly, for programs.
"""

from __future__ import annotations  # annotations stay strings: no `typing` at start-up

import re
import sys

from .core.text import NOT_C0, UNSAFE

# What core.text calls unsafe is shown escaped; in JSON, json.dumps already escapes C0.
# Patterns are compiled on first use (re caches them), as core.text explains.
_UNSAFE_IN_JSON = f"[{NOT_C0}]"
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_routed = False   # log_to_stderr() ran


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: object) -> str:
    """`text` with every control, bidi and separator character escaped; all else unchanged."""
    return re.sub(UNSAFE, _escape, str(text))


def json_text(data: object, indent: int | None = 2) -> str:
    """JSON for a terminal or a pipe: readable Unicode, and the characters printable() escapes as
    \\uXXXX escapes, so a program reading it gets every value back exactly."""
    import json
    out = json.dumps(data, indent=indent, ensure_ascii=False)
    return re.sub(_UNSAFE_IN_JSON, lambda m: f"\\u{ord(m.group()):04x}", out)


def to_stderr(line: str) -> None:
    """One line of human output on stderr (errors, warnings), escaped."""
    sys.stderr.write(printable(line) + "\n")


def log_to_stderr() -> None:
    """Warnings of shipmark's loggers (which may quote a registry's answer) go through printable()
    too: one handler, added once per process."""
    global _routed
    if _routed:
        return
    import logging  # lazily, like json: start-up stays fast

    class Escaped(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                to_stderr(self.format(record))
            except Exception:  # noqa: BLE001 - a warning must never break a command
                self.handleError(record)

    logging.getLogger("shipmark").addHandler(Escaped(logging.WARNING))
    _routed = True
