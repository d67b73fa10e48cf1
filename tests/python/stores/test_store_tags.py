"""Tag listing on every store: more than one page, Link following, internal tags."""

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from shipmark.stores.discovery import Discovery, index_tag, is_internal_tag, record_tag

from faultproxy import FaultProxy
from servers import build_record, push_image

MANY = 1005  # more than the 1,000 tags a page holds on many registries


def _tag_many(store, repo, manifest, tags, workers=16):
    def put(tag):
        store.put_manifest(repo.with_tag(tag), manifest)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(put, tags))


def _populate(case):
    """MANY tags cheaply: one small manifest PUT under many tags."""
    image = push_image(case.store, case.repo, "base", seed="many")
    tags = [f"1.0.{i}-b{i}" for i in range(MANY)]
    _tag_many(case.store, case.repo, image.manifest, tags)
    return sorted(tags + ["base"])


def test_list_tags_returns_every_tag_past_one_page(store):
    expected = _populate(store)
    got = store.store.list_tags(store.repo)
    assert sorted(got) == expected
    assert len(got) == len(set(got)) == MANY + 1


def test_list_tags_follows_pages_of_any_size(registry_store):
    """The referrers registries honour n and last= and send a Link to the next page, as the
    spec says. Registry 2.8 ignores n and sends every tag in one answer, without a Link: the
    client takes it as complete. Either way every tag arrives exactly once."""
    expected = _populate(registry_store)
    with FaultProxy(registry_store.server.host) as proxy:
        client, repo = registry_store.through(proxy)
        client.tag_page_size = 100
        got = client.list_tags(repo)
        pages = proxy.requests(method="GET", path=r"/tags/list")
    assert sorted(got) == expected and len(got) == len(expected)
    assert all(re.search(r"[?&]n=100\b", p.path) for p in pages)
    if registry_store.kind != "registry2":   # go-containerregistry's registry pages tags
        assert len(pages) == 11              # 1006 tags in pages of 100
        assert all("last=" in p.path for p in pages[1:])
        first = f"{registry_store.server.url}/v2/{repo.repository}/tags/list?n=100"
        with urllib.request.urlopen(first) as resp:
            assert resp.headers["Link"] == (f'</v2/{repo.repository}/tags/list?last={expected[99]}'
                                            f'&n=100>; rel="next"')
    else:
        assert len(pages) == 1               # Registry 2.8.2 has no tag pagination


def test_default_page_size_is_large(registry_store):
    push_image(registry_store.store, registry_store.repo, "v1", seed="pagesize")
    with FaultProxy(registry_store.server.host) as proxy:
        client, repo = registry_store.through(proxy)
        assert client.list_tags(repo) == ["v1"]
        (page,) = proxy.requests(method="GET", path=r"/tags/list")
    assert "n=1000" in page.path


def test_internal_tags_are_recognised(store):
    image = push_image(store.store, store.repo, "1.2.3", seed="internal")
    record, blobs = build_record(image.descriptor, 1)
    Discovery(store.store, store.repo).attach(image.descriptor, record, blobs)
    tags = store.store.list_tags(store.repo)
    visible = [t for t in tags if not is_internal_tag(t)]
    assert visible == ["1.2.3"]
    hidden = sorted(t for t in tags if is_internal_tag(t))
    own = record_tag(image.digest, record.digest)
    if store.native_referrers:
        assert hidden == [own]               # the registry keeps the listing: no index
    else:
        assert hidden == sorted([index_tag(image.digest), own])
    assert all(len(t) <= 128 for t in hidden)


def test_list_tags_of_unknown_repository_is_not_found(registry_store):
    from shipmark.errors import NotFoundError
    with pytest.raises(NotFoundError) as err:
        registry_store.store.list_tags(registry_store.repo)
    assert registry_store.repo.repository in err.value.message


def test_list_tags_follows_link_headers(tmp_path):
    """A registry that paginates with Link (distribution 3, Harbor, ...): a stub on loopback
    serves pages of 3 with relative and absolute next links."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import json
    import threading
    from urllib.parse import parse_qs, urlsplit

    from shipmark.core.ref import parse
    from shipmark.stores import open_store

    tags = [f"t{i:02d}" for i in range(10)]
    seen = []

    class Pages(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlsplit(self.path)
            seen.append(self.path)
            query = parse_qs(url.query)
            if int(query.get("n", ["3"])[0]) > 3:   # a registry that refuses pages it cannot give
                body = b'{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]}'
                self.send_response(400)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            last = query.get("last", [""])[0]
            rest = [t for t in tags if t > last][:3]
            body = json.dumps({"name": "app", "tags": rest}).encode()
            self.send_response(200)
            if rest and rest[-1] != tags[-1]:
                nxt = f"/v2/app/tags/list?last={rest[-1]}&n=3"
                if len(seen) % 2:             # absolute and relative links both occur
                    nxt = f"http://{self.headers['Host']}{nxt}"
                self.send_header("Link", f'<{nxt}>; rel="next"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        repo = parse(f"127.0.0.1:{server.server_address[1]}/app", default_tag=None)
        client = open_store(repo)
        client.tag_page_size = 3
        assert client.list_tags(repo) == tags
        client.close()
        assert len(seen) == 4 and seen[0] == "/v2/app/tags/list?n=3"
        assert seen[1:] == [f"/v2/app/tags/list?last={t}&n=3" for t in ("t02", "t05", "t08")]

        seen.clear()   # shipmark's own page size is more than this registry gives: it asks for its own
        client = open_store(repo)
        assert client.list_tags(repo) == tags
        client.close()
        assert seen[:2] == [f"/v2/app/tags/list?n={client.tag_page_size}", "/v2/app/tags/list"]
        assert seen[2:] == [f"/v2/app/tags/list?last={t}&n=3" for t in ("t02", "t05", "t08")]
    finally:
        server.shutdown()
        server.server_close()
