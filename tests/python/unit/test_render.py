"""shipmark.render: the shell_quote filter of env-file templates, checked against a real bash."""

import subprocess

from shipmark import render

NASTY = ["plain@sha256:" + "a" * 64, "", "it's", "$(touch PWNED)", "`touch PWNED`", "a;touch PWNED", "a&&b|c>d",
         "$HOME ${IFS} ~ * ?", '"double" \\back', "new\nline", "tab\tand\rcr", "-n", "Zoë 日本", "'''"]


def test_shell_quote_values_come_back_from_bash_unchanged_and_nothing_runs(tmp_path):
    env = "".join(f"V{i}={render.shell_quote(v)}\n" for i, v in enumerate(NASTY))
    (tmp_path / "images.env").write_text(env)
    script = "set -a; . ./images.env; " + " ".join(f'printf "%s\\0" "$V{i}";' for i in range(len(NASTY)))
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode("utf-8").split("\0")[:-1] == NASTY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.env"]


def test_shell_quote_leaves_a_pinned_image_as_it_is():
    """Digests and registry names need no quotes: files rendered before stay byte for byte."""
    pinned = "registry.example.com:5000/team/app@sha256:" + "a" * 64
    assert render.shell_quote(pinned) == pinned


def test_templates_can_use_the_filters(tmp_path):
    (tmp_path / "t.sh.j2").write_text("X={{ value | shell_quote }}\n")
    out = render.render_template(render.find_template(str(tmp_path / "t.sh.j2")), {"value": "$(id)"})
    assert out == "X='$(id)'\n"
