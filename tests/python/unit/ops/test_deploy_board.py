"""The release board's cells, computed on OCI layouts; HTML escaping and links."""

import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from deploy_history import NOW, POLICY, STORY, build_service, push_image  # noqa: E402

from shipmark import servicesfile  # noqa: E402
from shipmark.core.ref import parse_repo  # noqa: E402
from shipmark.errors import InputError  # noqa: E402
from shipmark.ops import annotate, board, deploy  # noqa: E402
from shipmark.stores.ocidir import OciDirStore  # noqa: E402


@pytest.fixture
def setup(tmp_path):
    stores = {}

    def store_for(ref):
        return stores.setdefault(ref.registry, OciDirStore(ref.registry))
    lines = ["target: prod", "services:"]
    for name, builds in STORY.items():
        repo = parse_repo(f"ocidir://{tmp_path / name}")
        build_service(store_for(repo), repo, name, builds)
        lines += [f"  - name: {name}", f"    repo: {repo.name}"]
    (tmp_path / "services.yaml").write_text("\n".join(lines) + "\n")
    services = servicesfile.load(str(tmp_path / "services.yaml"))
    return tmp_path, store_for, services


def collect(store_for, services, **kw):
    return board.collect(store_for=store_for, services=services, policy_for=lambda p, repo=None: POLICY, now=NOW, **kw)


def cells(result):
    return {row.name: {c.version: c for c in row.cells} for row in result.rows}


def test_cells_show_suites_rejection_channels_and_deployments(setup):
    tmp_path, store_for, services = setup
    chosen = deploy.chosen_from_plan(deploy.plan(store_for=store_for, services=services,
                                                 policy_for=lambda p, repo=None: POLICY, now=NOW))
    deploy.deployed(store_for=store_for, services=services, chosen=chosen, target="prod", succeeded=True, now=NOW,
                    by="https://jenkins.example.com/job/nightly/7/")
    result = collect(store_for, services)
    c = cells(result)
    assert list(c["api"]) == ["1.3.0", "1.2.0", "1.1.0", "1.0.0"]
    assert c["api"]["1.3.0"].state == "failed" and c["api"]["1.3.0"].suite("acceptance") is None
    assert c["api"]["1.2.0"].suite("acceptance").state == "failed"
    assert [ch.label for ch in c["api"]["1.2.0"].channels] == ["testing"]
    running = c["api"]["1.1.0"]
    assert running.running and [ch.label for ch in running.channels] == ["stable"]
    assert [(d.label, d.state, d.url) for d in running.deployments] == \
        [("prod", "current", "https://jenkins.example.com/job/nightly/7/")]
    assert running.build_url == "https://jenkins.example.com/job/api/2/"
    assert running.suite("acceptance").url == "https://jenkins.example.com/job/api/2/acceptance/"
    assert c["web"]["2.1.0"].rejected is not None and c["web"]["2.1.0"].state == "rejected"
    assert result.suites == ["acceptance", "unit"] and result.short == {"acceptance": "A", "unit": "U"}
    rows = {r.name: r for r in result.rows}
    assert rows["api"].running == running.tag and rows["api"].next == running.tag


def test_the_next_image_is_marked_before_it_is_deployed(setup):
    tmp_path, store_for, services = setup
    c = cells(collect(store_for, services))
    assert [v for v, cell in c["web"].items() if cell.next] == ["2.0.0"]
    assert not any(cell.running for row in c.values() for cell in row.values())


def test_versions_limit_the_columns_and_errors_stay_in_their_row(setup):
    tmp_path, store_for, services = setup
    empty = parse_repo(f"ocidir://{tmp_path / 'empty'}")
    store_for(empty)
    (tmp_path / "s2.yaml").write_text((tmp_path / "services.yaml").read_text()
                                      + f"  - name: empty\n    repo: {empty.name}\n")
    result = collect(store_for, servicesfile.load(str(tmp_path / "s2.yaml")), versions=2)
    rows = {r.name: r for r in result.rows}
    assert [len(rows[n].cells) for n in ("api", "web", "worker")] == [2, 2, 2]
    assert rows["empty"].error == f"{empty.name} has no version tags"
    with pytest.raises(InputError):
        collect(store_for, services, versions=0)


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.scripts, self.text, self.external = [], 0, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a":
            self.links.append(a.get("href"))
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if tag in ("link", "img", "script") and a.get(key):
                self.external.append(a[key])

    def handle_data(self, data):
        self.text.append(data)


def test_the_page_escapes_text_and_links_only_http_urls(setup):
    tmp_path, store_for, services = setup
    repo = parse_repo(f"ocidir://{tmp_path / 'api'}")
    store = store_for(repo)
    ref = push_image(store, repo, "api", "9.0.0", 9, NOW - timedelta(hours=1))
    annotate.provenance(store=store, ref=ref, now=NOW - timedelta(hours=1), by="javascript:alert(1)")
    annotate.mark(store=store, ref=ref, now=NOW, by="<script>alert('x')</script>", suite="unit", result="passed")
    annotate.verdict(store=store, ref=ref, now=NOW, by="https://j.example.com/job/x/1/?a=1&b=\"2\"", reject=True,
                     reason="no")
    out = tmp_path / "board.html"
    board.publish(collect(store_for, services), str(out), title="Board <of> & things")
    html = out.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "<title>Board &lt;of&gt; &amp; things</title>" in html
    page = Collect()
    page.feed(html)
    assert page.scripts == 0 and page.external == []
    assert "javascript:alert(1)" not in page.links
    assert 'https://j.example.com/job/x/1/?a=1&b="2"' in page.links
    assert all(link.startswith("https://") for link in page.links)


def test_a_large_board_is_written_as_it_renders_and_a_failed_one_leaves_the_old_page(setup):
    """500 services are megabytes of HTML: the page goes to the file as it renders instead of
    being held whole, joined and encoded. A page that fails to render replaces nothing."""
    import dataclasses
    import tracemalloc

    tmp_path, store_for, services = setup
    result = collect(store_for, services)
    big = dataclasses.replace(result, rows=[dataclasses.replace(row, name=f"{row.name}-{i}")
                                            for i in range(400) for row in result.rows])
    out = tmp_path / "board.html"
    tracemalloc.start()
    try:
        board.publish(big, str(out))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    page = out.read_bytes()
    assert page.count(b"api-399") >= 1 and len(page) > 3_000_000
    assert peak < len(page) / 2    # a page rendered whole needs several times its size

    broken = dataclasses.replace(big, rows=big.rows + [None])
    with pytest.raises(InputError, match="board.html.j2"):
        board.publish(broken, str(out))
    assert out.read_bytes() == page
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")) == []
