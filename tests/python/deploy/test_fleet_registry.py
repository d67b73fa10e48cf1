"""A nightly plan over 20 services on Docker Registry 2.8, through a counting proxy: one pool of
workers per command and a connection pool of the same size, so connections are opened once and
reused, never opened beyond it, dropped and opened again."""

import logging
import sys
import uuid
from pathlib import Path

import pytest
from faultproxy import FaultProxy

sys.path.insert(0, str(Path(__file__).parent))
from fleet import FAILING, build_tag, push_fleet, write_services  # noqa: E402

from shipmark.stores import POOL_SIZE  # noqa: E402

SERVICES, TAGS = 20, 6
WALKED = FAILING + 1   # images each service's walk reads


@pytest.fixture(scope="module")
def fleet(registry2):
    prefix = f"fleet-{uuid.uuid4().hex[:8]}"
    return prefix, push_fleet(registry2.host, prefix, SERVICES, TAGS)


def test_a_plan_over_20_services_opens_at_most_16_connections(registry2, fleet, cli, tmp_path, monkeypatch, caplog):
    prefix, names = fleet
    with FaultProxy(registry2.host) as proxy:
        services = write_services(tmp_path / "services.yaml", proxy.host, prefix, names)
        monkeypatch.setenv("SHIPMARK_CACHE_DIR", str(tmp_path / "cache"))
        with caplog.at_level(logging.WARNING, logger="urllib3"):
            cold = cli("plan", "--services", services, "--json")
        assert cold.code == 0, cold.err
        assert {s["tag"] for s in cold.json["services"]} == {build_tag(TAGS - FAILING)}
        cold_requests, cold_connections = len(proxy.requests()), proxy.connections
        cold_used = proxy.connections_used()

        proxy.reset_log()
        warm = cli("plan", "--services", services, "--json")
        assert warm.code == 0 and warm.json == cold.json
        warm_requests, warm_connections = len(proxy.requests()), proxy.connections - cold_connections

    # Per service, cold: the tag list, a HEAD per image walked, and its index, which carries
    # copies of the record manifests, each carrying its payload; warm: the tag list and the
    # HEAD that checks the pick.
    assert cold_requests == SERVICES * (1 + WALKED + WALKED)
    assert warm_requests == SERVICES * 2
    # Connections that carried requests stay within the pool; the one more accepted is the TLS
    # probe that finds out this loopback registry speaks plain HTTP (none on an HTTPS registry).
    assert cold_used <= POOL_SIZE and cold_connections <= POOL_SIZE + 1
    assert warm_connections <= POOL_SIZE + 1
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
