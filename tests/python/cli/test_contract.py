"""docs/cli-contract.md is a contract: every command and flag it names exists, every flag a parser
has is named there, and the JSON keys it lists are the keys the commands print (run for real on
the demo's OCI layouts)."""

import argparse
import re
from pathlib import Path

import pytest

from shipmark.cli import build_parser

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "cli-contract.md"
FLAG = re.compile(r"--[a-z][a-z-]*")
# Lists the demo's layouts leave empty, whose shapes stay unchecked here: nothing to prune; every
# channel a rejection leaves tagged rolls back (tests/python/e2e/test_reject.py covers the rest).
EMPTY_LISTS = {"prune", "reject"}


def _table(text: str, header: str):
    """The rows (lists of cells) of the markdown table whose header row starts with `header`."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"| {header} |")), None)
    assert start is not None, f"{CONTRACT.name} has no table whose first column is '{header}'"
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        # A cell may hold `a\|b`: split only on pipes that are not escaped.
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))])
    return rows


def _code(cell: str):
    return re.findall(r"`([^`]+)`", cell)


def parser_commands():
    """'status' or 'jenkins sync' -> the long flags its parser accepts (--help aside)."""
    out = {}

    def walk(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if path:
            out[path] = {o for a in parser._actions for o in a.option_strings
                         if o.startswith("--") and o != "--help"}
        for sub in subs:
            for name, child in sub.choices.items():
                walk(child, f"{path} {name}".strip())
    walk(build_parser(every_command=True), "")
    return {name: flags for name, flags in out.items() if name not in GROUPS}   # groups, not commands


GROUPS = ("jenkins", "policy")   # commands with subcommands: `jenkins sync`, `policy publish`


def documented():
    """command -> (flags named for it, JSON keys cell) from the two tables."""
    text = CONTRACT.read_text()
    commands = {}
    for row in _table(text, "command"):
        for usage in _code(row[0]):
            words = usage.split()
            name = " ".join(words[:2]) if words[0] in GROUPS else words[0]
            commands[name] = (set(FLAG.findall(usage)), row[2])
    everyone = set(commands)
    for flags_cell, who in _table(text, "flags"):
        flags = set(FLAG.findall(flags_cell))
        names = everyone if "every command" in who else set(_code(who))
        for name in names:
            assert name in commands, f"the shared-flags table names {name!r}, which the commands table lacks"
            commands[name][0].update(flags)
    return commands


def test_every_documented_command_and_flag_exists_and_every_flag_is_documented():
    real, docs = parser_commands(), documented()
    assert sorted(docs) == sorted(real)
    for name in real:
        assert docs[name][0] == real[name], (
            f"{name}: documented but not accepted: {sorted(docs[name][0] - real[name])}; "
            f"accepted but not documented: {sorted(real[name] - docs[name][0])}")


def _names(inner: str):
    """`a, b: [{x}], c` -> {a, b, c}: the names at the top level of a shape."""
    depth, names, word = 0, set(), ""
    for ch in inner + ",":
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            names.add(word.split(":")[0].strip())
            word = ""
        elif depth == 0:
            word += ch
    return names


def _keys(cell: str):
    """`a`, `b?`, `c: [{x, y}]`, `d: {x, y}` -> required, optional, and the shapes to check:
    key -> ("list", keys of its objects) or ("object", its keys)."""
    required, optional, shapes = set(), set(), {}
    for item in _code(cell):
        name, _, shape = item.partition(":")
        (optional if name.endswith("?") else required).add(name.rstrip("?"))
        shape = shape.strip()
        if shape.startswith("[{") and shape.endswith("}]"):
            shapes[name.rstrip("?")] = ("list", _names(shape[2:-2]))
        elif shape.startswith("{") and shape.endswith("}"):
            shapes[name.rstrip("?")] = ("object", _names(shape[1:-1]))
    return required, optional, shapes


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """command -> the JSON it printed, each command run once on the demo's layouts."""
    import json
    import os

    from shipmark.__main__ import main

    work = tmp_path_factory.mktemp("contract")
    old = os.getcwd()
    os.chdir(work)
    out = {}

    def run(name, *argv, code=0):
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            got = main([*name.split(), *map(str, argv), "--json"])
        assert got == code, (name, argv, got, buf.getvalue())
        out[name] = json.loads(buf.getvalue())
        return out[name]
    try:
        demo = run("demo", "--dir", work / "demo")
        policy = demo["policy"]
        repos = {s["name"]: s["repo"] for s in demo["services"]}
        (work / "services.yaml").write_text("target: prod\nservices:\n" + "".join(
            f"  - name: {n}\n    repo: {r}\n" for n, r in sorted(repos.items())))
        api = repos["api"]
        newest = run("list", api)["images"][0]
        image = f"{api}:{newest['tag']}"
        run("tag", "--version", "1.0.0", "--build", "3", "--sha", "abc1234")
        run("record", image, "--git-commit", "abc1234", "--git-branch", "master")
        run("mark", image, "--suite", "unit", "--result", "passed")
        run("reject", image, "--reason", "contract")
        run("restore", image, "--reason", "contract", "--signing-key", work / "demo" / "keys" / "ci.key")
        run("status", image, "--policy", policy)
        run("promote", image, "--to", "testing", "--policy", policy)
        run("pick", api, "--channel", "stable", "--policy", policy)
        run("history", api, "--channel", "stable", "--policy", policy)
        run("rollback", api, "--channel", "stable", "--reason", "contract", "--policy", policy)
        run("plan", "--policy", policy)
        run("render", "--policy", policy, "--template", "images.env.j2", "--out", work / "rendered")
        run("deployed", "--policy", policy)
        run("board", "--policy", policy, "--out", work / "reports" / "board.html")
        run("repair", api)
        run("prune", api, "--dry-run")
    finally:
        os.chdir(old)
    return out


def test_the_json_keys_are_the_documented_ones(printed):
    docs = documented()
    for name, data in printed.items():
        required, optional, shapes = _keys(docs[name][1])
        assert required <= set(data) <= required | optional, (
            f"{name}: printed {sorted(data)}, documented {sorted(required)} + optional {sorted(optional)}")
        for key, (kind, inner) in shapes.items():
            value = data[key]
            if kind == "list":
                if not value and name in EMPTY_LISTS:
                    continue
                assert value, f"{name}: {key} is empty, so its shape is not checked"
                value = value[0]
            assert set(value) == inner, f"{name}: {key} has {sorted(value)}, documented {sorted(inner)}"
