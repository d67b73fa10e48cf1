"""The registry client's HTTP layer (transport.Http over urllib3): which proxy a URL takes,
`Link` headers, redirects and the Authorization header, proxy credentials, and that the
registry path never imports requests."""

import base64
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3

import servers
from forwardproxy import ForwardProxy
from shipmark.core.ref import parse
from shipmark.stores.registry import RegistryStore
from shipmark.stores.registry.tls import TLSConfig
from shipmark.stores.registry.transport import Answer, Http, Proxies, RedirectRefused, allowed_url

# -- which proxy --------------------------------------------------------------------------------

def test_proxy_by_scheme_with_no_proxy_names_ports_and_networks(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    no_proxy_env.setenv("HTTP_PROXY", "proxy.test:8080")       # no scheme: http:// is meant
    no_proxy_env.setenv("NO_PROXY", "internal.test, reg.test:5000,10.0.0.0/8,fd00::/8")
    proxies = Proxies()
    assert proxies.for_url("https://registry.test/v2/") == "http://proxy.test:3128"
    assert proxies.for_url("http://registry.test/v2/") == "http://proxy.test:8080"
    assert proxies.for_url("https://a.internal.test/v2/") is None    # a domain suffix
    assert proxies.for_url("https://reg.test:5000/v2/") is None      # host:port
    assert proxies.for_url("https://reg.test:5001/v2/") == "http://proxy.test:3128"
    assert proxies.for_url("https://10.1.2.3:5000/v2/") is None      # in a network
    assert proxies.for_url("https://11.1.2.3/v2/") == "http://proxy.test:3128"
    assert proxies.for_url("https://[fd00::1]:5000/v2/") is None


def test_all_proxy_and_no_proxy_star(no_proxy_env):
    no_proxy_env.setenv("ALL_PROXY", "http://proxy.test:3128")
    assert Proxies().for_url("https://registry.test/v2/") == "http://proxy.test:3128"
    no_proxy_env.setenv("NO_PROXY", "*")
    assert Proxies().for_url("https://registry.test/v2/") is None


def test_no_proxy_variables_means_direct(no_proxy_env):
    assert Proxies().for_url("https://registry.test/v2/") is None


def test_proxy_credentials_go_to_the_proxy_only(no_proxy_env, registry2):
    with ForwardProxy() as proxy:
        with_creds = proxy.url.replace("http://", "http://builder:p%40ss@")
        no_proxy_env.setenv("HTTP_PROXY", with_creds)
        no_proxy_env.setenv("HTTPS_PROXY", with_creds)
        store = RegistryStore()
        repo = parse(f"{registry2.host}/proxied", default_tag=None)
        servers.push_image(store, repo, "v1", seed="proxy-creds")
        assert store.list_tags(repo) == ["v1"]
        store.close()
    expected = "Basic " + base64.b64encode(b"builder:p@ss").decode()
    assert proxy.proxy_auth and set(proxy.proxy_auth) == {expected}


# -- Link headers --------------------------------------------------------------------------------

@pytest.mark.parametrize("links,expected", [
    ([], None),
    (['</v2/a/tags/list?n=2&last=b>; rel="next"'], "/v2/a/tags/list?n=2&last=b"),
    (['<https://r.test/x>; rel="prev", </next>; rel=next'], "/next"),
    (['<https://r.test/x>; rel="prev"', '</two>; rel="next nofollow"'], "/two"),
    (['</x>; title="next"'], None),
    (['garbage; rel="next"'], None),
])
def test_next_link(links, expected):
    headers = urllib3.HTTPHeaderDict()
    for value in links:
        headers.add("Link", value)
    raw = urllib3.HTTPResponse(body=b"", headers=headers, status=200)
    assert Answer(raw, "http://127.0.0.1/v2/", "GET").next_link() == expected


# -- redirects -----------------------------------------------------------------------------------

class Hop(BaseHTTPRequestHandler):
    """Answers `GET /go?to=URL` with a 307 to URL and anything else with 200, recording the
    Authorization header each request carried."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/go?to="):
            self.send_response(307)
            self.send_header("Location", self.path[len("/go?to="):])
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def hop_servers():
    started = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Hop)
        server.seen = []
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        started.append(server)
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def _get(url: str, **kw) -> Answer:
    http = Http(lambda u: allowed_url(u, ()))
    try:
        answer = http.request("GET", url, tls=TLSConfig(), timeout=(5, 5), **kw)
        answer.close()
        return answer
    finally:
        http.close()


def test_a_redirect_keeps_authorization_on_its_origin_and_drops_it_elsewhere(hop_servers):
    here, other = hop_servers
    base = f"http://127.0.0.1:{here.server_port}"
    answer = _get(f"{base}/go?to=/landed", headers={"Authorization": "Bearer secret"})
    assert answer.status_code == 200 and answer.url == f"{base}/landed"
    assert here.seen == [("/go?to=/landed", "Bearer secret"), ("/landed", "Bearer secret")]

    elsewhere = f"http://127.0.0.1:{other.server_port}/blob"
    answer = _get(f"{base}/go?to={elsewhere}", headers={"Authorization": "Bearer secret"})
    assert answer.status_code == 200 and answer.url == elsewhere
    assert other.seen == [("/blob", None)]


def test_a_redirect_is_not_followed_when_told_not_to(hop_servers):
    here, _ = hop_servers
    answer = _get(f"http://127.0.0.1:{here.server_port}/go?to=/landed", follow_redirects=False)
    assert answer.status_code == 307 and len(here.seen) == 1


def test_a_redirect_to_plain_http_off_loopback_is_refused_before_it_is_sent(hop_servers):
    here, _ = hop_servers
    with pytest.raises(RedirectRefused) as refused:
        _get(f"http://127.0.0.1:{here.server_port}/go?to=http://u:pw@registry.test/x")
    assert refused.value.target == "http://***@registry.test/x"


# -- start-up --------------------------------------------------------------------------------------

def test_the_registry_path_does_not_import_requests(registry2):
    code = ("import sys\n"
            "from shipmark.core.ref import parse\n"
            "from shipmark.stores.registry import RegistryStore\n"
            "store = RegistryStore()\n"
            f"store.referrers(parse('{registry2.host}/app', default_tag=None), 'sha256:' + 'a' * 64)\n"
            "print('requests' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
