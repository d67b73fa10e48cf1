"""Characters that text read from outside must not carry to a terminal or into a name.

C0 controls (tab and newline included), DEL, C1 controls, the bidi controls (an override such as
U+202E shows text in another order than it is stored), the line and paragraph separators, and
lone surrogates (JSON can carry them; no UTF-8 terminal can print them). shipmark.terminal shows
them escaped; core.record refuses them in names a record carries.
"""

# The body of a regex character class, shared by both.
C0 = r"\x00-\x1f"
NOT_C0 = r"\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
# A pattern, compiled by `re` on first use and cached there: compiling it takes most of a
# millisecond, which `--help` and commands that print nothing need not spend.
UNSAFE = f"[{C0}{NOT_C0}]"
