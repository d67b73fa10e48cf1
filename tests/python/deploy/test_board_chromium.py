"""The release board in headless Chromium (Debian `chromium`): the cells a person sees, checked
through the DOM the browser built, and a screenshot kept as a test artifact."""

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from deploy_history import NOW, POLICY, POLICY_YAML, push_image, push_story  # noqa: E402

from shipmark.__main__ import main  # noqa: E402
from shipmark.ops import annotate, board, channel  # noqa: E402

ARTIFACTS = Path(os.environ.get("SHIPMARK_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "artifacts")
LAPTOP = (1440, 900)
NIGHTLY = "https://jenkins.example.com/job/nightly/{n}/"


def chromium(*args, timeout=90):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("chromium is not installed: run `apt-get install -y chromium`", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               "--hide-scrollbars", f"--window-size={LAPTOP[0]},{LAPTOP[1]}", *args],
                              capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


class Dom(HTMLParser):
    """The board's rows and cells from the DOM Chromium serialised."""

    def __init__(self):
        super().__init__()
        self.rows = {}          # service -> [cell]
        self.row = None
        self.cell = None
        self.attrs = {}
        self.columns = 0        # header cells, the service column included

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-service" in a:
            self.row = self.rows.setdefault(a["data-service"], [])
        elif tag == "th" and self.row is None:
            self.columns += 1
        elif tag == "td" and "data-tag" in a and self.row is not None:
            self.cell = {"tag": a["data-tag"], "state": a["data-state"], "class": a["class"].split(),
                         "running": a.get("data-running"), "next": "data-next" in a,
                         "suites": {}, "channels": [], "deploys": {}, "rejected": False, "links": [],
                         "markers": [], "built": None}
            self.row.append(self.cell)
        elif self.cell is not None:
            if "data-suite" in a:
                self.cell["suites"][a["data-suite"]] = a["data-result"]
            if "data-channel" in a:
                self.cell["channels"].append(a["data-channel"])
            if "data-deploy" in a:
                self.cell["deploys"][a["data-target"]] = a["data-deploy"]
            if "data-rejected" in a:
                self.cell["rejected"] = a.get("title")
            if "data-marker" in a:
                self.cell["markers"].append(a["data-marker"])
            if "data-built" in a:
                self.cell["built"] = a["data-built"]
            if tag == "a":
                self.cell["links"].append(a.get("href"))

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        elif tag == "tr":
            self.row = None

    def by_version(self, service):
        return {c["tag"].split("-b")[0]: c for c in self.rows[service]}


@pytest.fixture
def nightly(registry2, tmp_path, monkeypatch):
    """STORY on Registry 2.8, one night deployed, then a newer api build whose deploy failed."""
    store, repos = push_story(registry2.host, "board")
    (tmp_path / "shipmark.yaml").write_text(POLICY_YAML)
    (tmp_path / "services.yaml").write_text("target: prod\nservices:\n" + "".join(
        f"  - name: {n}\n    repo: {r.name}\n" for n, r in sorted(repos.items())))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUILD_URL", raising=False)
    assert main(["deployed", "--services", "services.yaml", "--by", NIGHTLY.format(n=1)]) == 0
    when = NOW - timedelta(hours=2)
    ref = push_image(store, repos["api"], "api", "1.5.0", 5, when)
    annotate.provenance(store=store, ref=ref, now=when, by="https://jenkins.example.com/job/api/5/",
                        git_branch="master")
    annotate.mark(store=store, ref=ref, now=when, by="https://jenkins.example.com/job/api/5/", suite="unit",
                  result="passed")
    channel.promote(store=store, ref=ref, channel="testing", policy=POLICY, now=when, by="ci")
    annotate.mark(store=store, ref=ref, now=when, by="https://jenkins.example.com/job/api/5/", suite="acceptance",
                  result="passed")
    channel.promote(store=store, ref=ref, channel="stable", policy=POLICY, now=when, by="ci")
    assert main(["deployed", "--services", "services.yaml", "--failed", "--by", NIGHTLY.format(n=2)]) == 0
    yield tmp_path
    store.close()


def test_the_board_in_chromium_shows_the_expected_cells(nightly, capsys):
    assert main(["board", "--services", "services.yaml", "--out", "board.html"]) == 0
    page = nightly / "board.html"
    dom = Dom()
    dom.feed(chromium("--dump-dom", page.as_uri()))
    assert list(dom.rows) == ["api", "web", "worker"]
    api = dom.by_version("api")
    assert list(api) == ["1.5.0", "1.3.0", "1.2.0", "1.1.0", "1.0.0"]
    # The new build reached stable but failed to deploy; prod still runs 1.1.0.
    assert api["1.5.0"]["deploys"] == {"prod": "failed"} and sorted(api["1.5.0"]["channels"]) == ["stable", "testing"]
    assert api["1.5.0"]["suites"] == {"acceptance": "passed", "unit": "passed"}
    assert api["1.1.0"]["running"] == "prod" and "running" in api["1.1.0"]["class"]
    assert api["1.1.0"]["links"][:2] == [NIGHTLY.format(n=1), "https://jenkins.example.com/job/api/2/"]
    assert NIGHTLY.format(n=1) in api["1.1.0"]["links"]
    assert (api["1.2.0"]["state"], api["1.2.0"]["suites"]) == ("failed", {"acceptance": "failed", "unit": "passed"})
    assert api["1.2.0"]["channels"] == []   # testing moved on to 1.5.0
    assert (api["1.3.0"]["state"], api["1.3.0"]["suites"]) == ("failed", {"acceptance": "none", "unit": "failed"})
    web = dom.by_version("web")
    assert web["2.1.0"]["rejected"] and web["2.1.0"]["state"] == "rejected" and web["2.1.0"]["channels"] == ["stable"]
    assert web["2.0.0"]["running"] == "prod" and web["2.0.0"]["next"]    # prod runs what the nightly would take
    worker = dom.by_version("worker")
    assert worker["0.2.0"]["running"] == "prod" and worker["0.1.0"]["running"] is None
    assert [c["tag"][:5] for row in dom.rows.values() for c in row if c["running"]] == ["1.1.0", "2.0.0", "0.2.0"]
    assert [c["tag"][:5] for row in dom.rows.values() for c in row if c["next"]] == ["1.1.0", "2.0.0", "0.2.0"]
    # The nightly's pick is marked in its cell even where it is what runs, as the legend says.
    assert [c["tag"][:5] for row in dom.rows.values() for c in row if "next" in c["markers"]] == \
        ["1.1.0", "2.0.0", "0.2.0"]
    assert "p95 latency doubled" in web["2.1.0"]["rejected"]
    assert all(c["built"] for row in dom.rows.values() for c in row)    # every cell says when it was built
    assert dom.columns == 1 + 5     # as many version columns as the fullest row (api: 5), not 15
    shot = artifact("board.png")
    chromium(f"--screenshot={shot}", "--window-size=1440,600", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copy(page, artifact("board.html"))
    with capsys.disabled():
        print(f"\n  board screenshot: {shot}")


def synthetic_board(services=20, versions=15) -> board.Board:
    """20 services x 15 versions with long-ish names: the size the board must stay readable at."""
    rows = []
    for s in range(services):
        row = board.Row(f"service-{s:02d}-payments", f"registry.example.com:5000/team/service-{s:02d}", "stable")
        for v in range(versions):
            n = versions - v
            cell = board.Cell(tag=f"1.{n}.{s}-b{100 + n}.20261128.abc1234", digest="sha256:" + f"{s:02d}{n:02d}" * 16,
                              version=f"1.{n}.{s}", build=f"b{100 + n}", built="2026-11-28",
                              state=("failed", "passed", "rejected", "untested")[(s + v) % 4],
                              build_url=f"https://jenkins.example.com/job/s{s}/{100 + n}/")
            cell.suites = [board.Chip("acceptance", ("passed", "failed")[(s + v) % 2], "t"),
                           board.Chip("security", "warned", "t"), board.Chip("unit", "passed", "t")]
            if v == 2:
                cell.channels = [board.Chip("stable", "channel", "t"), board.Chip("testing", "channel", "t")]
                cell.deployments = [board.Chip("stable-server", "current", "t")]
                cell.running = True
            if v == 0:
                cell.next = True
            row.cells.append(cell)
        row.running, row.next = row.cells[2].tag, row.cells[0].tag
        rows.append(row)
    return board.Board(rows, versions, "stable-server", "2026-11-28 03:00 UTC", ["acceptance", "security", "unit"])


MEASURE = """<script>
  const table = document.getElementById('board');
  const cells = [...document.querySelectorAll('td.cell')];
  const sizes = [...document.querySelectorAll('td.cell *')].map(e => parseFloat(getComputedStyle(e).fontSize));
  document.body.setAttribute('data-measured', JSON.stringify({
    table: Math.round(table.getBoundingClientRect().width), viewport: window.innerWidth,
    minCell: Math.round(Math.min(...cells.map(c => c.getBoundingClientRect().width))),
    maxRow: Math.round(Math.max(...[...document.querySelectorAll('tbody tr')].map(r => r.getBoundingClientRect().height))),
    minFont: Math.min(...sizes), clipped: cells.filter(c => c.scrollWidth > c.clientWidth + 1).length,
    runsCut: [...document.querySelectorAll('td.svc .runs, td.svc .next')].filter(e => {
      const r = document.createRange(); r.selectNodeContents(e);
      return r.getBoundingClientRect().right > e.getBoundingClientRect().right + 1 || e.scrollWidth > e.clientWidth + 1;
    }).length}));
</script>"""


def test_twenty_services_by_fifteen_versions_fit_a_laptop_screen(tmp_path, capsys):
    out = tmp_path / "board.html"
    board.publish(synthetic_board(), str(out), "Release board")
    html = out.read_text()
    assert "<script" not in html and "http://" not in html.split("<body>")[0]
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", MEASURE + "</body>"))
    import json
    import re

    dom = chromium("--dump-dom", probe.as_uri())
    measured = json.loads(re.search(r'data-measured="([^"]+)"', dom).group(1).replace("&quot;", '"'))
    assert measured["table"] <= measured["viewport"], measured    # no sideways scrolling at 1440 px
    assert measured["minCell"] >= 78, measured                     # a version and three suites fit
    assert measured["minFont"] >= 10, measured
    assert measured["maxRow"] <= 64, measured                      # 20 rows in about one screen
    assert measured["clipped"] == 0, measured
    assert measured["runsCut"] == 0, measured                      # what runs on the target is never cut off
    shot = artifact("board-20x15.png")
    chromium(f"--screenshot={shot}", "--window-size=1440,1400", out.as_uri())
    with capsys.disabled():
        print(f"\n  board screenshot (20 x 15): {shot}  measured: {measured}")
