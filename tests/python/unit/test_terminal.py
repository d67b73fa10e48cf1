"""shipmark.terminal: human output shows control and bidi characters escaped; JSON keeps them."""

import json
import logging

import pytest

from shipmark.terminal import json_text, log_to_stderr, printable

HOSTILE = {
    "\x1b[2J": "\\x1b[2J",          # ESC: a terminal control sequence (here: clear the screen)
    "\x00": "\\x00",
    "\x07": "\\x07",
    "a\tb\nc\rd": "a\\tb\\nc\\rd",   # one value stays on one line
    "\x7f": "\\x7f",                 # DEL
    "\x9b31m": "\\x9b31m",           # C1 CSI: a control sequence on terminals that take 8-bit C1
    "\x85": "\\x85",                 # C1 NEL: a line break
    "txt\u202eexe.sh": "txt\\u202eexe.sh",   # RIGHT-TO-LEFT OVERRIDE
    "\u202a\u202b\u202c\u202d": "\\u202a\\u202b\\u202c\\u202d",
    "\u2066\u2067\u2068\u2069": "\\u2066\\u2067\\u2068\\u2069",   # bidi isolates
    "\u200e\u200f\u061c": "\\u200e\\u200f\\u061c",               # bidi marks
    "\u2028\u2029": "\\u2028\\u2029",                             # line and paragraph separators
    "\ud800": "\\ud800",             # a lone surrogate: JSON carries it, no terminal prints it
}
PLAIN = ["registry.example.com/team/app@sha256:" + "a" * 64, "Zoë 日本 🚀 e\u0301", "C:\\path", "\u00a0wide space",
         "👩\u200d💻"]


@pytest.mark.parametrize("raw, shown", HOSTILE.items())
def test_printable_escapes_control_bidi_and_separator_characters(raw, shown):
    assert printable(raw) == shown


@pytest.mark.parametrize("text", PLAIN)
def test_printable_leaves_everything_else_alone(text):
    assert printable(text) == text


def test_json_text_keeps_every_value_exactly_and_nothing_raw():
    data = {"values": list(HOSTILE) + PLAIN}
    out = json_text(data)
    assert json.loads(out) == data
    assert printable(out.replace("\n", "")) == out.replace("\n", "")   # nothing left to escape
    assert "Zoë 日本 🚀" in out   # readable, not \u-escaped


def test_warnings_of_shipmark_loggers_are_escaped(capsys):
    log_to_stderr()
    log_to_stderr()   # once per process, however often it is asked
    logging.getLogger("shipmark.discovery").warning("record %s: %s", "sha256:ab", "bad\x1b]0;owned\x07")
    assert capsys.readouterr().err == "record sha256:ab: bad\\x1b]0;owned\\x07\n"
